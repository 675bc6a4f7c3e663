/**
 * reconcileRollouts' wiring: with FERRY_ALERTS_SLACK_WEBHOOK_URL the drift alert (issue #20) is
 * posted (Block Kit, over real HTTP) to that webhook; without it there is no alert; a URL that is not
 * a Slack webhook stops the function at start with CONFIG_INVALID, never echoing the URL (a secret).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FerryError } from '../../../shared/domain/errors.ts';
import { driftMessage } from '../../../shared/domain/chat-drift.ts';

const received: Array<{ path: string; body: unknown }> = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push({ path: req.url ?? '', body: JSON.parse(body) });
    // A webhook whose channel was deleted: 404 channel_not_found (docs/UPSTREAM.md L3).
    if (req.url?.includes('/gone/')) res.statusCode = 404;
    res.end(res.statusCode === 404 ? 'channel_not_found' : 'ok');
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
after(() => server.close());

const ENV = { GOOGLE_CLOUD_PROJECT: 'demo-ferry', FERRY_MODEL_BUCKETS: 'models', FERRY_TEARDOWN_CLUSTERS: 'off', FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL: '1' };
async function wiringWith(env: Record<string, string | undefined>) {
  const { reconcileDeps } = await import('../../../shared/composition/functions.ts');
  const { parseConfig, Settings } = await import('../../../shared/config.ts');
  const { memoryLogger } = await import('../../../shared/adapters/logging.ts');
  return reconcileDeps(parseConfig(Settings, { ...ENV, ...env }), memoryLogger());
}

test('with an alerts webhook: the drift alert is posted there as Block Kit', async () => {
  const d = await wiringWith({ FERRY_ALERTS_SLACK_WEBHOOK_URL: `http://127.0.0.1:${port}/services/T1/B2/secret` });
  assert.ok(d.alert, 'alert is wired');
  await d.alert(
    driftMessage({ model: 'llama', version: 'v1', targets: ['gke/serving/llama'], why: 'overwritten', changed: ['a.safetensors'], added: [], removed: [] }),
  );
  assert.equal(received.length, 1);
  assert.equal(received[0]!.path, '/services/T1/B2/secret');
  assert.match((received[0]!.body as { text: string }).text, /CONTENT_CHANGED/);
});

test('without one: no alert', async () => {
  const d = await wiringWith({ FERRY_ALERTS_SLACK_WEBHOOK_URL: undefined });
  assert.equal(d.alert, undefined);
});

test("an alerts webhook that is not Slack's is refused at start, without echoing it", async () => {
  await assert.rejects(
    wiringWith({ FERRY_ALERTS_SLACK_WEBHOOK_URL: 'https://evil.example.com/services/x', FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL: '0' }),
    (e: unknown) => {
      assert.ok(e instanceof FerryError && e.code === 'CONFIG_INVALID');
      assert.match(e.message, /FERRY_ALERTS_SLACK_WEBHOOK_URL \(value hidden\)/);
      assert.ok(!e.message.includes('evil.example.com'));
      return true;
    },
  );
});

test('a webhook whose channel is gone: CHAT_URL_EXPIRED naming the setting, not a response_url', async () => {
  const d = await wiringWith({ FERRY_ALERTS_SLACK_WEBHOOK_URL: `http://127.0.0.1:${port}/services/T1/gone/secret` });
  await assert.rejects(
    d.alert!(driftMessage({ model: 'llama', version: 'v1', targets: [], why: 'x', changed: ['a'], added: [], removed: [] })),
    (e: unknown) => {
      assert.ok(e instanceof FerryError && e.code === 'CHAT_URL_EXPIRED');
      assert.match(e.message, /incoming webhook in FERRY_ALERTS_SLACK_WEBHOOK_URL/);
      assert.ok(!e.message.includes('secret'), 'the URL is not echoed');
      return true;
    },
  );
});

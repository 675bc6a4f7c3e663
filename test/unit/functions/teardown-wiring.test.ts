/**
 * teardownIdle's wiring: with FERRY_TEARDOWN_SLACK_WEBHOOK_URL the summary of a run is posted (Block
 * Kit, over real HTTP) to that webhook; without it there is no summary; a URL that is not a Slack
 * webhook stops the function at start with CONFIG_INVALID, and never echoes the URL (it is a secret).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FerryError } from '../../../shared/domain/errors.ts';
import type { TeardownRun } from '../../../shared/domain/teardown-run.ts';
import { DEFAULT_TEARDOWN_POLICY } from '../../../shared/domain/teardown-inventory.ts';

const received: Array<{ path: string; body: unknown }> = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push({ path: req.url ?? '', body: JSON.parse(body) });
    res.end('ok');
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
after(() => server.close());

const ENV = { GOOGLE_CLOUD_PROJECT: 'demo-ferry', FERRY_TEARDOWN_CLUSTERS: 'off', FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL: '1' };
async function wiringWith(env: Record<string, string | undefined>) {
  const { teardownDeps } = await import('../../../shared/composition/functions.ts');
  const { parseConfig, Settings } = await import('../../../shared/config.ts');
  const { memoryLogger } = await import('../../../shared/adapters/logging.ts');
  return teardownDeps(parseConfig(Settings, { ...ENV, ...env }), memoryLogger());
}

const run: TeardownRun = {
  schemaVersion: 1,
  id: '20261121-120000-abc123',
  trigger: 'schedule',
  startedAt: '2026-11-21T12:00:00.000Z',
  finishedAt: '2026-11-21T12:00:01.000Z',
  dryRun: false,
  plan: { at: '2026-11-21T12:00:00.000Z', dryRun: false, policy: DEFAULT_TEARDOWN_POLICY, actions: [], skipped: [] },
  results: [
    {
      action: { kind: 'disable-cache', bucket: 'models', zone: 'us-central1-a' },
      outcome: 'done',
      reason: 'IDLE_CACHE',
      message: 'cache gs://models in us-central1-a idle 3d (TTL 6h): disable',
      operations: [],
      at: '2026-11-21T12:00:01.000Z',
    },
  ],
  inventoryWarnings: [],
  summary: { planned: 1, done: 1, started: 0, skipped: 0, failed: 0 },
};

test('with a webhook: the run summary is posted there as Block Kit', async () => {
  const { deps } = await wiringWith({ FERRY_TEARDOWN_SLACK_WEBHOOK_URL: `http://127.0.0.1:${port}/services/T1/B1/secret` });
  assert.ok(deps.notify, 'notify is wired');
  await deps.notify(run);
  assert.equal(received.length, 1);
  assert.equal(received[0]!.path, '/services/T1/B1/secret');
  const body = received[0]!.body as { text: string; blocks: unknown[] };
  assert.match(body.text, /^Teardown: 1 done/);
  assert.ok(JSON.stringify(body.blocks).includes('cache gs://models in us-central1-a idle 3d'));
});

test('without one: no summary', async () => {
  const { deps } = await wiringWith({ FERRY_TEARDOWN_SLACK_WEBHOOK_URL: undefined });
  assert.equal(deps.notify, undefined);
});

test("a webhook that is not Slack's is refused at start, without echoing it", async () => {
  await assert.rejects(
    wiringWith({ FERRY_TEARDOWN_SLACK_WEBHOOK_URL: 'https://evil.example.com/services/x', FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL: '0' }),
    (e: unknown) => {
      assert.ok(e instanceof FerryError && e.code === 'CONFIG_INVALID');
      assert.match(e.message, /FERRY_TEARDOWN_SLACK_WEBHOOK_URL \(value hidden\)/);
      assert.ok(!e.message.includes('evil.example.com'));
      return true;
    },
  );
  await assert.rejects(
    wiringWith({ FERRY_TEARDOWN_SLACK_WEBHOOK_URL: 'not a url' }),
    (e: unknown) => e instanceof FerryError && e.code === 'CONFIG_INVALID' && !e.message.includes('not a url'),
  );
});

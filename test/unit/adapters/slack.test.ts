/** The Slack Chat adapter against a real loopback HTTP server standing in for response_url. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SlackResponseUrlChat, safeHost } from '../../../shared/adapters/slack.ts';
import { FerryError } from '../../../shared/domain/errors.ts';

type Reply = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const seen: Array<{ path: string; body: string; contentType: string | undefined }> = [];
let reply: Reply = (_q, res) => res.end('ok');
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    seen.push({ path: req.url ?? '', body, contentType: req.headers['content-type'] });
    reply(req, res, body);
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => server.close());

const chat = (over: Partial<ConstructorParameters<typeof SlackResponseUrlChat>[0]> = {}) =>
  new SlackResponseUrlChat({ allowLocal: true, retryDelayMs: 1, ...over });
const message = {
  response_type: 'ephemeral' as const,
  text: 'hello',
  blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: 'hello' } }],
};

test('posts the message as JSON to the response_url', async () => {
  seen.length = 0;
  reply = (_q, res) => res.end('ok');
  await chat().respond(`${base}/commands/T1/2/abc`, message);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.path, '/commands/T1/2/abc');
  assert.match(seen[0]!.contentType ?? '', /^application\/json/);
  assert.deepEqual(JSON.parse(seen[0]!.body), message);
});

test('never posts to a host that is not Slack (or loopback with the local flag)', async () => {
  seen.length = 0;
  await assert.rejects(chat({ allowLocal: false }).respond(`${base}/x`, message), (e: unknown) => e instanceof FerryError && e.code === 'CHAT_URL_REFUSED');
  await assert.rejects(chat().respond('https://evil.example/hook', message), (e: unknown) => e instanceof FerryError && e.code === 'CHAT_URL_REFUSED');
  assert.equal(seen.length, 0, 'nothing was sent');
});

test('a 5xx or a timeout is not retried (Slack may have posted it already), and is given up as retryable', async () => {
  seen.length = 0;
  reply = (_q, res) => {
    res.statusCode = 500;
    res.end('boom');
  };
  await assert.rejects(chat().respond(`${base}/r`, message), (e: unknown) => e instanceof FerryError && e.code === 'CHAT_POST_FAILED' && e.retryable);
  assert.equal(seen.length, 1, 'one attempt');
  seen.length = 0;
  reply = () => undefined; // never answers
  await assert.rejects(chat({ timeoutMs: 200 }).respond(`${base}/r`, message), (e: unknown) => e instanceof FerryError && e.code === 'CHAT_POST_FAILED');
  assert.equal(seen.length, 1, 'one attempt');
});

test('a 429 or a refused connection (Slack certainly did not take it) is retried once', async () => {
  seen.length = 0;
  let n = 0;
  reply = (_q, res) => {
    res.statusCode = n++ === 0 ? 429 : 200;
    res.setHeader('retry-after', '0');
    res.end(res.statusCode === 200 ? 'ok' : 'rate_limited');
  };
  await chat().respond(`${base}/r`, message);
  assert.equal(seen.length, 2);
  // A port nobody listens on: ECONNREFUSED both times, two attempts, then a retryable error.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  let attempts = 0;
  const counting: typeof fetch = (input, init) => {
    attempts++;
    return fetch(input, init);
  };
  await assert.rejects(
    chat({ fetch: counting }).respond(`http://127.0.0.1:${port}/r`, message),
    (e: unknown) => e instanceof FerryError && e.code === 'CHAT_POST_FAILED' && e.retryable && /ECONNREFUSED/.test(e.message),
  );
  assert.equal(attempts, 2);
});

test('an expired response_url (404) or a refused message (400) is not retried', async () => {
  seen.length = 0;
  reply = (_q, res) => {
    res.statusCode = 404;
    res.end('expired_url');
  };
  await assert.rejects(chat().respond(`${base}/r`, message), (e: unknown) => e instanceof FerryError && e.code === 'CHAT_URL_EXPIRED' && !e.retryable);
  reply = (_q, res) => {
    res.statusCode = 400;
    res.end('invalid_blocks');
  };
  await assert.rejects(
    chat().respond(`${base}/r`, message),
    (e: unknown) => e instanceof FerryError && e.code === 'CHAT_POST_REJECTED' && /invalid_blocks/.test(e.message),
  );
  assert.equal(seen.length, 2);
});

test('redirects are not followed (a redirect could point anywhere)', async () => {
  seen.length = 0;
  reply = (_q, res) => {
    res.statusCode = 302;
    res.setHeader('location', 'https://evil.example/');
    res.end();
  };
  await assert.rejects(chat({ maxAttempts: 1 }).respond(`${base}/r`, message), (e: unknown) => e instanceof FerryError && e.code === 'CHAT_POST_FAILED');
  assert.equal(seen.length, 1);
});

test('logs see the host only: a response_url is a credential for 30 minutes', () => {
  assert.equal(safeHost('https://hooks.slack.com/commands/T1/2/secret'), 'https://hooks.slack.com/…');
});

/**
 * The body cap and the answers to unreadable bodies, through functions-framework's real server
 * (getTestServer builds it with the same getServer the framework's main uses) on a loopback port.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

process.env['GOOGLE_CLOUD_PROJECT'] ??= 'ferry-unit-test';
process.env['FERRY_SLACK_SIGNING_SECRET'] ??= 'a-local-signing-secret-of-32-chars';
process.env['FERRY_LOG_LEVEL'] ??= 'error';

const { getTestServer } = await import('@google-cloud/functions-framework/testing');
await import('../../../functions/index.ts');
const { HTTP_BODY_CAP_BYTES, EVENT_BODY_CAP_BYTES } = await import('../../../functions/http-guard.ts');

const servers: Server[] = [];
const urls: Record<string, string> = {};
before(async () => {
  for (const fn of ['slackCommand', 'onDeployRequest', 'onCheckpointUpload']) {
    const srv = getTestServer(fn) as Server;
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    servers.push(srv);
    urls[fn] = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
  }
});
after(() => servers.forEach((s) => s.close()));

interface Answer {
  status: number;
  body: string;
  type: string | undefined;
}
function send(url: string, body: string | Buffer, headers: Record<string, string | number>, opts: { chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h = opts.chunked ? headers : { ...headers, 'content-length': Buffer.byteLength(body) };
    const req = request(url, { method: 'POST', headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), type: res.headers['content-type'] }));
    });
    // The server may answer and close before the whole body is sent: that is the point.
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.end(body);
  });
}

const noLeak = (a: Answer) => {
  assert.doesNotMatch(a.body, /SyntaxError|\/work\/|node_modules|at [A-Za-z.]+ \(/, `no stack or path in ${JSON.stringify(a.body)}`);
};

test('Slack: an oversized body is a bare 413, refused from its Content-Length before it is read', async () => {
  const a = await send(urls['slackCommand']!, Buffer.alloc(HTTP_BODY_CAP_BYTES + 1, 'a'), { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(a.status, 413);
  assert.equal(a.body, '');
});

test('Slack: a truncated JSON body (no signature) is a bare 401, never an HTML page with a stack', async () => {
  const a = await send(urls['slackCommand']!, '{"token": "abc', { 'content-type': 'application/json' });
  assert.equal(a.status, 401);
  assert.equal(a.body, '');
});

test('Slack: an oversized chunked body (no Content-Length) is cut at the cap: a bare 413', async () => {
  const a = await send(
    urls['slackCommand']!,
    Buffer.alloc(HTTP_BODY_CAP_BYTES * 2, 'a'),
    { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
    { chunked: true },
  );
  assert.equal(a.status, 413);
  assert.equal(a.body, '');
});

test('Pub/Sub push: a non-JSON body is acked (200) with a JSON error naming BODY_MALFORMED, so it is not redelivered', async () => {
  for (const type of ['application/json', 'application/cloudevents+json']) {
    const a = await send(urls['onDeployRequest']!, '{"message": {"data": "e30=",', { 'content-type': type });
    assert.equal(a.status, 200, type);
    assert.match(a.type ?? '', /application\/json/);
    assert.equal((JSON.parse(a.body) as { error: { code: string } }).error.code, 'BODY_MALFORMED');
    noLeak(a);
  }
});

test('Eventarc: an oversized delivery is acked with BODY_TOO_LARGE before it is read', async () => {
  const a = await send(urls['onCheckpointUpload']!, Buffer.alloc(EVENT_BODY_CAP_BYTES + 10, ' '), { 'content-type': 'application/json' });
  assert.equal(a.status, 200);
  assert.equal((JSON.parse(a.body) as { error: { code: string } }).error.code, 'BODY_TOO_LARGE');
});

test('Eventarc: a well-formed JSON event that is not a storage event still reaches the handler and is acked there', async () => {
  const a = await send(urls['onCheckpointUpload']!, JSON.stringify({ hello: 'world' }), {
    'content-type': 'application/json',
    'ce-id': 'e1',
    'ce-specversion': '1.0',
    'ce-type': 'google.cloud.storage.object.v1.finalized',
    'ce-source': '//storage.googleapis.com/projects/_/buckets/b',
  });
  assert.ok(a.status >= 200 && a.status < 300, `status ${a.status}`);
  noLeak(a);
});

test('Pub/Sub push and Eventarc: a body sent as text or octets (not JSON) is acked with BODY_MALFORMED, not a 500', async () => {
  // Found by `npm run soak -- hostile-pushes`: text/plain made body-parser's text parser hand a string
  // to functions-framework's event middleware, which threw (`'context' in <string>`) → 500, which
  // Pub/Sub and Eventarc treat as a nack and redeliver until the message expires.
  const push = JSON.stringify({ message: { data: 'e30=', messageId: 'm1' }, subscription: 's' });
  const ce = {
    'ce-id': 'e2',
    'ce-specversion': '1.0',
    'ce-type': 'google.cloud.storage.object.v1.finalized',
    'ce-source': '//storage.googleapis.com/projects/_/buckets/b',
  };
  const cases: Array<[string, Record<string, string>]> = [
    [urls['onDeployRequest']!, { 'content-type': 'text/plain' }],
    [urls['onDeployRequest']!, { 'content-type': 'application/octet-stream' }],
    [urls['onCheckpointUpload']!, { ...ce, 'content-type': 'text/plain' }],
    [urls['onCheckpointUpload']!, { ...ce, 'content-type': 'application/octet-stream' }],
  ];
  for (const [url, headers] of cases) {
    const a = await send(url, push, headers);
    assert.equal(a.status, 200, `${url} ${headers['content-type']}: ${a.body}`);
    assert.equal((JSON.parse(a.body) as { error: { code: string } }).error.code, 'BODY_MALFORMED');
    noLeak(a);
  }
});

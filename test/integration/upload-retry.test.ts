/**
 * `ferry upload`'s writer against the real Storage emulator behind a loopback proxy that injects
 * faults: a refused request is retried; a connection reset mid-body or hung up before any answer
 * (ECONNRESET / socket hang up) is retried and the object lands once; a request whose object was
 * stored but whose response was lost (a 503, or the connection dropped) is not written twice (same
 * generation); a fault that never clears fails after the last attempt with a retryable
 * UPLOAD_FAILED. Objects go outside `models/`, so no finalize event matters.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import { storageClient } from '../../shared/adapters/gcs.ts';
import { FerryError } from '../../shared/domain/errors.ts';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';

const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'STORAGE_EMULATOR_HOST', 'FERRY_BUCKET');
const upstream = new URL(/^https?:\/\//.test(env.STORAGE_EMULATOR_HOST) ? env.STORAGE_EMULATOR_HOST : `http://${env.STORAGE_EMULATOR_HOST}`);

/**
 * What the proxy does with the next upload POSTs: 'refuse' (503, never forwarded), 'lose'
 * (forwarded, then 503), 'reset' (a TCP RST after the first chunk of the body, never forwarded),
 * 'hangup' (the whole body read, then the socket closed without an answer, never forwarded),
 * 'drop-after-store' (forwarded and stored, then the socket closed without an answer).
 */
type Fault = 'refuse' | 'lose' | 'reset' | 'hangup' | 'drop-after-store';
let faults: Fault[] = [];
let uploadPosts = 0;
/** Upload POSTs that reached the emulator: how many times an object was written. */
let forwardedUploads = 0;

function forward(req: IncomingMessage, body: Buffer, res: ServerResponse | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        if (res) {
          res.writeHead(r.statusCode ?? 502, r.headers);
          res.end(Buffer.concat(chunks));
        }
        resolve();
      });
    });
    up.on('error', reject);
    up.end(body);
  });
}

const proxy = createServer((req, res) => {
  const isUpload = req.method === 'POST' && (req.url ?? '').startsWith('/upload/');
  if (isUpload) uploadPosts++;
  const fault = isUpload ? faults.shift() : undefined;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => {
    if (fault === 'reset') {
      if (!req.socket.destroyed) req.socket.resetAndDestroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const unavailable = () => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 503, message: 'injected by the test proxy' } }));
    };
    if (fault === 'refuse') return unavailable();
    if (fault === 'hangup') return req.socket.destroy();
    if (isUpload) forwardedUploads++;
    if (fault === 'lose') {
      forward(req, body, null).then(unavailable, () => unavailable());
      return;
    }
    if (fault === 'drop-after-store') {
      forward(req, body, null).then(
        () => req.socket.destroy(),
        () => req.socket.destroy(),
      );
      return;
    }
    forward(req, body, res).catch(() => {
      res.writeHead(502);
      res.end();
    });
  });
});
await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
const viaProxy = storageClient({ emulatorHost: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, projectId: env.GOOGLE_CLOUD_PROJECT });
const direct = storageClient({ emulatorHost: env.STORAGE_EMULATOR_HOST, projectId: env.GOOGLE_CLOUD_PROJECT }).bucket(env.FERRY_BUCKET);

const dir = mkdtempSync(join(tmpdir(), 'ferry-upload-retry-'));
const local = join(dir, 'model.safetensors');
writeFileSync(local, randomBytes(4096));
// Big enough to arrive in several chunks, so a reset lands mid-body.
const big = join(dir, 'big.safetensors');
writeFileSync(big, randomBytes(2 * 1024 * 1024));
const prefix = `upload-retry-it/${uniqueName('run')}/`;
after(() => {
  proxy.close();
  rmSync(dir, { recursive: true, force: true });
});

const uploader = gcsUploader(env.FERRY_BUCKET, viaProxy, { attempts: 3, backoffMs: () => 10 });

test('a refused upload is retried and lands once', async () => {
  faults = ['refuse'];
  uploadPosts = 0;
  const name = `${prefix}refused.safetensors`;
  const r = await uploader.upload(local, name);
  assert.equal(uploadPosts, 2, 'one refused, one that landed');
  const [m] = await direct.file(name).getMetadata();
  assert.equal(String(m.generation), r.generation);
  assert.equal(Number(m.size), 4096);
});

test('an upload stored but answered with an error is not written again: the stored generation is the result', async () => {
  faults = ['lose'];
  uploadPosts = 0;
  const name = `${prefix}lost-response.safetensors`;
  const r = await uploader.upload(local, name);
  assert.equal(uploadPosts, 1, 'found stored, not sent again');
  const [m] = await direct.file(name).getMetadata();
  assert.equal(String(m.generation), r.generation, 'the generation that first attempt wrote');
});

for (const fault of ['reset', 'hangup'] as const) {
  test(`a connection dropped before any answer (${fault === 'reset' ? 'reset mid-body: ECONNRESET' : 'hung up: socket hang up'}) is retried and lands once`, async () => {
    faults = [fault];
    uploadPosts = 0;
    forwardedUploads = 0;
    const name = `${prefix}${fault}.safetensors`;
    const sent: number[] = [];
    const r = await uploader.upload(big, name, { onProgress: (n) => sent.push(n) });
    assert.equal(uploadPosts, 2, 'the dropped attempt and a second one');
    assert.equal(forwardedUploads, 1, 'written once');
    const [m] = await direct.file(name).getMetadata();
    assert.equal(String(m.generation), r.generation);
    assert.equal(Number(m.size), 2 * 1024 * 1024);
    assert.equal(sent.filter((n) => n === 0).length, 2, 'progress starts again at 0 for the retry');
    assert.equal(sent.at(-1), 2 * 1024 * 1024);
  });
}

test('an upload stored but whose connection dropped before the answer is not written again', async () => {
  faults = ['drop-after-store'];
  uploadPosts = 0;
  forwardedUploads = 0;
  const name = `${prefix}dropped-after-store.safetensors`;
  const r = await uploader.upload(big, name);
  assert.equal(uploadPosts, 1, 'found stored, not sent again');
  assert.equal(forwardedUploads, 1);
  const [m] = await direct.file(name).getMetadata();
  assert.equal(String(m.generation), r.generation, 'the generation that first attempt wrote');
});

test('a fault that never clears fails after the last attempt, retryable, saying what to do', async () => {
  faults = ['refuse', 'refuse', 'refuse'];
  uploadPosts = 0;
  await assert.rejects(
    uploader.upload(local, `${prefix}never.safetensors`),
    (e: unknown) => e instanceof FerryError && e.code === 'UPLOAD_FAILED' && e.retryable && /ferry upload/.test(e.hint ?? ''),
  );
  assert.equal(uploadPosts, 3);
});

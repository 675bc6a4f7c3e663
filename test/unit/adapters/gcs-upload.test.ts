/**
 * Which upload failures are retried. A dropped connection reaches ferry as the SDK's / gaxios'
 * error with the socket's code (FetchError code ECONNRESET), or wrapped deeper in `cause`; all of
 * them are retried, as are 408/429/5xx. The second half drives the real SDK against a local
 * node:http server standing in for the GCS JSON API upload endpoint, which resets the connection
 * mid-body on the first request: a second attempt is made, and the object is written once.
 * (test/integration/upload-retry.test.ts does the same in front of the real Storage emulator.)
 */
import { crc32cBase64 } from '../../../shared/domain/crc32c.ts';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CRC32C } from '@google-cloud/storage';
import { classifyUploadFailure, gcsUploader } from '../../../shared/adapters/gcs-upload.ts';
import { storageClient } from '../../../shared/adapters/gcs.ts';
import { FerryError } from '../../../shared/domain/errors.ts';

const sys = (code: string, message = `${code.toLowerCase()} happened`) => Object.assign(new Error(message), { code });

describe('classifyUploadFailure', () => {
  it('retries a dropped connection, however deep it is wrapped', () => {
    const fetchError = Object.assign(new Error('request to http://x/upload failed, reason: '), { name: 'FetchError', code: 'ECONNRESET' });
    for (const e of [
      fetchError,
      new Error('upload failed', { cause: fetchError }),
      new Error('outer', { cause: new Error('middle', { cause: sys('EPIPE', 'write EPIPE') }) }),
      new Error('socket hang up'),
      sys('ETIMEDOUT'),
      Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }),
      new Error('fetch failed', { cause: sys('UND_ERR_SOCKET', 'other side closed') }),
      new AggregateError([sys('ECONNRESET')], 'all attempts failed'),
    ]) {
      assert.equal(classifyUploadFailure(e).retryable, true, String(e));
    }
  });

  it('retries 408, 429 and 5xx; not other 4xx', () => {
    const api = (code: number) => Object.assign(new Error(`status ${code}`), { code });
    const gaxios = (status: number) => Object.assign(new Error(`status ${status}`), { status, response: { status } });
    for (const s of [408, 429, 500, 502, 503, 504]) {
      assert.deepEqual(classifyUploadFailure(api(s)), { status: s, retryable: true });
      assert.equal(classifyUploadFailure(new Error('x', { cause: gaxios(s) })).retryable, true);
    }
    for (const s of [400, 401, 403, 404, 412]) assert.equal(classifyUploadFailure(api(s)).retryable, false, String(s));
    assert.deepEqual(classifyUploadFailure(Object.assign(new Error('x'), { code: '503' })), { status: 503, retryable: true });
  });

  it('does not retry a local error (the file being read), nor a refused connection', () => {
    assert.deepEqual(classifyUploadFailure(sys('ENOENT')), { code: 'ENOENT', retryable: false });
    assert.equal(classifyUploadFailure(new Error('x', { cause: sys('EACCES') })).retryable, false);
    assert.deepEqual(classifyUploadFailure(sys('ECONNREFUSED')), { code: 'ECONNREFUSED', retryable: false });
  });

  it('an error that says nothing about what happened is retried (as before), and cycles end', () => {
    assert.equal(classifyUploadFailure(new Error('mystery')).retryable, true);
    const a: { cause?: unknown } & Error = new Error('a');
    a.cause = a;
    assert.equal(classifyUploadFailure(a).retryable, true);
    assert.equal(classifyUploadFailure('a string').retryable, true);
  });
});

describe('gcsUploader against a local server that resets the first upload mid-body', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ferry-gcs-upload-'));
  const file = path.join(dir, 'model.safetensors');
  const bytes = randomBytes(1024 * 1024);
  writeFileSync(file, bytes);
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in for the JSON API's simple upload: reset the first `resets` uploads after their first chunk; store the rest. */
  async function server(resets: number) {
    const seen = { uploads: 0, stored: 0, lookups: 0 };
    const crc = (await CRC32C.fromFile(file)).toString();
    const meta = {
      kind: 'storage#object',
      bucket: 'b',
      name: 'models/m/v1/model.safetensors',
      generation: '1700000000000001',
      size: String(bytes.length),
      crc32c: crc,
    };
    const s = createServer((req: IncomingMessage, res) => {
      const isUpload = req.method === 'POST' && (req.url ?? '').startsWith('/upload/');
      if (isUpload) seen.uploads++;
      const reset = isUpload && seen.uploads <= resets;
      let received = 0;
      req.on('data', (c: Buffer) => {
        received += c.length;
        if (reset && req.socket.writable) req.socket.resetAndDestroy(); // a TCP RST mid-body: ECONNRESET
      });
      req.on('end', () => {
        if (isUpload && received >= bytes.length) {
          seen.stored++;
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify(meta));
        }
        // The lookup before a retry (GET …/o/<name>): nothing was stored.
        seen.lookups++;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 404, message: 'No such object' } }));
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const storage = storageClient({ emulatorHost: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, projectId: 'unit' });
    return { seen, storage, close: () => new Promise<void>((r) => s.close(() => r())) };
  }

  it('a reset connection is tried again, and the object is written once', async () => {
    const srv = await server(1);
    try {
      const progress: number[] = [];
      const r = await gcsUploader('b', srv.storage, { attempts: 3, backoffMs: () => 5 }).upload(file, 'models/m/v1/model.safetensors', {
        onProgress: (n) => progress.push(n),
      });
      assert.deepEqual(r, { size: bytes.length, generation: '1700000000000001', crc32c: crc32cBase64(bytes) }, 'with the CRC32C stored, for the manifest');
      assert.equal(srv.seen.uploads, 2, 'the reset attempt and a second one');
      assert.equal(srv.seen.stored, 1, 'written once');
      assert.equal(srv.seen.lookups, 1, 'looked up once before the retry');
      assert.equal(progress.filter((n) => n === 0).length, 2, 'each attempt starts from 0');
      assert.equal(progress.at(-1), bytes.length);
    } finally {
      await srv.close();
    }
  });

  it('a connection reset on every attempt fails after the last one, retryable, saying what to do', async () => {
    const srv = await server(99);
    try {
      await assert.rejects(gcsUploader('b', srv.storage, { attempts: 3, backoffMs: () => 5 }).upload(file, 'models/m/v1/model.safetensors'), (e: unknown) => {
        assert.ok(e instanceof FerryError);
        assert.equal(e.code, 'UPLOAD_FAILED');
        assert.equal(e.retryable, true);
        assert.match(e.hint ?? '', /ferry upload/);
        return true;
      });
      assert.equal(srv.seen.uploads, 3);
      assert.equal(srv.seen.stored, 0);
    } finally {
      await srv.close();
    }
  });
});

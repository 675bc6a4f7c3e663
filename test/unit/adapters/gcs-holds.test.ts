/**
 * The GCS adapter's setTemporaryHold drives the real SDK (File#setMetadata → JSON API objects.patch)
 * against a local node:http server standing in for the endpoint: what is sent (PATCH of
 * `temporaryHold` and the `ferry-hold` custom metadata key, with ifGenerationMatch and
 * ifMetagenerationMatch), and how each answer maps: 200 done, 412/404 conflict, 501 (the Storage
 * emulator, docs/UPSTREAM.md H4) unsupported once and never asked again, 403 HOLD_FAILED with the
 * grant to add. Without `holds: true` the store offers no setTemporaryHold at all.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gcsObjectStore, storageClient } from '../../../shared/adapters/gcs.ts';
import { FerryError } from '../../../shared/domain/errors.ts';

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('gcsObjectStore setTemporaryHold (objects.patch through the SDK)', async () => {
  const seen: Seen[] = [];
  let status = 200;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const text = await body(req);
    seen.push({
      method: req.method ?? '',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(status === 200 ? { name: 'x', metageneration: '3', temporaryHold: true } : { error: { code: status, message: `status ${status}` } }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => new Promise<void>((r) => server.close(() => r())));
  const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const store = () => gcsObjectStore('ferry-models', { storage: storageClient({ emulatorHost: host }, { maxRetries: 0 }), holds: true });
  const at = { generation: '1700000000000001', metageneration: '2' };

  it('is absent unless asked for', () => {
    assert.equal(gcsObjectStore('ferry-models', { storage: storageClient({ emulatorHost: host }) }).setTemporaryHold, undefined);
  });

  it('sends one PATCH with temporaryHold and the marker, conditional on generation and metageneration', async () => {
    status = 200;
    seen.length = 0;
    assert.equal(await store().setTemporaryHold!('models/llama/v1/config.json', { hold: true, marker: 'ro-1' }, at), 'done');
    assert.equal(seen.length, 1);
    const s = seen[0]!;
    assert.equal(s.method, 'PATCH');
    assert.equal(s.path, '/storage/v1/b/ferry-models/o/models/llama/v1/config.json');
    assert.equal(s.query.get('ifGenerationMatch'), at.generation);
    assert.equal(s.query.get('ifMetagenerationMatch'), at.metageneration);
    assert.deepEqual(s.body, { temporaryHold: true, metadata: { 'ferry-hold': 'ro-1' } });
    // A release clears the hold and removes the key (null).
    await store().setTemporaryHold!('models/llama/v1/config.json', { hold: false, marker: null }, at);
    assert.deepEqual(seen[1]!.body, { temporaryHold: false, metadata: { 'ferry-hold': null } });
  });

  it('412 and 404 are a conflict (decide again from a fresh listing)', async () => {
    for (const s of [412, 404]) {
      status = s;
      assert.equal(await store().setTemporaryHold!('o', { hold: true, marker: 'ro-1' }, at), 'conflict', String(s));
    }
  });

  it('403 is HOLD_FAILED naming the permission and the Terraform grant', async () => {
    status = 403;
    await assert.rejects(store().setTemporaryHold!('o', { hold: true, marker: 'ro-1' }, at), (e: FerryError) => {
      assert.equal(e.code, 'HOLD_FAILED');
      assert.match(e.hint ?? '', /storage\.objects\.update/);
      assert.match(e.hint ?? '', /model_object_holder/);
      return true;
    });
  });

  it('501 (the Storage emulator) is unsupported, once per client: later calls send nothing', async () => {
    status = 501;
    seen.length = 0;
    const storage = storageClient({ emulatorHost: host }, { maxRetries: 0 });
    const a = gcsObjectStore('ferry-models', { storage, holds: true });
    assert.equal(await a.setTemporaryHold!('o', { hold: true, marker: 'ro-1' }, at), 'unsupported');
    const b = gcsObjectStore('ferry-models', { storage, holds: true }); // a fresh store per use, one client
    assert.equal(await b.setTemporaryHold!('p', { hold: true, marker: 'ro-1' }, at), 'unsupported');
    assert.equal(seen.length, 1, 'asked once');
  });
});

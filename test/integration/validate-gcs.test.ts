/**
 * `validateCheckpoint` over gs:// against the Firebase Storage emulator. Needs STORAGE_EMULATOR_HOST,
 * GOOGLE_CLOUD_PROJECT and FERRY_BUCKET (set by `npm test`'s local stack); fails loudly without them.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gcsObjectStore, storageClient } from '../../shared/adapters/gcs.ts';
import { validateCheckpoint } from '../../shared/app/validate-checkpoint.ts';
import { validateCommand } from '../../shared/cli/commands/validate.ts';
import { FerryError } from '../../shared/domain/errors.ts';
import { caseFiles, materialiseCase } from '../helpers/fixtures.ts';

const env = process.env;
/** The stack's Storage emulator, as the composition root would pass it from Settings. */
const client = { emulatorHost: env['STORAGE_EMULATOR_HOST'], projectId: env['GOOGLE_CLOUD_PROJECT'] };
const missing = ['STORAGE_EMULATOR_HOST', 'GOOGLE_CLOUD_PROJECT', 'FERRY_BUCKET'].filter((k) => !env[k]);
const bucketName = env['FERRY_BUCKET'] ?? '';
const run = `validate-it/${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const KiB64 = 64 * 1024;

async function upload(prefix: string, files: Array<{ name: string; bytes: Uint8Array }>): Promise<void> {
  const bucket = storageClient(client).bucket(bucketName);
  await Promise.all(files.map((f) => bucket.file(`${prefix}${f.name}`).save(Buffer.from(f.bytes), { resumable: false, validation: false })));
}

async function uploadCase(name: string): Promise<string> {
  const c = materialiseCase(name);
  try {
    const prefix = `${run}/${name}/`;
    await upload(prefix, caseFiles(c.dir));
    return prefix;
  } finally {
    c.cleanup();
  }
}

/** A shard whose JSON header is longer than the first 64 KiB read. */
function longHeaderShard(tensors: number): { bytes: Uint8Array; headerBytes: number } {
  const entries = Array.from(
    { length: tensors },
    (_, i) => `"model.layers.${i}.a_rather_long_tensor_name_to_make_the_header_big.weight":{"dtype":"BF16","shape":[2],"data_offsets":[${i * 4},${i * 4 + 4}]}`,
  );
  const h = new TextEncoder().encode(`{"__metadata__":{"format":"pt"},${entries.join(',')}}`);
  const bytes = new Uint8Array(8 + h.length + tensors * 4);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(h.length), true);
  bytes.set(h, 8);
  return { bytes, headerBytes: h.length };
}

/** Fails the calling test (never skips) when the emulator environment is missing. */
function requireEmulator(): void {
  if (missing.length > 0) {
    assert.fail(
      `the Storage emulator is not configured: ${missing.join(', ')} unset. Run through \`npm test\` (it starts the local stack), ` +
        'or start ./node_modules/.bin/node infra/local/emulators.ts and export what it prints.',
    );
  }
}

describe('validate gs:// against the Storage emulator', () => {
  after(async () => {
    if (missing.length === 0)
      await storageClient(client)
        .bucket(bucketName)
        .deleteFiles({ prefix: `${run}/`, force: true })
        .catch(() => {});
  });

  it('accepts the sharded reference checkpoint with one listing and one read per shard', async () => {
    requireEmulator();
    const prefix = await uploadCase('llama-sharded');
    const store = gcsObjectStore(bucketName, { client });
    const r = await validateCheckpoint(store, prefix);
    assert.equal(r.ok, true, JSON.stringify(r.errors));
    assert.equal(r.location, `gs://${bucketName}/${prefix}`);
    assert.equal(r.summary.shards, 6);
    assert.equal(r.summary.tensors, 30);
    assert.equal(r.summary.parameters, 176576);
    assert.equal(r.summary.tensorBytes, 353152);
    // 1 listing + index + config + 1 per shard.
    assert.equal(r.io.requests, 1 + 2 + 6);
    const side = r.files.filter((f) => f.name === 'model.safetensors.index.json' || f.name === 'config.json');
    const shardBytes = r.io.bytesRead - side.reduce((s, f) => s + f.size, 0);
    assert.ok(shardBytes <= 6 * KiB64, `${shardBytes} bytes for 6 shards`);
    for (const f of r.files) assert.match(f.generation, /^\d+$/);
  });

  it('rejects checkpoint- and file-level faults with their codes', async () => {
    requireEmulator();
    const store = gcsObjectStore(bucketName, { client });
    const wrong = await validateCheckpoint(store, await uploadCase('index-points-wrong-shard'));
    assert.equal(wrong.ok, false);
    assert.ok(wrong.errors.some((e) => e.code === 'INDEX_WRONG_SHARD' && e.tensor !== undefined));
    const truncated = await validateCheckpoint(store, await uploadCase('truncated-header'));
    assert.equal(truncated.ok, false);
    assert.deepEqual(
      truncated.errors.map((e) => [e.code, e.file]),
      [['HEADER_BEYOND_FILE', 'model-00003-of-00006.safetensors']],
    );
    const single = await validateCheckpoint(store, await uploadCase('mistral-single'));
    assert.equal(single.ok, true);
    assert.equal(single.io.requests, 3);
  });

  it('reads a header longer than 64 KiB with exactly one more request and no tensor bytes beyond the header', async () => {
    requireEmulator();
    const prefix = `${run}/long-header/`;
    const shard = longHeaderShard(1200);
    assert.ok(8 + shard.headerBytes > KiB64);
    await upload(prefix, [
      { name: 'model.safetensors', bytes: shard.bytes },
      { name: 'config.json', bytes: new TextEncoder().encode('{"architectures":["X"],"model_type":"x"}') },
    ]);
    const r = await validateCheckpoint(gcsObjectStore(bucketName, { client }), prefix);
    assert.equal(r.ok, true, JSON.stringify(r.errors));
    assert.equal(r.summary.tensors, 1200);
    assert.equal(r.io.requests, 1 + 1 + 2);
    const config = r.files.find((f) => f.name === 'config.json')!;
    assert.equal(r.io.bytesRead - config.size, 8 + shard.headerBytes);
  });

  it('uses a listing passed in and skips the listing request', async () => {
    requireEmulator();
    const prefix = await uploadCase('mistral-single');
    const store = gcsObjectStore(bucketName, { client });
    const listing = await store.list(prefix);
    const r = await validateCheckpoint(store, prefix, { listing });
    assert.equal(r.ok, true);
    assert.equal(r.io.requests, 2);
  });

  it('maps a missing object to OBJECT_NOT_FOUND (not retryable)', async () => {
    requireEmulator();
    const store = gcsObjectStore(bucketName, { client });
    await assert.rejects(store.read(`${run}/does-not-exist`, 0, 10), (e: unknown) => e instanceof FerryError && e.code === 'OBJECT_NOT_FOUND' && !e.retryable);
  });

  it('ferry validate gs://… exits 0 / 1 and prints JSON', async () => {
    requireEmulator();
    const prefix = await uploadCase('all-dtypes');
    let out = '';
    const io = { stdout: (s: string) => (out += s), stderr: () => {}, env };
    assert.equal(await validateCommand([`gs://${bucketName}/${prefix}`, '--json'], io), 0);
    const j = JSON.parse(out);
    assert.equal(j.ok, true);
    assert.equal(j.summary.tensors, 18);
    assert.equal(j.io.requests, 3);
    out = '';
    assert.equal(await validateCommand([`gs://${bucketName}/${run}/nothing-here`], io), 1);
    assert.match(out, /^INVALID +gs:\/\//);
    assert.match(out, /WEIGHTS_MISSING/);
  });
});

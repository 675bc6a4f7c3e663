import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FIRST_READ_BYTES, MIN_FIRST_READ_BYTES, firstReadSize, mapLimit, validateCheckpoint } from '../../../shared/app/validate-checkpoint.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { MAX_CONFIG_BYTES, MAX_INDEX_BYTES } from '../../../shared/domain/checkpoint.ts';
import { MAX_MANIFEST_BYTES } from '../../../shared/domain/manifest.ts';
import type { ObjectInfo, ObjectStore } from '../../../shared/ports/object-store.ts';

const enc = new TextEncoder();

interface Call {
  op: 'list' | 'read';
  name: string;
  start?: number;
  end?: number;
  generation?: string | undefined;
}

/** An in-memory ObjectStore that records every call and the peak number of reads in flight. */
function memoryStore(objects: Record<string, Uint8Array>, opts: { truncateReads?: boolean } = {}) {
  const calls: Call[] = [];
  let requests = 0;
  let bytesRead = 0;
  let inFlight = 0;
  let peak = 0;
  const store: ObjectStore & { calls: Call[]; peak: () => number } = {
    location: 'mem://bucket',
    calls,
    peak: () => peak,
    async list(prefix) {
      requests++;
      calls.push({ op: 'list', name: prefix });
      return Object.entries(objects)
        .filter(([n]) => n.startsWith(prefix))
        .map(([name, b]): ObjectInfo => ({ name, size: b.length, generation: `g-${name.length}` }));
    },
    async read(name, start, end, generation) {
      requests++;
      calls.push({ op: 'read', name, start, end, generation });
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      const b = objects[name];
      if (!b) throw new FerryError('OBJECT_NOT_FOUND', `${name} not found`);
      const out = b.subarray(start, opts.truncateReads ? Math.min(end, start + 4) : end);
      bytesRead += out.length;
      return out;
    },
    stats: () => ({ requests, bytesRead }),
  };
  return store;
}

function checkpoint(prefix: string, shardsCount: number, tensorsPerShard: number, pad = 0): Record<string, Uint8Array> {
  const objects: Record<string, Uint8Array> = {};
  const weightMap: Record<string, string> = {};
  for (let s = 1; s <= shardsCount; s++) {
    const name = `model-${String(s).padStart(5, '0')}-of-${String(shardsCount).padStart(5, '0')}.safetensors`;
    const entries = Array.from({ length: tensorsPerShard }, (_, i) => `"s${s}.t${i}":{"dtype":"F32","shape":[2],"data_offsets":[${i * 8},${i * 8 + 8}]}`);
    const h = enc.encode(`{${entries.join(',')}}${' '.repeat(pad)}`);
    const out = new Uint8Array(8 + h.length + tensorsPerShard * 8);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    objects[prefix + name] = out;
    for (let i = 0; i < tensorsPerShard; i++) weightMap[`s${s}.t${i}`] = name;
  }
  objects[`${prefix}model.safetensors.index.json`] = enc.encode(
    JSON.stringify({ metadata: { total_size: shardsCount * tensorsPerShard * 8 }, weight_map: weightMap }),
  );
  objects[`${prefix}config.json`] = enc.encode('{"architectures":["X"],"model_type":"x"}');
  objects[`${prefix}tokenizer.json`] = enc.encode('{}');
  return objects;
}

describe('validateCheckpoint (use case)', () => {
  it('lists once, reads the index and config whole, and each shard header once, pinned to the listed generation', async () => {
    const store = memoryStore(checkpoint('m/v1/', 5, 3));
    const r = await validateCheckpoint(store, 'm/v1');
    assert.equal(r.ok, true, JSON.stringify(r.errors));
    assert.equal(r.summary.shards, 5);
    assert.equal(r.summary.tensors, 15);
    assert.equal(r.prefix, 'm/v1/');
    assert.equal(r.location, 'mem://bucket/m/v1/');
    assert.equal(store.calls.filter((c) => c.op === 'list').length, 1);
    const reads = store.calls.filter((c) => c.op === 'read');
    assert.equal(reads.length, 2 + 5);
    for (const c of reads) assert.equal(c.generation, `g-${c.name.length}`);
    for (const c of reads.filter((x) => x.name.endsWith('.safetensors'))) assert.equal(c.start, 0);
    assert.deepEqual(r.io, store.stats());
  });

  it('reads a second range only when the header is longer than the first read', async () => {
    const objects = checkpoint('', 2, 2, 70_000); // headers of ~70 KB
    const store = memoryStore(objects);
    const r = await validateCheckpoint(store, '');
    assert.equal(r.ok, true, JSON.stringify(r.errors));
    const shardReads = store.calls.filter((c) => c.op === 'read' && c.name.endsWith('.safetensors'));
    assert.equal(shardReads.length, 4);
    for (const name of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      const rs = shardReads.filter((c) => c.name === name);
      // The index predicts a small header (2 tensors), so the first read is the 16 KiB floor.
      assert.deepEqual(
        rs.map((c) => [c.start, c.end]),
        [
          [0, MIN_FIRST_READ_BYTES],
          [MIN_FIRST_READ_BYTES, objects[name]!.length - 16],
        ],
      );
    }
  });

  it('without an index, reads the first 64 KiB, then the rest of a longer header', async () => {
    const objects = checkpoint('', 1, 2, 70_000);
    const shardBytes = objects['model-00001-of-00001.safetensors']!;
    const single = {
      'model.safetensors': shardBytes,
      'config.json': objects['config.json']!,
    };
    const store = memoryStore(single);
    const r = await validateCheckpoint(store, '');
    assert.equal(r.ok, true, JSON.stringify(r.errors));
    const rs = store.calls.filter((c) => c.name === 'model.safetensors');
    assert.deepEqual(
      rs.map((c) => [c.start, c.end]),
      [
        [0, DEFAULT_FIRST_READ_BYTES],
        [DEFAULT_FIRST_READ_BYTES, shardBytes.length - 16],
      ],
    );
  });

  it('sizes the first read from the predicted header', () => {
    assert.equal(firstReadSize(undefined, 65536), 65536);
    assert.equal(firstReadSize(1000, 65536), MIN_FIRST_READ_BYTES);
    assert.equal(firstReadSize(200_000, 65536), 250_000);
  });

  it('never reads more than the header plus the first read, and not at all for tiny files', async () => {
    const objects = { 'model.safetensors': new Uint8Array(5), 'config.json': enc.encode('{"architectures":["X"],"model_type":"x"}') };
    const store = memoryStore(objects);
    const r = await validateCheckpoint(store, '');
    assert.deepEqual(
      r.errors.map((e) => e.code),
      ['HEADER_TOO_SMALL'],
    );
    assert.equal(store.calls.filter((c) => c.name === 'model.safetensors').length, 0);
  });

  it('uses a listing it is given instead of listing', async () => {
    const objects = checkpoint('p/', 2, 1);
    const store = memoryStore(objects);
    const listing = Object.entries(objects).map(([name, b]) => ({ name, size: b.length, generation: '5' }));
    const r = await validateCheckpoint(store, 'p/', { listing });
    assert.equal(r.ok, true);
    assert.equal(store.calls.filter((c) => c.op === 'list').length, 0);
    assert.ok(store.calls.every((c) => c.generation === '5'));
    assert.deepEqual(
      r.files.map((f) => f.generation),
      listing.map(() => '5'),
    );
  });

  it('bounds parallel reads', async () => {
    const store = memoryStore(checkpoint('', 40, 1));
    await validateCheckpoint(store, '', { concurrency: 3 });
    assert.ok(store.peak() <= 3 + 2, `peak ${store.peak()}`); // index + config read before shards
    assert.ok(store.peak() >= 2);
  });

  it('fails with OBJECT_CHANGED when an object is shorter than listed', async () => {
    const store = memoryStore(checkpoint('', 1, 1), { truncateReads: true });
    await assert.rejects(validateCheckpoint(store, ''), (e: unknown) => e instanceof FerryError && e.code === 'OBJECT_CHANGED' && e.retryable);
  });

  it('propagates storage errors as FerryErrors', async () => {
    const store = memoryStore(checkpoint('', 1, 1));
    store.read = async () => {
      throw new FerryError('STORAGE_UNAVAILABLE', 'down', { retryable: true });
    };
    await assert.rejects(validateCheckpoint(store, ''), (e: unknown) => e instanceof FerryError && e.code === 'STORAGE_UNAVAILABLE');
  });

  it('reports an empty prefix as missing weights and config', async () => {
    const r = await validateCheckpoint(memoryStore({}), 'nothing/');
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors.map((e) => e.code).sort(), ['CONFIG_MISSING', 'WEIGHTS_MISSING']);
    assert.equal(r.io.requests, 1);
  });
});

describe('side files are capped by their listed size, before any byte is read (issue #23)', () => {
  const listed = (objects: Record<string, Uint8Array>, sizes: Record<string, number>): ObjectInfo[] =>
    Object.entries(objects).map(([name, b]) => ({ name, size: sizes[name] ?? b.length, generation: `g-${name.length}` }));

  it('an index above MAX_INDEX_BYTES is INDEX_TOO_LARGE_TO_VALIDATE and never read', async () => {
    const objects = checkpoint('m/v1/', 2, 2);
    const store = memoryStore(objects);
    const listing = listed(objects, { 'm/v1/model.safetensors.index.json': MAX_INDEX_BYTES + 1 });
    const r = await validateCheckpoint(store, 'm/v1/', { listing });
    assert.equal(r.ok, false);
    const f = r.errors.find((e) => e.code === 'INDEX_TOO_LARGE_TO_VALIDATE');
    assert.ok(f, JSON.stringify(r.errors));
    assert.equal(f.file, 'model.safetensors.index.json');
    assert.match(f.message, new RegExp(`${MAX_INDEX_BYTES + 1} bytes`));
    assert.equal(store.calls.filter((c) => c.name.endsWith('.index.json')).length, 0);
    assert.ok(!r.errors.some((e) => e.code === 'FILE_TOO_LARGE'));
  });

  it('an index of exactly MAX_INDEX_BYTES is read and judged (trailing whitespace is legal JSON)', async () => {
    const objects = checkpoint('m/v1/', 2, 2);
    const name = 'm/v1/model.safetensors.index.json';
    const padded = new Uint8Array(MAX_INDEX_BYTES).fill(0x20);
    padded.set(objects[name]!);
    objects[name] = padded;
    const store = memoryStore(objects);
    const r = await validateCheckpoint(store, 'm/v1/');
    assert.equal(r.ok, true, JSON.stringify(r.errors));
    assert.equal(store.calls.filter((c) => c.name === name).length, 1);
  });

  it('config.json above MAX_CONFIG_BYTES is FILE_TOO_LARGE and never read', async () => {
    const objects = checkpoint('m/v1/', 2, 2);
    const store = memoryStore(objects);
    const r = await validateCheckpoint(store, 'm/v1/', { listing: listed(objects, { 'm/v1/config.json': MAX_CONFIG_BYTES + 1 }) });
    assert.ok(
      r.errors.some((e) => e.code === 'FILE_TOO_LARGE' && e.file === 'config.json'),
      JSON.stringify(r.errors),
    );
    assert.equal(store.calls.filter((c) => c.name.endsWith('config.json')).length, 0);
  });

  it('ferry.manifest.json above MAX_MANIFEST_BYTES is FERRY_MANIFEST_INVALID and never read', async () => {
    const objects = { ...checkpoint('m/v1/', 2, 2), 'm/v1/ferry.manifest.json': enc.encode('{}') };
    const store = memoryStore(objects);
    const r = await validateCheckpoint(store, 'm/v1/', { listing: listed(objects, { 'm/v1/ferry.manifest.json': MAX_MANIFEST_BYTES + 1 }) });
    assert.equal(r.manifest, 'invalid');
    assert.ok(
      r.errors.some((e) => e.code === 'FERRY_MANIFEST_INVALID' && e.message.includes(`above ${MAX_MANIFEST_BYTES}`)),
      JSON.stringify(r.errors),
    );
    assert.equal(store.calls.filter((c) => c.name.endsWith('ferry.manifest.json')).length, 0);
  });

  it('the caps keep the largest real side files with margin', () => {
    // A Kimi-K2-shaped index (139,583 tensors, indent=2) is ~13.4 MB: BENCHMARKS.md and checkpoint.ts.
    assert.ok(MAX_INDEX_BYTES >= 1.5 * 13_400_000);
    assert.ok(MAX_MANIFEST_BYTES >= 10_000 * 190 * 2);
  });
});

describe('mapLimit', () => {
  it('keeps order and limits concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, x));
      inFlight--;
      return x * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(peak, 2);
  });
});

describe('header size prediction from the index', () => {
  it('reads a header of thousands of tensors in one request when the index predicts its size', async () => {
    const objects = checkpoint('', 2, 3000); // ~200 KB headers
    const store = memoryStore(objects);
    const r = await validateCheckpoint(store, '');
    assert.equal(r.ok, true, JSON.stringify(r.errors));
    const shardReads = store.calls.filter((c) => c.op === 'read' && c.name.endsWith('.safetensors'));
    assert.equal(shardReads.length, 2);
    for (const c of shardReads) {
      const size = objects[c.name]!.length;
      const headerEnd = 8 + Number(new DataView(objects[c.name]!.buffer).getBigUint64(0, true));
      assert.ok(c.end! >= headerEnd && c.end! > 65536, `read [0, ${c.end}) of ${size}`);
    }
  });
});

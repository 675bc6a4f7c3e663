/**
 * The serving stand-in's time model (infra/local/vllm-sim/time-model.ts): bytes from the bucket vs
 * the zonal Anywhere Cache, the admission policies, TTL, the cache's bandwidth rule — and the Storage
 * Control server keeping each cache's contents (created through the real client, over gRPC).
 * Sources: docs/UPSTREAM.md S12–S14 (Rapid Cache docs, storage_control.proto AnywhereCache), V21.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CacheContents,
  admitsOnMiss,
  cacheBandwidthLimit,
  cacheRateForLoad,
  modelledLoadSeconds,
  servingRatesFromEnv,
  splitBySource,
  DEFAULT_BUCKET_BYTES_PER_SECOND,
  GiB,
  TiB,
} from '../../../infra/local/vllm-sim/time-model.ts';
import { startStorageControlGrpcServer, storageControlAdmin } from '../../../infra/local/storage-control-grpc-server.ts';
import { StorageControlCacheControl } from '../../../shared/adapters/storage-control.ts';

const obj = (name: string, bytes: number, generation = '1') => ({ name, generation, bytes });
const HOUR = 3600;

test('admission: first-miss admits at the first miss, second-miss only at the second', () => {
  assert.equal(admitsOnMiss('admit-on-first-miss', 0), true);
  assert.equal(admitsOnMiss('admit-on-second-miss', 0), false);
  assert.equal(admitsOnMiss('admit-on-second-miss', 1), true);
});

test('admit-on-first-miss: the first load comes from the bucket and fills the cache, the second from the cache', () => {
  const c = new CacheContents();
  const files = [obj('m/v1/a.safetensors', 100), obj('m/v1/b.safetensors', 50)];
  const first = files.map((f) => c.read(f, 'admit-on-first-miss', 0, 24 * HOUR));
  assert.deepEqual(splitBySource(first), { cacheBytes: 0, bucketBytes: 150 });
  assert.deepEqual(
    first.map((r) => r.ingested),
    [true, true],
  );
  assert.equal(c.storedBytes(0, 24 * HOUR), 150);
  const second = files.map((f) => c.read(f, 'admit-on-first-miss', 1000, 24 * HOUR));
  assert.deepEqual(splitBySource(second), { cacheBytes: 150, bucketBytes: 0 });
});

test('admit-on-second-miss: two loads from the bucket, the third from the cache', () => {
  const c = new CacheContents();
  const f = obj('m/v1/a.safetensors', 100);
  const sources = [0, 1, 2].map((i) => c.read(f, 'admit-on-second-miss', i, 24 * HOUR));
  assert.deepEqual(
    sources.map((r) => [r.source, r.ingested]),
    [
      ['bucket', false],
      ['bucket', true],
      ['cache', false],
    ],
  );
});

test('another generation of the object is another entry (the cache is consistent)', () => {
  const c = new CacheContents();
  c.read(obj('a.safetensors', 100, '1'), 'admit-on-first-miss', 0, HOUR);
  assert.equal(c.read(obj('a.safetensors', 120, '2'), 'admit-on-first-miss', 1, HOUR).source, 'bucket');
  assert.equal(c.read(obj('a.safetensors', 120, '2'), 'admit-on-first-miss', 2, HOUR).source, 'cache');
});

test('an entry lives for the cache TTL, then the next read misses again', () => {
  const c = new CacheContents();
  const f = obj('a.safetensors', 100);
  c.read(f, 'admit-on-first-miss', 0, HOUR);
  assert.equal(c.read(f, 'admit-on-first-miss', HOUR * 1000 - 1, HOUR).source, 'cache');
  assert.equal(c.read(f, 'admit-on-first-miss', HOUR * 1000, HOUR).source, 'bucket');
});

test('cache bandwidth: 100 Gbps, plus 20 Gbps per TiB stored, shared by concurrent loads, capped per client', () => {
  assert.equal(cacheBandwidthLimit(0), 100e9 / 8);
  assert.equal(cacheBandwidthLimit(2 * TiB), 140e9 / 8);
  assert.equal(cacheRateForLoad(0, 4), 100e9 / 8 / 4);
  assert.equal(cacheRateForLoad(0, 1, GiB), GiB);
});

test('modelled load seconds: bucket bytes at the bucket rate plus cache bytes at the cache rate', () => {
  const rates = { bucketBytesPerSecond: DEFAULT_BUCKET_BYTES_PER_SECOND, cacheBytesPerSecond: cacheBandwidthLimit(0) };
  assert.equal(modelledLoadSeconds({ bucketBytes: 11 * GiB, cacheBytes: 0 }, rates), 10);
  const mixed = modelledLoadSeconds({ bucketBytes: 1.1 * GiB, cacheBytes: 12.5e9 }, rates);
  assert.ok(Math.abs(mixed - 2) < 1e-9, String(mixed));
});

test('stack settings: FERRY_SIM_* rates with binary suffixes; a bad value names the variable', () => {
  assert.deepEqual(servingRatesFromEnv({}), {});
  assert.deepEqual(servingRatesFromEnv({ FERRY_SIM_BUCKET_BYTES_PER_SECOND: '1.1Gi', FERRY_SIM_CACHE_CLIENT_BYTES_PER_SECOND: '1000' }), {
    bytesPerSecond: 1.1 * GiB,
    cacheClientBytesPerSecond: 1000,
  });
  assert.throws(() => servingRatesFromEnv({ FERRY_SIM_BUCKET_BYTES_PER_SECOND: 'fast' }), /FERRY_SIM_BUCKET_BYTES_PER_SECOND must be a positive/);
  assert.throws(() => servingRatesFromEnv({ FERRY_SIM_CACHE_CLIENT_BYTES_PER_SECOND: '0' }), /FERRY_SIM_CACHE_CLIENT_BYTES_PER_SECOND/);
});

test('the Storage Control server keeps each cache’s contents: only a RUNNING cache in the zone serves and ingests', async () => {
  const server = await startStorageControlGrpcServer({ defaultLocation: 'US-CENTRAL1', createDelayMs: 0 });
  const control = new StorageControlCacheControl({ apiEndpoint: server.endpoint });
  const admin = storageControlAdmin(server.adminHost);
  const files = [obj('m/v1/model.safetensors', 1000)];
  try {
    // No cache in the zone: the bucket serves, nothing is kept.
    assert.deepEqual((await admin.recordReads('b', 'us-central1-a', files)).reads[0], { name: files[0]!.name, bytes: 1000, source: 'bucket', ingested: false });
    // A cache created through the real client (gRPC), default policy admit-on-first-miss.
    await control.create('b', 'us-central1-a');
    assert.equal((await control.get('b', 'us-central1-a'))?.state, 'running');
    const first = await admin.recordReads('b', 'us-central1-a', files);
    assert.deepEqual([first.state, first.reads[0]!.source, first.reads[0]!.ingested, first.storedBytes], ['RUNNING', 'bucket', true, 1000]);
    assert.equal((await admin.recordReads('b', 'us-central1-a', files)).reads[0]!.source, 'cache');
    // The cache of another zone holds nothing of it.
    await control.create('b', 'us-central1-b', { admissionPolicy: 'admit-on-second-miss' });
    assert.equal((await admin.recordReads('b', 'us-central1-b', files)).reads[0]!.ingested, false);
    assert.equal((await admin.recordReads('b', 'us-central1-b', files)).reads[0]!.ingested, true);
    assert.equal((await admin.recordReads('b', 'us-central1-b', files)).reads[0]!.source, 'cache');
    // A paused cache serves nothing here; resumed, it still holds what it ingested.
    await control.pause('b', 'us-central1-a');
    const paused = await admin.recordReads('b', 'us-central1-a', files);
    assert.deepEqual([paused.state, paused.reads[0]!.source], ['PAUSED', 'bucket']);
    await control.resume('b', 'us-central1-a');
    assert.equal((await admin.recordReads('b', 'us-central1-a', files)).reads[0]!.source, 'cache');
    // Malformed reports are refused.
    await assert.rejects(admin.recordReads('b', 'us-central1-a', [{ name: 'x' } as never]), /cache-reads needs/);
  } finally {
    await control.close();
    await server.stop();
  }
});

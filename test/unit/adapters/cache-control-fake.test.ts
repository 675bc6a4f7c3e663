/**
 * The Storage Control fake, held to the CacheControl contract twice: in process, and served over
 * loopback HTTP the way the local stack serves it (infra/local/storage-control-server.ts +
 * HttpCacheControl). Both run on a manual clock, so "an hour later" takes no time.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeStorageControl } from '../../../infra/local/storage-control-fake.ts';
import { HttpCacheControl, storageControlFakeAdmin } from '../../../shared/adapters/storage-control-http.ts';
import { startStorageControlServer, type StorageControlServer } from '../../../infra/local/storage-control-server.ts';
import { cacheCodeOf } from '../../../shared/ports/cache-control.ts';
import { cacheControlContract, type ContractSubject } from '../../contract/cache-control.contract.ts';
import { manualClock, type ManualClock } from '../../helpers/manual-clock.ts';

function fakeSubject(control: ContractSubject['control'], clock: ManualClock, extra: Partial<ContractSubject> = {}): ContractSubject {
  return {
    control,
    bucket: 'ferry-contract',
    zones: ['us-central1-a', 'us-central1-b'],
    outsideZone: 'europe-west4-a',
    advance: clock.advance,
    eventually: clock.eventually,
    ...extra,
  };
}

cacheControlContract('in-process fake', {
  make: async () => {
    const clock = manualClock();
    return fakeSubject(new FakeStorageControl({ clock, bucketLocations: { 'ferry-contract': 'US-CENTRAL1' } }), clock);
  },
});

let server: StorageControlServer | undefined;
after(async () => server?.stop());
cacheControlContract('fake over loopback HTTP', {
  make: async () => {
    const clock = manualClock();
    server = await startStorageControlServer({ clock, bucketLocations: { 'ferry-contract': 'US-CENTRAL1' } });
    return fakeSubject(new HttpCacheControl(server.host), clock);
  },
});

test('fake: states are reported upper-case raw, lowercase normalised; unknown buckets do not exist', async () => {
  const clock = manualClock();
  const fake = new FakeStorageControl({ clock, createDelayMs: 1000, bucketLocations: { b: 'NAM4' } });
  await fake.create('b', 'us-east1-b');
  const c = (await fake.get('b', 'us-east1-b'))!;
  assert.deepEqual([c.state, c.rawState], ['creating', 'CREATING']);
  clock.advance(1000);
  assert.deepEqual([(await fake.get('b', 'us-east1-b'))!.rawState], ['RUNNING']);
  // NAM4 is us-central1 + us-east1: us-west1 is outside
  await assert.rejects(fake.create('b', 'us-west1-a'), (e: unknown) => cacheCodeOf(e) === 'CACHE_INVALID_ARGUMENT' && /NAM4/.test((e as Error).message));
  await assert.rejects(fake.get('nope', 'us-east1-b'), (e: unknown) => cacheCodeOf(e) === 'CACHE_NOT_FOUND');
  await assert.rejects(fake.create('b', 'not-a-zone'), (e: unknown) => cacheCodeOf(e) === 'CACHE_INVALID_ARGUMENT');
});

test('fake: test hooks — injected failures, call counts, reset, options', async () => {
  const clock = manualClock();
  const fake = new FakeStorageControl({ clock, defaultLocation: 'US' });
  fake.failNext('create', 'CACHE_UNAVAILABLE');
  await assert.rejects(fake.create('any', 'us-west1-a'), (e: unknown) => cacheCodeOf(e) === 'CACHE_UNAVAILABLE' && (e as { retryable: boolean }).retryable);
  await fake.create('any', 'us-west1-a');
  assert.equal(fake.stats().calls.create, 2);
  fake.setOptions({ createDelayMs: 60_000 });
  await fake.create('any', 'us-west1-b');
  clock.advance(59_000);
  assert.equal((await fake.get('any', 'us-west1-b'))!.state, 'creating');
  fake.reset('any');
  assert.deepEqual(await fake.list('any'), []);
  assert.equal(fake.stats().calls.create, 0);
});

test('fake over HTTP: admin hooks and errors keep their codes across the wire', async () => {
  const srv = await startStorageControlServer({ defaultLocation: 'US-CENTRAL1', createDelayMs: 0 });
  try {
    const control = new HttpCacheControl(srv.host);
    const admin = storageControlFakeAdmin(srv.host);
    await control.create('b1', 'us-central1-f');
    await assert.rejects(control.create('b1', 'us-central1-f'), (e: unknown) => cacheCodeOf(e) === 'CACHE_ALREADY_EXISTS');
    assert.equal((await control.get('b1', 'us-central1-f'))!.state, 'running');
    assert.equal((await admin.stats()).calls['create'], 2);
    await admin.failNext('get', 'CACHE_FORBIDDEN');
    await assert.rejects(control.get('b1', 'us-central1-f'), (e: unknown) => cacheCodeOf(e) === 'CACHE_FORBIDDEN');
    await admin.reset();
    assert.equal(await control.get('b1', 'us-central1-f'), null);
    const down = new HttpCacheControl('127.0.0.1:1');
    await assert.rejects(down.get('b1', 'us-central1-f'), (e: unknown) => cacheCodeOf(e) === 'CACHE_UNAVAILABLE');
  } finally {
    await srv.stop();
  }
});

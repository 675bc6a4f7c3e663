/**
 * The production Storage Control adapter (shared/adapters/storage-control.ts, the real
 * `@google-cloud/storage-control` client) against the local wire-protocol server
 * (infra/local/storage-control-grpc-server.ts), held to the CacheControl contract on a manual
 * clock, plus the wire facts the server and the adapter rely on (docs/CONFORMANCE.md, Storage Control).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { v2 } from '@google-cloud/storage-control';
import { StorageControlCacheControl, endpointOptions } from '../../../shared/adapters/storage-control.ts';
import { STORAGE_CONTROL_PROTOS, startStorageControlGrpcServer, storageControlAdmin } from '../../../infra/local/storage-control-grpc-server.ts';
import { cacheCodeOf } from '../../../shared/ports/cache-control.ts';
import { cacheControlContract } from '../../contract/cache-control.contract.ts';
import { manualClock } from '../../helpers/manual-clock.ts';
import { storageControlHarness } from '../../helpers/storage-control.ts';

const clock = manualClock();
const sc = await storageControlHarness({ clock, bucketLocations: { 'ferry-contract': 'US-CENTRAL1', b: 'US-CENTRAL1' } });
after(() => sc.stop());

cacheControlContract('production adapter (gRPC client) against the local Storage Control server', {
  make: async () => ({
    control: sc.control,
    bucket: 'ferry-contract',
    zones: ['us-central1-a', 'us-central1-b'],
    outsideZone: 'europe-west4-a',
    advance: clock.advance,
    eventually: clock.eventually,
  }),
});

type Rpc = { options?: Record<string, unknown> };
const methods = (): Record<string, Rpc> => {
  const ns = STORAGE_CONTROL_PROTOS as unknown as {
    nested: { google: { nested: { storage: { nested: { control: { nested: { v2: { nested: { StorageControl: { methods: Record<string, Rpc> } } } } } } } } } };
  };
  return ns.nested.google.nested.storage.nested.control.nested.v2.nested.StorageControl.methods;
};
const ANYWHERE_CACHE_RPCS = [
  'CreateAnywhereCache',
  'UpdateAnywhereCache',
  'DisableAnywhereCache',
  'PauseAnywhereCache',
  'ResumeAnywhereCache',
  'GetAnywhereCache',
  'ListAnywhereCaches',
];

// storage_control.proto #L185-270 (@google-cloud/storage-control 0.8.2): the Anywhere Cache RPCs have
// routing and method_signature options but no google.api.http rule; the IntelligenceConfig RPCs do.
test('upstream: the Anywhere Cache RPCs have no HTTP rule, so the REST transport cannot send them (gRPC it is)', async () => {
  const m = methods();
  for (const rpc of ANYWHERE_CACHE_RPCS) {
    const keys = Object.keys(m[rpc]?.options ?? {});
    assert.ok(keys.length > 0, `${rpc} is in the proto`);
    assert.ok(!keys.some((k) => k.startsWith('(google.api.http)')), `${rpc} gained an HTTP rule: the REST transport may work now (${keys.join(', ')})`);
  }
  assert.ok(
    Object.keys(m['GetProjectIntelligenceConfig']!.options!).some((k) => k.startsWith('(google.api.http)')),
    'other RPCs do have HTTP rules',
  );
  // The client in its REST ("fallback") transport refuses before any I/O.
  const rest = new v2.StorageControlClient({
    fallback: true,
    apiEndpoint: '127.0.0.1',
    port: 1,
    protocol: 'http',
    authClient: { getRequestHeaders: async () => new Headers(), universeDomain: 'googleapis.com' } as never,
  });
  await assert.rejects(rest.getAnywhereCache({ name: 'projects/_/buckets/b/anywhereCaches/us-central1-a' }), /Cannot build HTTP request .*GetAnywhereCache/);
  await rest.close();
});

test('create returns a google.longrunning.Operation whose metadata is CreateAnywhereCacheMetadata and whose response is the AnywhereCache', async () => {
  sc.reset({ clock, createDelayMs: 1000 });
  const server = await startStorageControlGrpcServer({ clock, defaultLocation: 'US-CENTRAL1', createDelayMs: 1000 });
  const client = new v2.StorageControlClient({ ...endpointOptions(server.endpoint), projectId: 'demo-ferry' });
  try {
    const [op] = await client.createAnywhereCache({ parent: 'projects/_/buckets/b', anywhereCache: { zone: 'us-central1-c', ttl: { seconds: 7200 } } });
    assert.equal(op.done, false);
    assert.match(op.name!, /^projects\/_\/buckets\/b\/operations\/[0-9a-f]+$/);
    const meta = op.metadata as { zone?: string; ttl?: { seconds?: { toString(): string } }; admissionPolicy?: string; commonMetadata?: { type?: string } };
    assert.equal(meta.constructor.name, 'CreateAnywhereCacheMetadata', 'the client decoded the Any by its type URL');
    assert.deepEqual([meta.zone, String(meta.ttl?.seconds), meta.admissionPolicy], ['us-central1-c', '7200', 'admit-on-first-miss']);
    clock.advance(1000);
    const done = await client.checkCreateAnywhereCacheProgress(op.name!);
    assert.equal(done.done, true);
    const cache = done.result as { name?: string; state?: string; zone?: string; constructor: { name: string } };
    assert.equal(cache.constructor.name, 'AnywhereCache');
    assert.deepEqual([cache.name, cache.state, cache.zone], ['projects/_/buckets/b/anywhereCaches/us-central1-c', 'RUNNING', 'us-central1-c']);
    // A malformed name is refused by the server as the API would (INVALID_ARGUMENT = 3).
    await assert.rejects(client.getAnywhereCache({ name: 'buckets/b/us-central1-c' }), (e: { code?: number }) => e.code === 3);
  } finally {
    await client.close();
    await server.stop();
  }
});

// storage_control.proto #L976-986: TTL "Default ttl value (24hrs) is applied if not specified in the
// create request"; admission policy "Defaults to `admit-on-first-miss`".
test('create without settings: TTL 24 h and admit-on-first-miss, as the proto says', async () => {
  sc.reset({ clock, createDelayMs: 0 });
  await sc.control.create('b', 'us-central1-f');
  const c = (await sc.control.get('b', 'us-central1-f'))!;
  assert.deepEqual([c.ttlSeconds, c.admissionPolicy, c.rawState], [86_400, 'admit-on-first-miss', 'RUNNING']);
});

test('operations take time and can fail: a failed create is done with an error and leaves no cache', async () => {
  sc.reset({ clock, createDelayMs: 5000 });
  sc.control.failNextOperation('CACHE_INVALID_ARGUMENT', 'zone has no capacity');
  const op = await sc.control.create('b', 'us-central1-a');
  assert.equal(op.done, false);
  assert.equal((await sc.control.get('b', 'us-central1-a'))?.state, 'creating');
  clock.advance(5000);
  const done = await sc.control.getOperation(op.name, 'create');
  assert.equal(done.done, true);
  assert.deepEqual(done.error, { code: 'CACHE_INVALID_ARGUMENT', message: 'zone has no capacity' });
  assert.equal(await sc.control.get('b', 'us-central1-a'), null);
});

test('gRPC statuses cross the wire as the port codes; the admin hooks work across processes', async () => {
  const server = await startStorageControlGrpcServer({ defaultLocation: 'US-CENTRAL1', createDelayMs: 0 });
  const control = new StorageControlCacheControl({ apiEndpoint: server.endpoint, projectId: 'demo-ferry' });
  const admin = storageControlAdmin(server.adminHost);
  try {
    await control.create('b1', 'us-central1-f');
    await assert.rejects(control.create('b1', 'us-central1-f'), (e: unknown) => cacheCodeOf(e) === 'CACHE_ALREADY_EXISTS');
    assert.equal((await control.get('b1', 'us-central1-f'))!.state, 'running');
    assert.equal((await admin.stats()).calls['create'], 2);
    await admin.failNext('get', 'CACHE_FORBIDDEN');
    await assert.rejects(control.get('b1', 'us-central1-f'), (e: unknown) => cacheCodeOf(e) === 'CACHE_FORBIDDEN');
    await admin.reset();
    assert.equal(await control.get('b1', 'us-central1-f'), null);
  } finally {
    await control.close();
    await server.stop();
  }
});

test('FERRY_STORAGE_CONTROL_API_ENDPOINT: http is plaintext without credentials, https keeps TLS; anything else is refused', () => {
  const grpc = createRequire(createRequire(import.meta.url).resolve('@google-cloud/storage-control'))('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const plain = endpointOptions('http://127.0.0.1:7090');
  assert.deepEqual([plain.apiEndpoint, plain.port], ['127.0.0.1', 7090]);
  assert.ok(plain.sslCreds instanceof grpc.ChannelCredentials && !plain.sslCreds._isSecure());
  assert.deepEqual(endpointOptions('https://storage.example.com'), { apiEndpoint: 'storage.example.com', port: 443 });
  for (const bad of ['127.0.0.1:7090', 'ftp://x:1', 'http://x:1/path']) assert.throws(() => endpointOptions(bad), /Storage Control endpoint|Invalid URL/, bad);
});

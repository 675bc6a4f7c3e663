import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ModelName, VersionName, VersionRef, cacheId, clusterKey, targetKey, Target } from '../../../shared/domain/names.ts';

test('clusterKey: local stays local, a GKE name becomes project.location.cluster, anything else is null', () => {
  assert.equal(clusterKey('local'), 'local');
  assert.equal(clusterKey('projects/my-proj/locations/us-central1/clusters/gpu'), 'my-proj.us-central1.gpu');
  assert.equal(clusterKey('projects/123456789012/locations/europe-west4-a/clusters/c-1'), '123456789012.europe-west4-a.c-1');
  assert.equal(clusterKey('projects/my-proj/zones/us-central1-a/clusters/c'), null);
  assert.equal(clusterKey('gke_my-proj_us-central1_gpu'), null);
});

test('targetKey: <clusterKey>~<namespace>~<name>; refuses a cluster that is not one', () => {
  assert.equal(targetKey({ cluster: 'local', namespace: 'ns', name: 'd' }), 'local~ns~d');
  assert.equal(
    targetKey({ cluster: 'projects/p-123456/locations/us-central1/clusters/gpu', namespace: 'ml', name: 'llama' }),
    'p-123456.us-central1.gpu~ml~llama',
  );
  assert.throws(() => targetKey({ cluster: 'nope', namespace: 'ns', name: 'd' }), TypeError);
});

test('targetKey is injective over valid targets and a Firestore-safe id', () => {
  const label = fc.stringMatching(/^[a-z]([-a-z0-9]{0,8}[a-z0-9])?$/);
  const cluster = fc.oneof(
    fc.constant('local'),
    fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9-]{4,10}[a-z0-9]$/), fc.constantFrom('us-central1', 'europe-west4-a'), label)
      .map(([p, l, c]) => `projects/${p}/locations/${l}/clusters/${c}`),
  );
  const target = fc.record({ cluster, namespace: label, name: label }).filter((t) => Target.safeParse(t).success);
  fc.assert(
    fc.property(target, target, (a, b) => {
      const ka = targetKey(a);
      assert.ok(!ka.includes('/') && ka !== '.' && ka !== '..' && !/^__.*__$/.test(ka), ka);
      assert.equal(ka === targetKey(b), a.cluster === b.cluster && a.namespace === b.namespace && a.name === b.name);
    }),
  );
});

test('cacheId: <bucket>~<zone>', () => {
  assert.equal(cacheId('models', 'us-central1-a'), 'models~us-central1-a');
});

test('model and version names: one rule for uploads and requests; "latest" is a request keyword only', () => {
  for (const ok of ['llama-3.1-8b', 'Qwen2_5', '7', 'a'.repeat(63)]) {
    assert.ok(ModelName.safeParse(ok).success, ok);
    assert.ok(VersionName.safeParse(ok).success, ok);
    assert.ok(VersionRef.safeParse(ok).success, ok);
  }
  for (const bad of ['', '-x', '.x', 'a/b', 'a'.repeat(64), 'a b']) {
    assert.ok(!ModelName.safeParse(bad).success, bad);
    assert.ok(!VersionRef.safeParse(bad).success, bad);
  }
  assert.ok(!VersionName.safeParse('latest').success);
  assert.ok(VersionRef.safeParse('latest').success);
});

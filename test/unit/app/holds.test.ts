/**
 * Issue #20, pinning what is served, over the ports: GCS temporary holds in a memory bucket that
 * enforces them as GCS does (test/helpers/memory.ts MemoryBucket `holds: 'enforced'`). A rollout's
 * apply holds the version's objects (after the CONTENT_CHANGED re-list); the reconciler keeps them
 * while a target serves the version and releases them once it moved on (or teardown took it down),
 * never touching a hold ferry did not set; a store that answers like the Storage emulator (501)
 * does not stop a rollout; a release racing a new rollout loses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { advanceRollout, renderRollout, type RolloutDeps } from '../../../shared/app/rollouts.ts';
import { releaseUnusedHolds, type ReleaseDeps } from '../../../shared/app/holds.ts';
import { handleCheckpointUpload } from '../../../shared/app/checkpoint-upload.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import { parseDeployRequest } from '../../../shared/domain/deploy-request.ts';
import { newRollout, type Rollout } from '../../../shared/domain/rollout.ts';
import { admitRollout, newTargetState, releaseTarget, type TargetState } from '../../../shared/domain/target-state.ts';
import { HOLD_MARKER_KEY } from '../../../shared/domain/holds.ts';
import { targetKey, type Target } from '../../../shared/domain/names.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import type { TeardownRun } from '../../../shared/domain/teardown-run.ts';
import type { ClusterClient } from '../../../shared/ports/cluster.ts';
import { FakeRollouts } from '../../helpers/chat-fakes.ts';
import { MemoryBucket, MemoryCheckpointState, MemoryPublisher } from '../../helpers/memory.ts';
import { LOCAL_POLICY, MemoryPolicyStore } from '../../helpers/policy.ts';

const LLAMA = join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const BUCKET = 'ferry-models';
const TARGET: Target = { cluster: 'local', namespace: 'ml', name: 'llama' };

/** Targets and rollouts in memory, with the domain's own admit and release (target-state.ts). */
class Rollouts extends FakeRollouts {
  override saveStep = async (r: Rollout) => {
    this.rollouts.set(r.id, r);
    const t = this.targets.get(r.targetKey);
    if (t) this.targets.set(r.targetKey, releaseTarget(t, r, new Date(r.updatedAt)).state);
    return { saved: true, next: null };
  };
  override listInFlight = async () => [...this.rollouts.values()].filter((r) => !['succeeded', 'failed', 'rolled_back', 'superseded'].includes(r.phase));
}

/** A cluster that accepts every apply (what ferry applied is recorded) and has nothing running yet. */
function cluster(applied: string[]): ClusterClient {
  return {
    applyDeployment: async (o: V1Deployment) => (applied.push(`Deployment/${o.metadata?.name}`), o),
    applyService: async (o: V1Service) => (applied.push(`Service/${o.metadata?.name}`), o),
    applyObject: async (o) => (applied.push(`${o.kind}/${o.metadata?.name}`), o),
    deleteObject: async () => undefined,
    getDeployment: async () => undefined,
    listPods: async () => [],
    scaleDeployment: async () => undefined,
    ensureNamespace: async () => undefined,
    listNodes: async () => [],
  };
}

async function setup(holds: 'enforced' | 'unsupported' = 'enforced') {
  const bucket = new MemoryBucket({ holds });
  const versions = new MemoryCheckpointState();
  let t = Date.UTC(2026, 11, 6, 12, 0, 0);
  const clock = { now: () => new Date((t += 1000)) };
  for (const v of ['v1', 'v2']) {
    for (const f of readdirSync(LLAMA)) bucket.put(`models/llama/${v}/${f}`, readFileSync(join(LLAMA, f)));
    const name = `models/llama/${v}/config.json`;
    await handleCheckpointUpload(
      {
        id: `e-${v}`,
        source: `//storage.googleapis.com/projects/_/buckets/${BUCKET}`,
        type: 'google.cloud.storage.object.v1.finalized',
        data: { bucket: BUCKET, name, generation: bucket.objects.get(name)!.generation },
      },
      {
        objects: () => bucket,
        state: versions,
        publisher: new MemoryPublisher(),
        clock,
        logger: memoryLogger(),
        config: { modelBuckets: [BUCKET], modelPrefix: 'models/', validationConcurrency: 4, claimLeaseMs: 60_000, deployTopic: 'd' },
      },
    );
    assert.equal((await versions.getVersion('llama', v))?.status, 'valid', `${v} validated`);
  }
  const rollouts = new Rollouts();
  const applied: string[] = [];
  const logger = memoryLogger();
  const deps: RolloutDeps = {
    rollouts,
    policy: new MemoryPolicyStore(LOCAL_POLICY),
    versions,
    clusters: { get: async () => cluster(applied) },
    publisher: new MemoryPublisher(),
    clock,
    logger,
    config: {},
    objects: () => bucket,
  };
  let n = 0;
  /** Admits a rollout of `version` to `target` (as handleDeployRequest does) and takes its first step: the apply. */
  const deploy = async (version: string, target: Target = TARGET) => {
    const parsed = parseDeployRequest(
      JSON.stringify({
        apiVersion: 'ferry/v1',
        model: 'llama',
        version,
        target,
        accelerator: { type: 'nvidia-l4', count: 1 },
        requestedBy: { source: 'pubsub', principal: 'ci' },
      }),
    );
    assert.ok(parsed.ok);
    const doc = (await versions.getVersion('llama', version))!;
    const id = `ro-20261206-120000-${String(++n).padStart(10, '0')}`;
    const r = await renderRollout(parsed.request, doc, { rolloutId: id, logger });
    assert.ok('rendered' in r);
    const now = clock.now();
    rollouts.rollouts.set(id, newRollout({ id, request: parsed.request, version, spec: r.rendered, now }));
    const key = targetKey(target);
    rollouts.targets.set(key, admitRollout(rollouts.targets.get(key) ?? newTargetState(target, now), id, now).state);
    await advanceRollout(id, deps);
    return id;
  };
  /** The rollout's pods came up: it succeeded, and the target's last good is it. */
  const succeed = async (id: string) => {
    const r = rollouts.rollouts.get(id)!;
    await rollouts.saveStep({ ...r, phase: 'succeeded', updatedAt: clock.now().toISOString() });
  };
  const teardownRuns: TeardownRun[] = [];
  const release: ReleaseDeps = {
    targets: async () => [...rollouts.targets.values()],
    rollouts,
    versions,
    teardownRuns: async () => teardownRuns,
    objects: () => bucket,
    logger,
  };
  const objectsOf = (version: string) => [...bucket.objects.entries()].filter(([name]) => name.startsWith(`models/llama/${version}/`));
  const heldBy = (version: string) => objectsOf(version).map(([name, o]) => ({ name, hold: !!o.temporaryHold, marker: o.metadata?.[HOLD_MARKER_KEY] ?? null }));
  return { bucket, versions, rollouts, deps, applied, logger, deploy, succeed, release, teardownRuns, objectsOf, heldBy, clock };
}

test('a rollout holds every validated object of its version before applying, marked as ferry’s, and the reconciler keeps them while it is served', async () => {
  const s = await setup();
  const id = await s.deploy('v1');
  assert.ok(s.applied.includes('Deployment/llama'), 'applied');
  const v1 = s.heldBy('v1');
  assert.ok(v1.length >= 3);
  for (const o of v1) assert.deepEqual(o, { name: o.name, hold: true, marker: id }, o.name);
  // Every hold PATCH came before the apply: the apply found them all in place (order of calls).
  assert.equal(s.bucket.holdCalls.filter((c) => c.hold && c.outcome === 'done').length, v1.length);
  assert.deepEqual((await s.versions.getVersion('llama', 'v1'))?.holds?.rolloutId, id);
  // Held objects cannot be overwritten or deleted (what GCS enforces).
  assert.throws(() => s.bucket.put(v1[0]!.name, new Uint8Array([1])), /temporary hold/);
  assert.deepEqual(
    s.heldBy('v2').filter((o) => o.hold),
    [],
    'nothing else held',
  );

  // In flight, then served: the reconciler releases nothing.
  assert.equal((await releaseUnusedHolds(s.release)).released, 0);
  await s.succeed(id);
  assert.equal((await releaseUnusedHolds(s.release)).released, 0);
  assert.ok(s.heldBy('v1').every((o) => o.hold));
});

test('the target moves to another version: the old version’s holds are released, the new one’s kept, the note cleared', async () => {
  const s = await setup();
  await s.succeed(await s.deploy('v1'));
  const second = await s.deploy('v2');
  // v2 in flight, v1 still the last good (a rollback would go back to it): both held.
  assert.equal((await releaseUnusedHolds(s.release)).released, 0);
  await s.succeed(second);
  const r = await releaseUnusedHolds(s.release);
  assert.equal(r.released, s.objectsOf('v1').length);
  assert.deepEqual(
    s.heldBy('v1').filter((o) => o.hold || o.marker),
    [],
    'v1: no hold, no marker left',
  );
  assert.ok(s.heldBy('v2').every((o) => o.hold && o.marker === second));
  assert.equal((await s.versions.getVersion('llama', 'v1'))?.holds, null);
  // Released: v1 can be overwritten again; a second tick has nothing to do.
  s.bucket.put(s.heldBy('v1')[0]!.name, readFileSync(join(LLAMA, 'config.json')));
  assert.deepEqual(await releaseUnusedHolds(s.release), { versions: 1, released: 0, kept: 0, failed: 0 });
});

test('a version served by two targets is released only when neither serves it', async () => {
  const s = await setup();
  const other = { ...TARGET, name: 'llama-b' };
  await s.succeed(await s.deploy('v1'));
  await s.succeed(await s.deploy('v1', other));
  await s.succeed(await s.deploy('v2'));
  assert.equal((await releaseUnusedHolds(s.release)).released, 0, 'llama-b still serves v1');
  await s.succeed(await s.deploy('v2', other));
  assert.ok((await releaseUnusedHolds(s.release)).released > 0);
  assert.ok(s.heldBy('v1').every((o) => !o.hold));
});

test('never releases a hold ferry did not set: an object someone else held keeps its hold (and gets no marker)', async () => {
  const s = await setup();
  const theirs = s.objectsOf('v1')[0]![0];
  s.bucket.holdAsOthers(theirs);
  const id = await s.deploy('v1');
  assert.deepEqual(
    s.heldBy('v1').find((o) => o.name === theirs),
    { name: theirs, hold: true, marker: null },
    'not marked as ferry’s',
  );
  assert.ok(
    s
      .heldBy('v1')
      .filter((o) => o.name !== theirs)
      .every((o) => o.hold && o.marker === id),
  );
  await s.succeed(id);
  await s.succeed(await s.deploy('v2'));
  await releaseUnusedHolds(s.release);
  const after = s.heldBy('v1');
  assert.deepEqual(
    after.find((o) => o.name === theirs),
    { name: theirs, hold: true, marker: null },
    'their hold stays',
  );
  assert.ok(
    after.filter((o) => o.name !== theirs).every((o) => !o.hold && !o.marker),
    'ferry’s are released',
  );
  assert.ok(!s.bucket.holdCalls.some((c) => c.name === theirs), 'never PATCHed');
});

test('a release racing a new rollout of the same version: the rollout’s holds win', async () => {
  const s = await setup();
  await s.succeed(await s.deploy('v1'));
  await s.succeed(await s.deploy('v2'));
  // The releaser lists v1 (held, unused) … and a new rollout of v1 holds it before the releaser PATCHes.
  const store = s.bucket;
  const list = store.list.bind(store);
  let raced = false;
  store.list = async (prefix: string) => {
    const listed = await list(prefix);
    if (!raced && prefix === 'models/llama/v1/' && listed.some((o) => o.temporaryHold)) {
      raced = true;
      // Another target starts serving v1 right after the releaser's re-check of use: that one
      // re-check does not see it yet (the next would).
      const all = s.release.targets;
      s.release.targets = async () => {
        s.release.targets = all;
        return (await all()).filter((t) => t.target.name === TARGET.name);
      };
      await s.deploy('v1', { ...TARGET, name: 'llama-c' });
    }
    return listed;
  };
  const r = await releaseUnusedHolds(s.release);
  assert.ok(raced);
  assert.equal(r.released, 0, 'every release PATCH was on a stale metageneration (412)');
  assert.ok(
    s.bucket.holdCalls.some((c) => !c.hold && c.outcome === 'conflict'),
    'the releases were tried, and refused',
  );
  assert.equal(r.kept, 1, 'listed again, the new rollout is seen: kept');
  assert.ok(
    s.heldBy('v1').every((o) => o.hold && o.marker),
    'v1 is still held for the new rollout',
  );
  assert.ok((await s.versions.getVersion('llama', 'v1'))?.holds, 'the note stays');
});

test('a rollout admitted after the release decided keeps its holds: the re-check of use sees it', async () => {
  const s = await setup();
  await s.succeed(await s.deploy('v1'));
  await s.succeed(await s.deploy('v2'));
  const targets = s.release.targets;
  let calls = 0;
  s.release.targets = async () => {
    // The first read (which versions are used) is before the new rollout; the re-check after it.
    if (++calls === 2) await s.deploy('v1', { ...TARGET, name: 'llama-c' });
    return targets();
  };
  const r = await releaseUnusedHolds(s.release);
  assert.equal(r.released, 0);
  assert.equal(r.kept, 1);
  assert.ok(s.heldBy('v1').every((o) => o.hold));
});

test('teardown scaling the target to zero makes its version unused: the holds are released', async () => {
  const s = await setup();
  await s.succeed(await s.deploy('v1'));
  assert.equal((await releaseUnusedHolds(s.release)).released, 0);
  const at = s.clock.now().toISOString();
  s.teardownRuns.push({
    schemaVersion: 1,
    id: 'td-1',
    trigger: 'schedule',
    startedAt: at,
    finishedAt: at,
    dryRun: false,
    plan: { at, dryRun: false, policy: {} as never, actions: [], skipped: [] },
    results: [
      {
        action: { kind: 'scale-deployment', targetKey: targetKey(TARGET), cluster: TARGET.cluster, namespace: TARGET.namespace, name: TARGET.name },
        outcome: 'done',
        reason: 'IDLE',
        message: 'idle',
        operations: [],
        at,
      },
    ],
    inventoryWarnings: [],
    summary: { planned: 1, done: 1, started: 0, skipped: 0, failed: 0 },
  });
  assert.ok((await releaseUnusedHolds(s.release)).released > 0);
  assert.ok(s.heldBy('v1').every((o) => !o.hold));
  // Deployed again after the teardown: held again.
  await s.deploy('v1');
  assert.ok(s.heldBy('v1').every((o) => o.hold));
});

test('a store that cannot hold (the Storage emulator’s 501) does not stop a rollout: applied, logged once with HOLDS_UNSUPPORTED', async () => {
  const s = await setup('unsupported');
  await s.deploy('v1');
  assert.ok(s.applied.includes('Deployment/llama'), 'applied anyway');
  assert.equal(s.bucket.holdCalls.length, 1, 'one PATCH tried, then no more for this version');
  assert.deepEqual(
    s.heldBy('v1').filter((o) => o.hold),
    [],
  );
  await s.deploy('v2', { ...TARGET, name: 'llama-b' });
  assert.ok(s.applied.filter((a) => a === 'Deployment/llama-b').length === 1);
  const codes = s.logger.entries.filter((e) => e['code'] === 'HOLDS_UNSUPPORTED');
  assert.ok(codes.length <= 1, 'logged at most once per process');
  assert.equal((await s.versions.getVersion('llama', 'v1'))?.holds, null, 'no note left for the reconciler to look at');
  assert.deepEqual(await releaseUnusedHolds(s.release), { versions: 0, released: 0, kept: 0, failed: 0 });
});

test('a hold that fails (no permission) warns HOLD_FAILED with the next step and the rollout applies; a content change while holding refuses it', async () => {
  const s = await setup();
  s.bucket.failures.push({
    op: 'hold',
    error: new FerryError('HOLD_FAILED', 'setting a temporary hold: permission denied', { hint: 'Grant storage.objects.update on gs://ferry-models' }),
  });
  await s.deploy('v1');
  assert.ok(s.applied.includes('Deployment/llama'));
  const warned = s.logger.entries.find((e) => e['code'] === 'HOLD_FAILED');
  assert.ok(warned, 'HOLD_FAILED logged');
  assert.match(String(warned['hint']), /storage\.objects\.update/);

  // The content changes between the re-list and the hold: the apply is refused.
  const t = await setup();
  const shard = t.objectsOf('v1').find(([n]) => n.endsWith('.safetensors'))![0];
  const list = t.bucket.list.bind(t.bucket);
  let calls = 0;
  t.bucket.list = async (prefix: string) => {
    // 1st listing: the CONTENT_CHANGED re-list; before the 2nd (the hold's own), someone overwrites.
    if (++calls === 2) t.bucket.put(shard, readFileSync(join(LLAMA, 'config.json')));
    return list(prefix);
  };
  await t.deploy('v1');
  assert.ok(!t.applied.includes('Deployment/llama'), 'not applied');
  const r = [...t.rollouts.rollouts.values()][0]!;
  assert.equal(r.phase, 'failed');
  assert.match(r.message ?? '', /CONTENT_CHANGED|not the validated|while ferry was holding/);
});

test('versionsInUse: a target’s in-flight rollout and last good count; teardown after the last good does not', async () => {
  const { versionsInUse } = await import('../../../shared/domain/holds.ts');
  const t = (name: string, lastGood: string | null, at = '2026-12-06T12:00:00.000Z'): TargetState => ({
    ...newTargetState({ ...TARGET, name }, new Date(at)),
    lastGood: lastGood ? { rolloutId: 'ro-x', specDigest: 'd', model: 'm', version: lastGood, at } : null,
  });
  const runs = [
    { dryRun: false, results: [{ action: { kind: 'delete-cluster', cluster: 'local' }, outcome: 'started', at: '2026-12-06T13:00:00.000Z' }] },
  ] as never;
  const a = targetKey({ ...TARGET, name: 'a' });
  const b = targetKey({ ...TARGET, name: 'b' });
  assert.deepEqual(
    [...versionsInUse([t('a', 'v1'), t('b', 'v2')], new Map([[a, { model: 'm', version: 'v3' }]]), [])],
    [
      ['m/v3', [a]],
      ['m/v1', [a]],
      ['m/v2', [b]],
    ],
  );
  assert.deepEqual([...versionsInUse([t('a', 'v1')], new Map(), runs)], [], 'its cluster was deleted after');
  assert.deepEqual([...versionsInUse([t('a', 'v1', '2026-12-06T14:00:00.000Z')], new Map(), runs)], [['m/v1', [a]]], 'deployed again since');
});

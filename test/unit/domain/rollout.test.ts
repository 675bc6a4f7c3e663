import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { FerryError } from '../../../shared/domain/errors.ts';
import {
  LEGAL_TRANSITIONS,
  POD_FAILURE_REASONS,
  ROLLOUT_PHASES,
  Rollout,
  isLegalTransition,
  isTerminalPhase,
  newRollout,
  transition,
  type RolloutPhase,
} from '../../../shared/domain/rollout.ts';
import { deploymentStatus } from '../../../shared/domain/deployment-status.ts';
import { claimAction, isClaimed, nextStep, type Action, type Observation } from '../../../shared/domain/rollout-step.ts';
import { TargetState, admitRollout, newTargetState, releaseTarget } from '../../../shared/domain/target-state.ts';
import type { CacheObservation } from '../../../shared/domain/cache.ts';
import { DeployRequest } from '../../../shared/domain/deploy-request.ts';
import { render } from '../../../shared/domain/render.ts';
import { ANNOTATIONS } from '../../../shared/domain/rendered-spec.ts';
import { T0, at, cachePlan, cluster, complete, deepFreeze, dep, inProgress, kinds, makeRollout, phases, pod, step, request } from '../../helpers/rollouts.ts';

// ---------------------------------------------------------------------------------------------
// deploymentStatus: every kubectl branch, then early failure

test('deploymentStatus follows kubectl rollout status branch by branch', () => {
  const cases: Array<[string, V1Deployment | null, string, string, RegExp]> = [
    ['missing', null, 'waiting', 'DeploymentMissing', /not found/],
    [
      '1. generation not observed',
      dep({ generation: 3, observedGeneration: 2 }),
      'waiting',
      'SpecUpdateNotObserved',
      /^Waiting for deployment spec update to be observed/,
    ],
    [
      '1. not observed beats a stale deadline',
      dep({ generation: 3, observedGeneration: 2, progressingReason: 'ProgressDeadlineExceeded' }),
      'waiting',
      'SpecUpdateNotObserved',
      /spec update/,
    ],
    [
      '1. fresh object without status',
      { metadata: { name: 'llama', generation: 1 }, spec: { selector: {}, template: {} } },
      'waiting',
      'SpecUpdateNotObserved',
      /spec update/,
    ],
    [
      '2. progress deadline exceeded',
      dep({ updated: 0, available: 0, progressingReason: 'ProgressDeadlineExceeded' }),
      'failed',
      'ProgressDeadlineExceeded',
      /^deployment "llama" exceeded its progress deadline$/,
    ],
    ['2. deadline beats counts that look done', dep({ progressingReason: 'ProgressDeadlineExceeded' }), 'failed', 'ProgressDeadlineExceeded', /exceeded/],
    [
      '3. updated < spec.replicas',
      dep({ specReplicas: 3, replicas: 3, updated: 1, available: 3 }),
      'waiting',
      'ReplicasUpdating',
      /: 1 out of 3 new replicas have been updated/,
    ],
    [
      '3. skipped when spec.replicas is unset',
      dep({ specReplicas: undefined, replicas: 1, updated: 1, available: 1 }),
      'done',
      'RolloutComplete',
      /successfully rolled out/,
    ],
    [
      '4. old replicas terminating',
      dep({ specReplicas: 1, replicas: 2, updated: 1, available: 1 }),
      'waiting',
      'OldReplicasTerminating',
      /: 1 old replicas are pending termination/,
    ],
    [
      '5. available < updated',
      dep({ specReplicas: 2, replicas: 2, updated: 2, available: 1 }),
      'waiting',
      'ReplicasBecomingAvailable',
      /: 1 of 2 updated replicas are available/,
    ],
    [
      '6. done',
      dep({ specReplicas: 2, replicas: 2, updated: 2, available: 2, progressingReason: 'NewReplicaSetAvailable' }),
      'done',
      'RolloutComplete',
      /^deployment "llama" successfully rolled out$/,
    ],
    ['6. scaled to zero is done', dep({ specReplicas: 0, replicas: 0, updated: 0, available: 0 }), 'done', 'RolloutComplete', /successfully/],
    [
      'other Progressing reasons do not fail',
      dep({ updated: 0, available: 0, progressingReason: 'ReplicaSetCreateError' }),
      'waiting',
      'ReplicasUpdating',
      /0 out of 1/,
    ],
  ];
  for (const [name, d, state, reason, message] of cases) {
    const s = deploymentStatus(d);
    assert.equal(s.state, state, name);
    assert.equal(s.reason, reason, name);
    assert.match(s.message, message, name);
  }
});

test('deploymentStatus fails early on a broken pod of the new template', () => {
  const waiting = dep({ rolloutId: 'r-new', replicas: 2, updated: 1, available: 0 });
  for (const reason of POD_FAILURE_REASONS) {
    const s = deploymentStatus(waiting, [pod('llama-1', 'r-new', reason, 5)]);
    assert.deepEqual([s.state, s.reason], ['failed', reason], reason);
    assert.match(s.message, new RegExp(`^pod llama-1 container vllm: ${reason}`));
  }
  const crash = deploymentStatus(waiting, [pod('llama-1', 'r-new', 'CrashLoopBackOff', 3)]);
  assert.equal(crash.message, 'pod llama-1 container vllm: CrashLoopBackOff after 3 restarts (last exit: Error 1): CrashLoopBackOff happened');

  // not yet: CrashLoopBackOff below the restart threshold, other waiting reasons, old pods, terminating pods
  assert.equal(deploymentStatus(waiting, [pod('p', 'r-new', 'CrashLoopBackOff', 1)]).state, 'waiting');
  assert.equal(deploymentStatus(waiting, [pod('p', 'r-new', 'CrashLoopBackOff', 1)], { crashLoopMinRestarts: 1 }).state, 'failed');
  assert.equal(deploymentStatus(waiting, [pod('p', 'r-new', 'ContainerCreating')]).state, 'waiting');
  assert.equal(deploymentStatus(waiting, [pod('p', 'r-old', 'ImagePullBackOff')]).state, 'waiting');
  assert.equal(deploymentStatus(waiting, [pod('p', 'r-new', 'ImagePullBackOff', 0, { deletionTimestamp: new Date(T0) })]).state, 'waiting');
  // explicit rollout id / pod-template-hash
  assert.equal(deploymentStatus(waiting, [pod('p', 'r-old', 'ImagePullBackOff')], { rolloutId: 'r-old' }).state, 'failed');
  assert.equal(deploymentStatus(waiting, [pod('p', 'r-new', 'ImagePullBackOff')], { podTemplateHash: 'other' }).state, 'waiting');
  // without a rollout annotation on the Deployment every given pod counts
  assert.equal(deploymentStatus(dep({ replicas: 2, updated: 1, available: 0 }), [pod('p', 'anything', 'ErrImagePull')]).state, 'failed');
  // init containers too
  const init: V1Pod = {
    metadata: { name: 'p', annotations: { [ANNOTATIONS.rolloutId]: 'r-new' } },
    status: {
      initContainerStatuses: [
        { name: 'init', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError' } } },
      ],
    },
  };
  assert.equal(deploymentStatus(waiting, [init]).reason, 'CreateContainerConfigError');
  // first broken pod by name, deterministic
  assert.match(deploymentStatus(waiting, [pod('b', 'r-new', 'ErrImagePull'), pod('a', 'r-new', 'InvalidImageName')]).message, /^pod a /);
  // early failure never overrides kubectl's verdicts
  assert.equal(deploymentStatus(complete('r-new'), [pod('p', 'r-new', 'CrashLoopBackOff', 9)]).state, 'done');
  assert.equal(deploymentStatus(dep({ rolloutId: 'r-new', generation: 3 }), [pod('p', 'r-new', 'CrashLoopBackOff', 9)]).reason, 'SpecUpdateNotObserved');
});

// ---------------------------------------------------------------------------------------------
// The machine

test('happy path: pending → applying → progressing → succeeded', () => {
  const r0 = makeRollout('r-new');
  assert.deepEqual(phases(r0), ['pending']);
  assert.equal(r0.reason, 'Created');

  const s1 = step(r0, cluster(complete('r-prev'), [], 'r-prev'), at(1));
  assert.equal(s1.rollout.phase, 'applying');
  assert.equal(s1.rollout.previousGoodRolloutId, 'r-prev');
  assert.equal(s1.rollout.attempts, 1);
  assert.deepEqual(kinds(s1.actions), ['apply']);
  const apply = s1.actions[0] as Extract<Action, { kind: 'apply' }>;
  assert.deepEqual(apply.spec, r0.spec);
  assert.deepEqual(apply.target, r0.target);

  // an observation from before the apply took effect: apply again, nothing else changes
  const s1b = step(s1.rollout, cluster(complete('r-prev')), at(5));
  assert.deepEqual(s1b.rollout, s1.rollout);
  assert.deepEqual(kinds(s1b.actions), ['apply']);

  const s2 = step(s1.rollout, cluster(dep({ rolloutId: 'r-new', generation: 3, observedGeneration: 2 })), at(10));
  assert.equal(s2.rollout.phase, 'progressing');
  assert.equal(s2.rollout.detail?.reason, 'SpecUpdateNotObserved');
  assert.deepEqual(s2.actions, []);

  const s3 = step(s2.rollout, cluster(inProgress('r-new'), [pod('llama-x', 'r-new')]), at(100));
  assert.equal(s3.rollout.phase, 'progressing');
  assert.equal(s3.rollout.detail?.reason, 'OldReplicasTerminating');
  assert.equal(s3.rollout.history.length, s2.rollout.history.length);

  const s4 = step(s3.rollout, cluster(complete('r-new')), at(400));
  assert.equal(s4.rollout.phase, 'succeeded');
  assert.equal(s4.rollout.reason, 'RolloutComplete');
  assert.deepEqual(kinds(s4.actions), ['notify']);
  assert.deepEqual(phases(s4.rollout), ['pending', 'applying', 'progressing', 'succeeded']);
  assert.deepEqual(
    s4.rollout.history.map((h) => h.at),
    [at(0), at(1), at(10), at(400)].map((d) => d.toISOString()),
  );
  assert.equal(s4.rollout.updatedAt, at(400).toISOString());

  // terminal: nothing more, whatever is observed
  const s5 = nextStep(s4.rollout, cluster(null), at(500));
  assert.equal(s5.rollout, s4.rollout);
  assert.deepEqual(s5.actions, []);

  // and it survives a storage round trip
  assert.deepEqual(Rollout.parse(JSON.parse(JSON.stringify(s4.rollout))), s4.rollout);
});

test('one observation that already shows success goes all the way in one step', () => {
  const s = step(makeRollout('r-new'), cluster(complete('r-new')), at(1));
  assert.deepEqual(phases(s.rollout), ['pending', 'applying', 'progressing', 'succeeded']);
  assert.deepEqual(kinds(s.actions), ['notify']);
});

test('failure with a previous good rollout: failed → rolling_back → rolled_back', () => {
  const applying = step(makeRollout('r-new'), cluster(complete('r-prev'), [], 'r-prev'), at(1)).rollout;
  const progressing = step(applying, cluster(inProgress('r-new')), at(10)).rollout;

  const broken = step(progressing, cluster(inProgress('r-new'), [pod('llama-n', 'r-new', 'CrashLoopBackOff', 3)]), at(60));
  assert.equal(broken.rollout.phase, 'rolling_back');
  assert.deepEqual(phases(broken.rollout), ['pending', 'applying', 'progressing', 'failed', 'rolling_back']);
  const failedEntry = broken.rollout.history[3]!;
  assert.equal(failedEntry.reason, 'CrashLoopBackOff');
  assert.match(failedEntry.message!, /pod llama-n container vllm: CrashLoopBackOff after 3 restarts/);
  assert.equal(broken.rollout.attempts, 2);
  assert.deepEqual(broken.actions, [{ kind: 'reapply-previous', rolloutId: 'r-prev', failedRolloutId: 'r-new', target: request.target }]);

  // the cluster still shows the broken template: keep asking for the previous one
  const still = step(broken.rollout, cluster(inProgress('r-new')), at(70));
  assert.deepEqual(still.rollout, broken.rollout);
  assert.deepEqual(kinds(still.actions), ['reapply-previous']);
  // a Deployment deleted meanwhile is re-created by the same re-apply
  const gone = step(broken.rollout, cluster(null), at(75));
  assert.deepEqual([gone.rollout, kinds(gone.actions)], [broken.rollout, ['reapply-previous']]);
  // …but not forever
  const stuck = step(broken.rollout, cluster(inProgress('r-new')), at(60 + 301));
  assert.deepEqual([stuck.rollout.phase, stuck.rollout.reason], ['failed', 'RollbackFailed']);

  // previous template observed, judged on the previous rollout's pods (the broken new pods don't count)
  const back = step(
    broken.rollout,
    cluster(dep({ rolloutId: 'r-prev', replicas: 2, updated: 1, available: 1 }), [pod('llama-n', 'r-new', 'CrashLoopBackOff', 9)]),
    at(80),
  );
  assert.equal(back.rollout.phase, 'rolling_back');
  assert.equal(back.rollout.detail?.reason, 'OldReplicasTerminating');
  assert.deepEqual(back.actions, []);

  const done = step(back.rollout, cluster(complete('r-prev')), at(90));
  assert.equal(done.rollout.phase, 'rolled_back');
  assert.equal(done.rollout.reason, 'RolledBack');
  assert.deepEqual(kinds(done.actions), ['notify']);
  assert.deepEqual(phases(done.rollout), ['pending', 'applying', 'progressing', 'failed', 'rolling_back', 'rolled_back']);
});

test('ProgressDeadlineExceeded fails the rollout (and rolls back)', () => {
  const progressing = step(makeRollout('r-new', { previousGoodRolloutId: 'r-prev' }), cluster(inProgress('r-new')), at(1)).rollout;
  const s = step(progressing, cluster(dep({ rolloutId: 'r-new', updated: 0, available: 0, progressingReason: 'ProgressDeadlineExceeded' })), at(900));
  assert.equal(s.rollout.history.at(-2)!.reason, 'ProgressDeadlineExceeded');
  assert.equal(s.rollout.phase, 'rolling_back');
});

test('failure with no previous good rollout: scale to zero, end failed', () => {
  const progressing = step(makeRollout('r-new'), cluster(inProgress('r-new'), [], null), at(1)).rollout;
  assert.equal(progressing.previousGoodRolloutId, null);
  const s = step(progressing, cluster(inProgress('r-new'), [pod('p', 'r-new', 'ImagePullBackOff')]), at(30));
  assert.equal(s.rollout.phase, 'failed');
  assert.equal(s.rollout.reason, 'ImagePullBackOff');
  assert.match(s.rollout.message, /no previous good rollout: scaled to zero$/);
  assert.deepEqual(kinds(s.actions), ['scale-to-zero', 'notify']);
  assert.deepEqual(s.actions[0], { kind: 'scale-to-zero', rolloutId: 'r-new', target: request.target });
  assert.deepEqual(phases(s.rollout), ['pending', 'applying', 'progressing', 'failed']);
  // failed is final: no rollback, no second scale-to-zero
  const later = nextStep(s.rollout, cluster(complete('r-new')), at(60));
  assert.equal(later.rollout, s.rollout);
  assert.deepEqual(later.actions, []);
});

test('the rollback itself failing ends failed (RollbackFailed) without touching anything', () => {
  const rb = step(
    makeRollout('r-new', { previousGoodRolloutId: 'r-prev' }),
    cluster(dep({ rolloutId: 'r-new', progressingReason: 'ProgressDeadlineExceeded' })),
    at(1),
  ).rollout;
  assert.equal(rb.phase, 'rolling_back');
  const s = step(rb, cluster(dep({ rolloutId: 'r-prev', replicas: 2, updated: 1, available: 0 }), [pod('p', 'r-prev', 'ErrImagePull')]), at(20));
  assert.deepEqual([s.rollout.phase, s.rollout.reason], ['failed', 'RollbackFailed']);
  assert.match(s.rollout.message, /^ErrImagePull: /);
  assert.deepEqual(kinds(s.actions), ['notify']);
});

test('hands off when someone else changes or deletes the Deployment', () => {
  const progressing = step(makeRollout('r-new', { previousGoodRolloutId: 'r-prev' }), cluster(inProgress('r-new')), at(1)).rollout;
  const changed = step(progressing, cluster(complete('someone-else')), at(5));
  assert.deepEqual([changed.rollout.phase, changed.rollout.reason], ['failed', 'DeploymentChanged']);
  assert.deepEqual(kinds(changed.actions), ['notify']);
  const deleted = step(progressing, cluster(null), at(5));
  assert.deepEqual([deleted.rollout.phase, deleted.rollout.reason], ['failed', 'DeploymentDeleted']);
  assert.deepEqual(kinds(deleted.actions), ['notify']);
});

test('an apply that never shows up: ApplyNotObserved after the observe timeout', () => {
  const applying = step(makeRollout('r-new'), cluster(null), at(0)).rollout;
  assert.deepEqual(kinds(step(applying, cluster(null), at(300)).actions), ['apply']);
  const s = step(applying, cluster(complete('other')), at(301));
  assert.deepEqual([s.rollout.phase, s.rollout.reason], ['failed', 'ApplyNotObserved']);
  assert.deepEqual(kinds(s.actions), ['notify']);
  // the timeout is an option
  assert.equal(nextStep(applying, cluster(null), at(301), { applyObserveTimeoutSeconds: 600 }).rollout.phase, 'applying');
});

test('RolloutTimeout when the Deployment never finishes nor reports a deadline', () => {
  const r = makeRollout('r-new', { timeoutSeconds: 1000 });
  const progressing = step(r, cluster(inProgress('r-new'), [], 'r-prev'), at(0)).rollout;
  assert.equal(step(progressing, cluster(inProgress('r-new')), at(1000)).rollout.phase, 'progressing');
  const s = step(progressing, cluster(inProgress('r-new')), at(1001));
  assert.equal(s.rollout.history.at(-2)!.reason, 'RolloutTimeout');
  assert.equal(s.rollout.phase, 'rolling_back');
  // without a timeout only the progress deadline decides
  const untimed = step(makeRollout('r-new', { timeoutSeconds: null }), cluster(inProgress('r-new')), at(0)).rollout;
  assert.equal(step(untimed, cluster(inProgress('r-new')), at(100_000)).rollout.phase, 'progressing');
});

test('apply rejected for good: fail (roll back / scale to zero); a repeated report is harmless', () => {
  const applying = step(makeRollout('r-new'), cluster(complete('r-prev'), [], 'r-prev'), at(1)).rollout;
  const rejected: Observation = { kind: 'apply-rejected', action: 'apply', message: 'Deployment.apps "llama" is invalid', code: '422' };
  const s = step(applying, rejected, at(2));
  assert.deepEqual(phases(s.rollout).slice(-2), ['failed', 'rolling_back']);
  assert.equal(s.rollout.history.at(-2)!.reason, 'ApplyRejected');
  assert.match(s.rollout.history.at(-2)!.message!, /422: Deployment.apps "llama" is invalid/);
  assert.deepEqual(kinds(s.actions), ['reapply-previous']);
  // the rollback's own apply rejected → RollbackFailed; an old 'apply' rejection is ignored
  assert.deepEqual(nextStep(s.rollout, rejected, at(3)).rollout, s.rollout);
  const rb = step(s.rollout, { kind: 'apply-rejected', action: 'reapply-previous', message: 'forbidden' }, at(3));
  assert.deepEqual([rb.rollout.phase, rb.rollout.reason], ['failed', 'RollbackFailed']);

  const first = step(makeRollout('r-new'), cluster(null, [], null), at(1)).rollout;
  const none = step(first, rejected, at(2));
  assert.deepEqual([none.rollout.phase, none.rollout.reason], ['failed', 'ApplyRejected']);
  assert.deepEqual(kinds(none.actions), ['scale-to-zero', 'notify']);
});

test('supersede: a newer request replaces the queued one; only pending rollouts are superseded', () => {
  let target = newTargetState(request.target, at(0));
  const a = admitRollout(target, 'r-a', at(1));
  assert.deepEqual([a.decision, a.supersedes], ['start', null]);
  target = a.state;
  const b = admitRollout(target, 'r-b', at(2));
  assert.deepEqual([b.decision, b.supersedes], ['queued', null]);
  target = b.state;
  assert.equal(admitRollout(target, 'r-b', at(3)).decision, 'known');
  assert.equal(admitRollout(target, 'r-b', at(3)).state, target);
  const c = admitRollout(target, 'r-c', at(4));
  assert.deepEqual([c.decision, c.supersedes], ['queued', 'r-b']);
  target = c.state;
  assert.deepEqual([target.activeRolloutId, target.queuedRolloutId], ['r-a', 'r-c']);

  const rb = makeRollout('r-b');
  const s = step(rb, { kind: 'superseded', byRolloutId: 'r-c' }, at(4));
  assert.deepEqual([s.rollout.phase, s.rollout.reason, s.rollout.supersededBy], ['superseded', 'Superseded', 'r-c']);
  assert.deepEqual(kinds(s.actions), ['notify']);
  // an active rollout is not superseded
  const applying = step(makeRollout('r-a'), cluster(null), at(1)).rollout;
  assert.deepEqual(nextStep(applying, { kind: 'superseded', byRolloutId: 'r-c' }, at(5)).rollout, applying);

  // r-a succeeds: it becomes last good, r-c becomes active and starts with r-a as its rollback target
  const ra = step(makeRollout('r-a'), cluster(complete('r-a')), at(6)).rollout;
  const released = releaseTarget(target, ra, at(7));
  assert.equal(released.next, 'r-c');
  assert.deepEqual([released.state.activeRolloutId, released.state.queuedRolloutId], ['r-c', null]);
  assert.equal(released.state.lastGood?.rolloutId, 'r-a');
  assert.equal(released.state.lastGood?.specDigest, ra.specDigest);
  assert.deepEqual(releaseTarget(released.state, ra, at(8)).state, released.state); // repeated: no-op
  assert.doesNotThrow(() => TargetState.parse(released.state));
  const rc = step(makeRollout('r-c'), cluster(complete('r-a'), [], released.state.lastGood!.rolloutId), at(9)).rollout;
  assert.equal(rc.previousGoodRolloutId, 'r-a');

  // a rolled-back or failed rollout keeps the old last good; a non-terminal one is not released
  const failed = step(makeRollout('r-c'), cluster(null, [], null), at(1)).rollout;
  assert.equal(releaseTarget(released.state, failed, at(10)).state, released.state);
  const rcFailed = step(failed, { kind: 'apply-rejected', action: 'apply', message: 'x' }, at(11)).rollout;
  const after = releaseTarget(released.state, rcFailed, at(12));
  assert.deepEqual([after.state.activeRolloutId, after.state.lastGood?.rolloutId, after.next], [null, 'r-a', null]);
});

test('transition: only legal moves, recorded with reason and time', () => {
  const base = makeRollout('r-new', { previousGoodRolloutId: 'r-prev' });
  const reach: Record<RolloutPhase, RolloutPhase[]> = {
    pending: [],
    caching: ['caching'],
    applying: ['applying'],
    progressing: ['applying', 'progressing'],
    verifying: ['applying', 'progressing', 'verifying'],
    succeeded: ['applying', 'progressing', 'succeeded'],
    failed: ['applying', 'failed'],
    rolling_back: ['applying', 'failed', 'rolling_back'],
    rolled_back: ['applying', 'failed', 'rolling_back', 'rolled_back'],
    superseded: ['superseded'],
  };
  for (const from of ROLLOUT_PHASES) {
    const r = reach[from].reduce((acc, p, i) => transition(acc, p, 'Started', at(i + 1)), base);
    assert.equal(r.phase, from);
    for (const to of ROLLOUT_PHASES) {
      const legal = LEGAL_TRANSITIONS[from].includes(to) && !(to === 'rolling_back' && r.history.some((h) => h.phase === 'rolling_back'));
      if (legal) {
        const next = transition(r, to, 'RollingBack', at(50), 'why');
        assert.equal(next.phase, to);
        assert.deepEqual(next.history.at(-1), { phase: to, reason: 'RollingBack', at: at(50).toISOString(), message: 'why' });
        assert.equal(next.history.length, r.history.length + 1);
      } else {
        assert.throws(
          () => transition(r, to, 'RollingBack', at(50)),
          (e: unknown) => e instanceof FerryError && e.code === 'ILLEGAL_TRANSITION' && !e.retryable,
          `${from} → ${to}`,
        );
      }
    }
  }
  assert.ok(isLegalTransition('failed', 'rolling_back'));
  // rolling back needs somewhere to go, and happens at most once
  const noPrev = transition(makeRollout('r-x'), 'applying', 'Started', at(1));
  assert.throws(() => transition(transition(noPrev, 'failed', 'ApplyRejected', at(2)), 'rolling_back', 'RollingBack', at(3)), /needs a previous good rollout/);
  // clocks that go backwards do not reorder history
  const skew = transition(base, 'applying', 'Started', new Date(T0 - 60_000));
  assert.equal(skew.history.at(-1)!.at, base.updatedAt);
});

test('newRollout refuses pieces that do not belong together', () => {
  const rendered = render({
    request,
    rolloutId: 'r-1',
    bucket: 'bkt',
    checkpoint: { uri: 'gs://bkt/models/llama/v2', tensorBytes: 1, digest: 'd', shards: 1 },
  });
  assert.throws(
    () => newRollout({ id: 'r-2', request, spec: rendered, now: at(0) }),
    (e: unknown) => e instanceof FerryError && e.code === 'INVALID_ROLLOUT',
  );
  assert.throws(() => newRollout({ id: 'r-1', request, version: 'v3', spec: rendered, now: at(0) }), /does not match/);
  const latest = DeployRequest.parse({ ...request, version: 'latest' });
  assert.throws(() => newRollout({ id: 'r-1', request: latest, spec: rendered, now: at(0) }), /resolved version/);
  const ok = newRollout({ id: 'r-1', request: latest, version: 'v2', spec: rendered, now: at(0) });
  assert.deepEqual([ok.version, ok.request.version, ok.specDigest], ['v2', 'latest', rendered.specDigest]);
  assert.deepEqual(Object.keys(ok.spec).sort(), ['deployment', 'service']); // render's extras are not stored
});

// ---------------------------------------------------------------------------------------------
// The caching phase

const caches = (states: Record<string, CacheObservation['state']>, lastGoodRolloutId?: string | null): Observation => ({
  kind: 'caches',
  caches: Object.entries(states).map(([zone, state]) => ({ zone, state })),
  ...(lastGoodRolloutId !== undefined ? { lastGoodRolloutId } : {}),
});

test('caching: pending → caching while caches are created, → applying once every one runs', () => {
  const r0 = makeRollout('r-new', { cache: cachePlan() });
  const s1 = step(r0, caches({ 'us-central1-a': 'creating', 'us-central1-b': 'absent' }, 'r-prev'), at(1));
  assert.deepEqual(phases(s1.rollout), ['pending', 'caching']);
  assert.equal(s1.rollout.reason, 'Started');
  assert.match(s1.rollout.message, /caching gs:\/\/bkt in us-central1-a, us-central1-b before applying llama\/v2/);
  assert.deepEqual([s1.rollout.previousGoodRolloutId, s1.rollout.attempts], ['r-prev', 1]);
  assert.deepEqual(s1.rollout.cache!.observed, [
    { zone: 'us-central1-a', state: 'creating' },
    { zone: 'us-central1-b', state: 'absent' },
  ]);
  assert.deepEqual(s1.actions, [], 'nothing is applied while caching');

  // the cluster says nothing about caches: no change before the wait budget
  const s2 = step(s1.rollout, cluster(complete('r-prev')), at(30));
  assert.deepEqual(s2.rollout, s1.rollout);
  assert.deepEqual(s2.actions, []);

  const s3 = step(s1.rollout, caches({ 'us-central1-a': 'running', 'us-central1-b': 'creating' }), at(40));
  assert.equal(s3.rollout.phase, 'caching');
  assert.equal(s3.rollout.history.length, 2);
  assert.equal(s3.rollout.updatedAt, at(40).toISOString(), 'new observed states are saved');

  const s4 = step(s3.rollout, caches({ 'us-central1-a': 'running', 'us-central1-b': 'running', 'us-east1-b': 'creating' }), at(60));
  assert.deepEqual(phases(s4.rollout), ['pending', 'caching', 'applying']);
  assert.equal(s4.rollout.reason, 'CachesRunning');
  assert.deepEqual(s4.rollout.cache!.warnings, []);
  assert.deepEqual(s4.actions, [], 'the next cluster observation applies');
  const s5 = step(s4.rollout, cluster(complete('r-prev')), at(61));
  assert.deepEqual(kinds(s5.actions), ['apply']);
  assert.equal(s5.rollout.attempts, 1, 'caching then applying is one attempt');
  assert.deepEqual(Rollout.parse(JSON.parse(JSON.stringify(s5.rollout))), s5.rollout);
});

test('caching: a cache still not running after maxWaitSeconds → applying with a warning', () => {
  const caching = step(
    makeRollout('r-new', { cache: cachePlan({ maxWaitSeconds: 120 }) }),
    caches({ 'us-central1-a': 'creating', 'us-central1-b': 'running' }),
    at(0),
  ).rollout;
  assert.equal(step(caching, caches({ 'us-central1-a': 'creating', 'us-central1-b': 'running' }), at(119)).rollout.phase, 'caching');
  const late = step(caching, caches({ 'us-central1-a': 'creating', 'us-central1-b': 'running' }), at(120)).rollout;
  assert.deepEqual([late.phase, late.reason], ['applying', 'CacheWaitExceeded']);
  assert.match(late.message, /caches not running after 120s \(us-central1-a: creating\); applying anyway/);
  assert.deepEqual(late.cache!.warnings, [late.message]);
  assert.equal(late.history.at(-1)!.message, late.message);
  // the wait rule also holds on a cluster observation (e.g. the cache API cannot be reached)
  const viaCluster = step(caching, cluster(null), at(121));
  assert.deepEqual([viaCluster.rollout.phase, viaCluster.rollout.reason, kinds(viaCluster.actions)], ['applying', 'CacheWaitExceeded', ['apply']]);
  // maxWait 0: create the caches, do not wait for them
  const now0 = step(
    makeRollout('r-new', { cache: cachePlan({ maxWaitSeconds: 0 }) }),
    caches({ 'us-central1-a': 'creating', 'us-central1-b': 'creating' }),
    at(5),
  ).rollout;
  assert.deepEqual(phases(now0), ['pending', 'caching', 'applying']);
  assert.equal(now0.reason, 'CacheWaitExceeded');
});

test('caching: every missing cache failed for good → applying without it (CachesUnavailable)', () => {
  const r = step(makeRollout('r-new', { cache: cachePlan() }), caches({ 'us-central1-a': 'running', 'us-central1-b': 'failed' }), at(1)).rollout;
  assert.deepEqual([r.phase, r.reason], ['applying', 'CachesUnavailable']);
  assert.match(r.message, /no cache in us-central1-b/);
  // unknown (the API could not be asked) is not a failure: keep waiting
  const w = step(makeRollout('r-new', { cache: cachePlan() }), caches({ 'us-central1-a': 'running', 'us-central1-b': 'unknown' }), at(1)).rollout;
  assert.equal(w.phase, 'caching');
  // a planned zone missing from the observation counts as unknown
  const m = step(makeRollout('r-new', { cache: cachePlan() }), caches({ 'us-central1-a': 'running' }), at(1)).rollout;
  assert.deepEqual(m.cache!.observed, [
    { zone: 'us-central1-a', state: 'running' },
    { zone: 'us-central1-b', state: 'unknown' },
  ]);
});

test('without a cache plan nothing changes: pending → applying, and a caches observation starts it the same way', () => {
  const viaCluster = step(makeRollout('r-new'), cluster(complete('r-prev'), [], 'r-prev'), at(1)).rollout;
  assert.deepEqual(phases(viaCluster), ['pending', 'applying']);
  const viaCaches = step(makeRollout('r-new'), caches({}, 'r-prev'), at(1)).rollout;
  assert.deepEqual(phases(viaCaches), ['pending', 'applying']);
  assert.equal(viaCaches.cache, null);
  // a caching rollout cannot be superseded (only queued, pending ones are)
  const caching = step(makeRollout('r-new', { cache: cachePlan() }), caches({}), at(1)).rollout;
  assert.deepEqual(step(caching, { kind: 'superseded', byRolloutId: 'r-newer' }, at(2)).rollout, caching);
  // a stored rollout from before caching existed parses with cache: null
  const { cache: _c, ...old } = JSON.parse(JSON.stringify(makeRollout('r-old'))) as Rollout;
  assert.equal(Rollout.parse(old).cache, null);
});

// ---------------------------------------------------------------------------------------------
// Property: any sequence of observations keeps the history consistent

const IDS = ['r-new', 'r-prev', 'r-other'] as const;
const HANDS_OFF: readonly string[] = ['ApplyNotObserved', 'DeploymentChanged', 'DeploymentDeleted'];
const depArb = fc.option(
  fc
    .record({
      rolloutId: fc.constantFrom<string | undefined>(...IDS, undefined),
      generation: fc.integer({ min: 1, max: 3 }),
      observedGeneration: fc.integer({ min: 0, max: 3 }),
      specReplicas: fc.integer({ min: 0, max: 3 }),
      replicas: fc.integer({ min: 0, max: 4 }),
      updated: fc.integer({ min: 0, max: 4 }),
      available: fc.integer({ min: 0, max: 4 }),
      progressingReason: fc.constantFrom('ReplicaSetUpdated', 'NewReplicaSetAvailable', 'ProgressDeadlineExceeded'),
    })
    .map(dep),
  { nil: null },
);
const podArb = fc
  .record({
    rid: fc.constantFrom(...IDS),
    reason: fc.constantFrom<string | undefined>(undefined, 'ContainerCreating', ...POD_FAILURE_REASONS),
    restarts: fc.integer({ min: 0, max: 4 }),
  })
  .map(({ rid, reason, restarts }) => pod(`p-${rid}-${reason}`, rid, reason, restarts));
const cacheStateArb = fc.constantFrom<CacheObservation['state']>('creating', 'running', 'running', 'paused', 'disabled', 'absent', 'failed', 'unknown');
const cachesArb: fc.Arbitrary<Observation> = fc
  .record({
    a: fc.option(cacheStateArb, { nil: undefined }),
    b: fc.option(cacheStateArb, { nil: undefined }),
    lastGood: fc.constantFrom<string | null | undefined>(undefined, null, 'r-prev'),
  })
  .map(({ a, b, lastGood }) => caches({ ...(a ? { 'us-central1-a': a } : {}), ...(b ? { 'us-central1-b': b } : {}) }, lastGood));
const obsArb: fc.Arbitrary<Observation> = fc.oneof(
  { weight: 2, arbitrary: cachesArb },
  {
    weight: 6,
    arbitrary: fc
      .record({ d: depArb, pods: fc.array(podArb, { maxLength: 3 }), lastGood: fc.constantFrom<string | null | undefined>(undefined, null, 'r-prev') })
      .map(({ d, pods, lastGood }) => cluster(d, pods, lastGood)),
  },
  { weight: 1, arbitrary: fc.constant<Observation>({ kind: 'superseded', byRolloutId: 'r-newer' }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Observation>(
      { kind: 'apply-rejected', action: 'apply', message: 'no' },
      { kind: 'apply-rejected', action: 'reapply-previous', message: 'no' },
    ),
  },
);

test('property: every step keeps history legal, ordered, and terminal phases final; steps are idempotent', () => {
  fc.assert(
    fc.property(
      fc.constantFrom<string | null>(null, 'r-prev'),
      fc.option(fc.integer({ min: 1, max: 3000 }), { nil: null }),
      fc.array(fc.tuple(obsArb, fc.integer({ min: -120, max: 900 })), { minLength: 1, maxLength: 25 }),
      fc.option(
        fc.record({
          maxWaitSeconds: fc.integer({ min: 0, max: 1200 }),
          zones: fc.constantFrom<string[]>(['us-central1-a'], ['us-central1-a', 'us-central1-b']),
        }),
        { nil: null },
      ),
      (prev, timeout, steps, plan) => {
        let r = makeRollout('r-new', { previousGoodRolloutId: prev, timeoutSeconds: timeout, cache: plan ? cachePlan(plan) : null });
        let t = 0;
        for (const [obs, dt] of steps) {
          t += dt;
          const now = at(t);
          const before = r;
          const out = nextStep(deepFreeze(r), obs, now);
          const next = out.rollout;

          // terminal phases stay terminal, untouched
          if (isTerminalPhase(before.phase)) {
            assert.equal(next, before);
            assert.deepEqual(out.actions, []);
          }
          // history: starts pending, each entry a legal transition, times non-decreasing, ≤ updatedAt
          const h = next.history;
          assert.deepEqual([h[0]!.phase, h[0]!.reason], ['pending', 'Created']);
          assert.deepEqual(h.slice(0, before.history.length), before.history, 'history is append-only');
          for (let i = 1; i < h.length; i++) {
            assert.ok(isLegalTransition(h[i - 1]!.phase, h[i]!.phase), `${h[i - 1]!.phase} → ${h[i]!.phase}`);
            assert.ok(h[i - 1]!.at <= h[i]!.at, 'timestamps non-decreasing');
          }
          assert.ok(h.at(-1)!.at <= next.updatedAt && before.updatedAt <= next.updatedAt);
          assert.deepEqual([next.phase, next.reason], [h.at(-1)!.phase, h.at(-1)!.reason]);
          const prevGood = next.previousGoodRolloutId;
          assert.ok(h.filter((e) => e.phase === 'rolling_back').length <= (prevGood ? 1 : 0), 'rolls back at most once, only with a target');
          // a stored rollout never rests in failed with a rollback pending
          if (next.phase === 'failed' && prevGood !== null) {
            const rolledBackAlready = h.some((e) => e.phase === 'rolling_back');
            assert.ok(rolledBackAlready || HANDS_OFF.includes(next.reason), `failed (${next.reason}) without rolling back`);
          }
          // actions fit the phase they leave the rollout in
          for (const a of out.actions) {
            if (a.kind === 'apply') assert.equal(next.phase, 'applying');
            if (a.kind === 'reapply-previous') assert.deepEqual([next.phase, a.rolloutId], ['rolling_back', prevGood]);
            if (a.kind === 'scale-to-zero') assert.deepEqual([next.phase, next.previousGoodRolloutId], ['failed', null]);
            if (a.kind === 'notify') assert.ok(isTerminalPhase(next.phase));
          }
          // caching: only with a plan, always right after pending, and always before applying
          const ph = h.map((e) => e.phase);
          if (!next.cache) assert.ok(!ph.includes('caching'), 'no caching phase without a plan');
          else if (ph.includes('applying')) assert.equal(ph[1], 'caching', 'a rollout with a plan caches before applying');
          if (ph.includes('caching')) assert.equal(ph.indexOf('caching'), 1);
          if (next.phase === 'caching') assert.ok(out.actions.length === 0, 'nothing is done to the cluster while caching');
          // the stored form is valid
          Rollout.parse(next);
          // idempotent: the same observation again changes nothing and notifies nobody twice
          const again = nextStep(next, obs, now);
          assert.deepEqual(again.rollout, next);
          assert.ok(again.actions.every((a) => a.kind === 'apply' || a.kind === 'reapply-previous'));
          r = next;
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('claimAction: a claim to act moves updatedAt strictly on and holds other workers off until it ends', () => {
  const r = makeRollout('r-new');
  const claimed = claimAction(r, new Date(Date.parse(r.updatedAt)), at(120));
  assert.ok(claimed.updatedAt > r.updatedAt, 'a worker that read before the claim loses its save');
  assert.equal(claimed.actingUntil, at(120).toISOString());
  assert.equal(isClaimed(claimed, at(60)), true);
  assert.equal(isClaimed(claimed, at(121)), false);
  assert.equal(isClaimed(r, at(60)), false);
  assert.deepEqual(Rollout.parse(JSON.parse(JSON.stringify(claimed))), claimed);
});

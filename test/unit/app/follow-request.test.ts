/**
 * The follow function's use case (shared/app/follow-request.ts): a follow request is parsed
 * strictly (a bad one is dropped with EVENT_INVALID, never followed), a rollout that already ended
 * or does not exist returns at once, and otherwise followDeployment runs for the configured budget
 * on the rollout's watch. The cluster is a scripted watch, as in follow-deployment.test.ts; the real
 * path (deploy function → follow topic → followRollout → kube-apiserver watch) is
 * test/integration/follow-deployment.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { followRequest, parseFollowRequest, type FollowRequestDeps } from '../../../shared/app/follow-request.ts';
import type { ClusterClient, WorkloadWatchHandlers } from '../../../shared/ports/cluster.ts';
import type { Rollout } from '../../../shared/domain/rollout.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import { handleDeployRequest, type RolloutDeps } from '../../../shared/app/rollouts.ts';
import type { RolloutState } from '../../../shared/ports/rollout-state.ts';
import type { CheckpointState } from '../../../shared/ports/checkpoint-state.ts';
import { MemoryPublisher } from '../../helpers/memory.ts';
import { MemoryPolicyStore, policyWithCluster } from '../../helpers/policy.ts';

const TARGET = { cluster: 'local', namespace: 'ferry-x', name: 'llama' };
const ID = 'ro-20261206-120000-0123456789';
const LONG = 600_000;
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

function setup(o: { phase?: string | null; followSeconds?: number; readFails?: boolean } = {}) {
  const log = memoryLogger();
  const watches: WorkloadWatchHandlers[] = [];
  const waiters: Array<() => void> = [];
  let stopped = 0;
  let advances = 0;
  let ready = false;
  const client = {
    watchWorkload: async (_ns: string, _d: string, _sel: string, h: WorkloadWatchHandlers) => {
      watches.push(h);
      for (const w of waiters.splice(0)) w();
      return { stop: () => void stopped++ };
    },
  } as unknown as ClusterClient;
  let reads = 0;
  const deps: FollowRequestDeps = {
    rollouts: {
      getRollout: async (id: string) => {
        if (o.readFails && reads++ === 0) throw Object.assign(new Error('firestore unavailable'), { code: 14 });
        return o.phase === null ? undefined : ({ id, phase: o.phase ?? 'progressing', target: TARGET } as unknown as Rollout);
      },
    },
    clusters: { get: async () => client },
    advance: async () => {
      advances++;
      return { phase: ready ? 'succeeded' : 'progressing', changed: ready };
    },
    logger: log,
    followSeconds: o.followSeconds ?? 480,
  };
  return {
    deps,
    log,
    advances: () => advances,
    watches,
    stopped: () => stopped,
    started: async () => {
      while (watches.length < 1) await new Promise<void>((r) => waiters.push(r));
      return watches[0]!;
    },
    becomeReady: () => void (ready = true),
  };
}

test('a malformed follow request is dropped with EVENT_INVALID and never followed', async () => {
  for (const bad of ['not json', enc('\xff'), { rolloutId: ID, extra: 1 }, { rolloutId: '../etc' }, { rolloutId: 7 }, {}, [ID]]) {
    const s = setup();
    const out = await followRequest({ data: typeof bad === 'object' && bad instanceof Uint8Array ? bad : enc(bad), messageId: 'm1' }, s.deps, {
      recheckMs: LONG,
    });
    assert.equal(out.outcome, 'malformed', JSON.stringify(bad));
    assert.ok(out.outcome === 'malformed' && out.issues.length > 0);
    assert.equal(s.advances(), 0);
    assert.equal(s.watches.length, 0);
    assert.ok(
      s.log.entries.some((e) => e['code'] === 'EVENT_INVALID' && e['severity'] === 'ERROR'),
      JSON.stringify(s.log.entries),
    );
  }
  // Invalid UTF-8 bytes are refused as well (not decoded with replacement characters).
  assert.equal(parseFollowRequest(new Uint8Array([0x7b, 0xff, 0x7d])).ok, false);
});

test('a rollout that already ended, or does not exist, returns at once without watching', async () => {
  const done = setup({ phase: 'succeeded' });
  assert.deepEqual(await followRequest({ data: enc({ rolloutId: ID }), messageId: 'm' }, done.deps), {
    outcome: 'terminal',
    rolloutId: ID,
    phase: 'succeeded',
  });
  assert.equal(done.watches.length + done.advances(), 0);
  const gone = setup({ phase: null });
  assert.deepEqual(await followRequest({ data: enc({ rolloutId: ID }), messageId: 'm' }, gone.deps), { outcome: 'gone', rolloutId: ID });
  assert.equal(gone.watches.length + gone.advances(), 0);
});

test('a budget of 0 follows nothing', async () => {
  const s = setup({ followSeconds: 0 });
  assert.deepEqual(await followRequest({ data: enc({ rolloutId: ID }), messageId: 'm' }, s.deps), { outcome: 'disabled', rolloutId: ID });
  assert.equal(s.watches.length + s.advances(), 0);
});

test('a rollout in flight is followed on its watch until it ends', async () => {
  const s = setup();
  const done = followRequest({ data: enc({ rolloutId: ID }), messageId: 'm' }, s.deps, { recheckMs: LONG });
  const h = await s.started();
  while (s.advances() < 1) await new Promise((r) => setImmediate(r));
  s.becomeReady();
  h.onChange();
  const out = await done;
  assert.equal(out.outcome, 'followed');
  if (out.outcome !== 'followed') return;
  assert.equal(out.report.ended, 'terminal');
  assert.equal(out.report.phase, 'succeeded');
  assert.equal(out.report.mode, 'watch');
  assert.ok(out.report.watchEvents >= 1);
  assert.equal(s.stopped(), 1, 'the watch is stopped when the follow ends');
});

test('a rollout that cannot be read first is followed anyway (the follow reads it again)', async () => {
  const s = setup({ readFails: true });
  const done = followRequest({ data: enc({ rolloutId: ID }), messageId: 'm' }, s.deps, { recheckMs: LONG });
  const h = await s.started();
  while (s.advances() < 1) await new Promise((r) => setImmediate(r));
  s.becomeReady();
  h.onChange();
  const out = await done;
  assert.equal(out.outcome, 'followed');
  assert.ok(s.log.entries.some((e) => String(e['message']).includes('could not read the rollout')));
});

// ---- the deploy side: handleDeployRequest hands a started rollout to the follow topic ----------

function deployDeps(config: RolloutDeps['config'], publisher = new MemoryPublisher()) {
  const rollouts = {
    recordRejected: async () => assert.fail('not rejected'),
    admit: async () => ({ outcome: 'admitted', decision: 'start' }),
    // The first step after admission reads the rollout; none is stored here, so it stops early
    // ("the reconciler will retry it") and the rollout stays in flight.
    getRollout: async () => {
      throw new Error('firestore unavailable');
    },
  } as unknown as RolloutState;
  const versions = {
    getVersion: async () => ({
      model: 'm',
      version: 'v1',
      status: 'valid',
      uri: 'gs://models/models/m/v1/',
      summary: { tensorBytes: 1000, shards: 1 },
      contentKey: 'k',
      errors: [],
      missing: [],
    }),
    getModel: async () => ({ model: 'm' }),
  } as unknown as CheckpointState;
  const d: RolloutDeps = {
    rollouts,
    policy: new MemoryPolicyStore(policyWithCluster('local', ['ns'])),
    versions,
    clusters: { get: async () => assert.fail('the deploy request does not follow') },
    publisher,
    clock: { now: () => new Date('2026-06-01T12:00:00.000Z') },
    logger: memoryLogger(),
    config,
  };
  return { d, publisher };
}

const deployMsg = {
  messageId: 'msg-follow-1',
  data: enc({
    apiVersion: 'ferry/v1',
    model: 'm',
    version: 'v1',
    target: { cluster: 'local', namespace: 'ns', name: 'm' },
    accelerator: { type: 'nvidia-l4', count: 1 },
    requestedBy: { source: 'cli', principal: 't' },
  }),
};

test('a started rollout is handed to the follow topic as {rolloutId}, and the deploy request returns without following', async () => {
  const { d, publisher } = deployDeps({ followTopic: 'ferry-follow-requests', followSeconds: 480 });
  const out = await handleDeployRequest(deployMsg, d);
  assert.equal(out.outcome, 'admitted');
  if (out.outcome !== 'admitted') return;
  assert.equal(out.follow, 'requested');
  assert.deepEqual(publisher.messages, [{ topic: 'ferry-follow-requests', data: { rolloutId: out.rolloutId }, attributes: {} }]);
  // What the follow function parses is exactly what the deploy function publishes.
  const parsed = parseFollowRequest(enc(publisher.messages[0]!.data));
  assert.deepEqual(parsed, { ok: true, request: { rolloutId: out.rolloutId } });
});

test('without a follow topic, or with a budget of 0, nothing is handed on', async () => {
  for (const config of [{ followSeconds: 480 }, { followTopic: 'ferry-follow-requests', followSeconds: 0 }]) {
    const { d, publisher } = deployDeps(config);
    const out = await handleDeployRequest(deployMsg, d);
    assert.equal(out.outcome, 'admitted');
    assert.equal(out.outcome === 'admitted' && out.follow, undefined);
    assert.deepEqual(publisher.messages, []);
  }
});

test('a follow request that cannot be published leaves the rollout admitted (the reconciler carries it on)', async () => {
  const publisher = new MemoryPublisher();
  publisher.failures.push(Object.assign(new Error('pubsub unavailable'), { code: 14 }));
  const { d } = deployDeps({ followTopic: 'ferry-follow-requests', followSeconds: 480 }, publisher);
  const out = await handleDeployRequest(deployMsg, d);
  assert.equal(out.outcome, 'admitted');
  assert.equal(out.outcome === 'admitted' && out.follow, 'not-requested');
});

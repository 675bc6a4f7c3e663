/**
 * The follow loop's logic (shared/app/follow-deployment.ts) with a scripted cluster: a fake watch
 * whose changes and endings the test drives, and a scripted advanceRollout. Nothing here waits on a
 * clock: budgets and rechecks are set far beyond what a test takes, so a test only passes when the
 * follow reacted to the change (or, where polling is the subject, the intervals are tiny and the
 * test waits for the outcome). The real watch runs against kube-apiserver in
 * test/integration/follow-deployment.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { followDeployment, podSelectorOf, type FollowDeploymentDeps } from '../../../shared/app/follow-deployment.ts';
import type { ClusterClient, ClusterProvider, WorkloadWatchHandlers } from '../../../shared/ports/cluster.ts';
import type { Rollout } from '../../../shared/domain/rollout.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';

const TARGET = { cluster: 'local', namespace: 'ferry-x', name: 'llama' };
const LONG = 600_000;

class FakeWatchCluster {
  calls: Array<{ namespace: string; deployment: string; podSelector: string }> = [];
  handlers: WorkloadWatchHandlers[] = [];
  stopped = 0;
  /** Fail the next n watchWorkload calls (as a failed list would). */
  failNext = 0;
  private waiters: Array<() => void> = [];
  client(withWatch = true): ClusterClient {
    const c: Partial<ClusterClient> = {};
    if (withWatch)
      c.watchWorkload = async (namespace, deployment, podSelector, h) => {
        this.calls.push({ namespace, deployment, podSelector });
        if (this.failNext > 0) {
          this.failNext--;
          throw new Error('connect ECONNREFUSED');
        }
        this.handlers.push(h);
        for (const w of this.waiters.splice(0)) w();
        return { stop: () => void this.stopped++ };
      };
    return c as ClusterClient;
  }
  /** Resolves once `n` watches have been started. */
  async started(n: number): Promise<WorkloadWatchHandlers> {
    while (this.handlers.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return this.handlers[n - 1]!;
  }
}

function deps(opts: { cluster?: ClusterClient; phases: () => string | undefined; initial?: string | null; throwOnAdvance?: () => boolean }) {
  const log = memoryLogger();
  let advances = 0;
  const provider: ClusterProvider = { get: async () => opts.cluster ?? ({} as ClusterClient) };
  const d: FollowDeploymentDeps = {
    rollouts: {
      getRollout: async (id: string) =>
        opts.initial === null ? undefined : ({ id, phase: opts.initial ?? 'progressing', target: TARGET } as unknown as Rollout),
    },
    clusters: provider,
    advance: async () => {
      advances++;
      if (opts.throwOnAdvance?.()) throw Object.assign(new Error('firestore unavailable'), { code: 14 });
      const phase = opts.phases();
      return { phase, changed: phase !== 'progressing' };
    },
    logger: log,
  };
  return { d, log, advances: () => advances };
}

test('a change on the watch advances the rollout at once, and the follow ends when the phase is terminal', async () => {
  const k = new FakeWatchCluster();
  let ready = false;
  const { d, advances } = deps({ cluster: k.client(), phases: () => (ready ? 'succeeded' : 'progressing') });
  const done = followDeployment('ro-1', d, { budgetMs: LONG, recheckMs: LONG });
  const h = await k.started(1);
  assert.deepEqual(k.calls[0], { namespace: 'ferry-x', deployment: 'llama', podSelector: podSelectorOf('llama') });
  while (advances() < 1) await new Promise((r) => setImmediate(r)); // the step after the watch started
  // Pods Ready: the Deployment's status changes, the watch reports it.
  ready = true;
  h.onChange();
  const r = await done;
  assert.equal(r.ended, 'terminal');
  assert.equal(r.phase, 'succeeded');
  assert.equal(r.mode, 'watch');
  assert.ok(r.watchEvents >= 1);
  assert.equal(r.changed, 1);
  assert.ok(advances() >= 2, 'one step when the watch started, one on the change');
  assert.equal(k.stopped, 1, 'the watch is stopped when the follow ends');
});

test('follows until isTerminalPhase, not until a fixed phase: a rollback goes on to rolled_back', async () => {
  const k = new FakeWatchCluster();
  const script = ['progressing', 'rolling_back', 'rolling_back', 'rolled_back'];
  let i = 0;
  const { d } = deps({ cluster: k.client(), phases: () => script[Math.min(i, script.length - 1)] });
  const done = followDeployment('ro-2', d, { budgetMs: LONG, recheckMs: LONG });
  const h = await k.started(1);
  for (let n = 0; n < 3; n++) {
    i++;
    h.onChange();
    await new Promise((r) => setImmediate(r));
  }
  const r = await done;
  assert.equal(r.ended, 'terminal');
  assert.equal(r.phase, 'rolled_back');
});

test('a watch that ends (410 Gone, connection drop, idle close) is re-listed and re-watched', async () => {
  const k = new FakeWatchCluster();
  let ready = false;
  const { d } = deps({ cluster: k.client(), phases: () => (ready ? 'succeeded' : 'progressing') });
  // shortLivedMs 0: these endings count as a long-lived watch closing, not as failures.
  const done = followDeployment('ro-3', d, { budgetMs: LONG, recheckMs: LONG, shortLivedMs: 0 });
  const first = await k.started(1);
  first.onEnd(Object.assign(new Error('resourceVersion expired (410 Gone)'), { code: 'CLUSTER_UNAVAILABLE' }));
  const second = await k.started(2);
  first.onChange(); // a late event from the ended watch is ignored
  second.onEnd(null); // the server closed it
  const third = await k.started(3);
  ready = true;
  third.onChange();
  const r = await done;
  assert.equal(r.ended, 'terminal');
  assert.equal(r.mode, 'watch');
  assert.equal(r.watches, 3);
  assert.equal(r.watchFailures, 0);
});

test('a watch that keeps failing is given up for polling, and the rollout is still followed to the end', async () => {
  const k = new FakeWatchCluster();
  k.failNext = 100;
  let polls = 0;
  const { d, log } = deps({ cluster: k.client(), phases: () => (++polls > 5 ? 'succeeded' : 'progressing') });
  const r = await followDeployment('ro-4', d, { budgetMs: LONG, recheckMs: LONG, pollMs: 5, maxWatchFailures: 3 });
  assert.equal(r.ended, 'terminal');
  assert.equal(r.mode, 'poll');
  assert.equal(k.calls.length, 3, 'three tries, then no more');
  assert.ok(log.entries.some((e) => String(e['message']).includes('polling every 5 ms instead')));
});

test('a cluster client without watch support is polled', async () => {
  let polls = 0;
  const { d } = deps({ cluster: new FakeWatchCluster().client(false), phases: () => (++polls > 3 ? 'failed' : 'progressing') });
  const r = await followDeployment('ro-5', d, { budgetMs: LONG, pollMs: 5 });
  assert.equal(r.ended, 'terminal');
  assert.equal(r.phase, 'failed');
  assert.equal(r.mode, 'poll');
  assert.equal(r.watches, 0);
});

test('with a watch, the rollout is still advanced every recheck (timeouts are decided by the clock)', async () => {
  const k = new FakeWatchCluster();
  let steps = 0;
  const { d } = deps({ cluster: k.client(), phases: () => (++steps > 4 ? 'failed' : 'progressing') });
  const r = await followDeployment('ro-6', d, { budgetMs: LONG, recheckMs: 5 });
  assert.equal(r.ended, 'terminal');
  assert.equal(r.watchEvents, 0, 'no change was reported: the rechecks did it');
});

test('the budget ends the follow without an error; the reconciler carries the rollout on', async () => {
  const { d, log } = deps({ cluster: new FakeWatchCluster().client(false), phases: () => 'progressing' });
  const r = await followDeployment('ro-7', d, { budgetMs: 30, pollMs: 5 });
  assert.equal(r.ended, 'budget');
  assert.equal(r.phase, 'progressing');
  assert.ok(log.entries.some((e) => String(e['message']).includes('the scheduled reconciler carries the rollout on')));
});

test('a step that throws is logged and retried; the follow never throws', async () => {
  let n = 0;
  const { d } = deps({ cluster: new FakeWatchCluster().client(false), phases: () => 'succeeded', throwOnAdvance: () => ++n <= 2 });
  const r = await followDeployment('ro-8', d, { budgetMs: LONG, pollMs: 5 });
  assert.equal(r.ended, 'terminal');
  assert.equal(r.stepErrors, 2);

  const broken: FollowDeploymentDeps = {
    ...d,
    rollouts: {
      getRollout: async () => {
        throw new Error('firestore down');
      },
    },
  };
  const r2 = await followDeployment('ro-8b', broken, { budgetMs: LONG });
  assert.equal(r2.ended, 'budget', 'stopped, not thrown');
});

test('a rollout already terminal, or gone, is not watched', async () => {
  const k = new FakeWatchCluster();
  const done = deps({ cluster: k.client(), initial: 'succeeded', phases: () => 'succeeded' });
  assert.equal((await followDeployment('ro-9', done.d, { budgetMs: LONG })).ended, 'terminal');
  const gone = deps({ cluster: k.client(), initial: null, phases: () => undefined });
  assert.equal((await followDeployment('ro-10', gone.d, { budgetMs: LONG })).ended, 'gone');
  assert.equal(k.calls.length, 0);
  assert.equal(done.advances() + gone.advances(), 0);
});

test('an unreachable cluster is polled (advanceRollout decides what an unreachable cluster means)', async () => {
  let polls = 0;
  const { d } = deps({ phases: () => (++polls > 2 ? 'failed' : 'progressing') });
  const r = await followDeployment(
    'ro-11',
    { ...d, clusters: { get: async () => Promise.reject(new Error('no such cluster')) } },
    { budgetMs: LONG, pollMs: 5 },
  );
  assert.equal(r.ended, 'terminal');
  assert.equal(r.mode, 'poll');
});

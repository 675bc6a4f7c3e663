/**
 * After admission, followRollout (shared/app/follow-request.ts; handed the rollout by the deploy
 * function through the follow topic) follows it on the cluster instead of leaving every later step
 * to the reconciler's next tick (a minute apart in production): it watches the target's
 * Deployment and pods (ClusterClient.watchWorkload: list, then watch from the list's
 * resourceVersion) and calls advanceRollout on each change, until the rollout's phase is terminal
 * (isTerminalPhase: whatever phases the state machine has) or the follow budget runs out. Then it
 * returns and the scheduled reconciler carries on as before.
 *
 * Correct with any number of workers: advanceRollout is idempotent and saves conditionally, so the
 * follow, the reconciler and a redelivered request may all advance the same rollout. A watch that
 * ends (idle timeout, server close, 410 Gone, connection drop) is re-listed and re-watched; one that
 * keeps failing soon after starting is given up for polling. A client without watch support is
 * polled. It never throws: the request was admitted, which is what the caller answers.
 */
import { isTerminalPhase, type RolloutPhase } from '../domain/rollout.ts';
import { asFerryError } from '../domain/errors.ts';
import type { ClusterClient, ClusterProvider, WatchHandle } from '../ports/cluster.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { Logger } from '../ports/logger.ts';

export interface FollowDeploymentDeps {
  rollouts: Pick<RolloutState, 'getRollout'>;
  clusters: ClusterProvider;
  /** One reconcile step (advanceRollout bound to its deps). */
  advance: (rolloutId: string) => Promise<{ phase: string | undefined; changed: boolean }>;
  logger: Logger;
}

export interface FollowDeploymentOptions {
  /** How long to follow at most (FERRY_DEPLOY_FOLLOW_SECONDS × 1000). */
  budgetMs: number;
  /** Without a watch: advance this often (default 2 s). */
  pollMs?: number;
  /**
   * With a watch: advance at least this often anyway (default 10 s). Some steps are decided by the
   * clock, not by a change on the cluster (progress deadlines, rollout timeouts, caches).
   */
  recheckMs?: number;
  /** A watch ending sooner than this after it started counts as a failure (default 5 s). */
  shortLivedMs?: number;
  /** Failures in a row after which the follow polls instead (default 3). */
  maxWatchFailures?: number;
}

export interface FollowReport {
  /** terminal: the rollout ended; budget: the reconciler carries on; gone: no such rollout. */
  ended: 'terminal' | 'budget' | 'gone';
  phase: string | null;
  /** How the rollout was followed at the end. */
  mode: 'watch' | 'poll';
  /** Steps run by the follow, and how many of them changed the rollout (this worker's saves). */
  advances: number;
  changed: number;
  /** Changes the watch reported; watches started (re-lists included); watch failures. */
  watchEvents: number;
  watches: number;
  watchFailures: number;
  /** Steps that threw (logged; the next change or recheck tries again). */
  stepErrors: number;
  ms: number;
}

/** The pods of a target, as advanceRollout lists them (shared/app/rollouts.ts). */
export const podSelectorOf = (name: string): string => `app.kubernetes.io/instance=${name}`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const terminal = (phase: string | undefined): boolean => phase !== undefined && isTerminalPhase(phase as RolloutPhase);

export async function followDeployment(rolloutId: string, deps: FollowDeploymentDeps, opts: FollowDeploymentOptions): Promise<FollowReport> {
  const started = Date.now();
  const deadline = started + opts.budgetMs;
  const pollMs = opts.pollMs ?? 2000;
  const recheckMs = opts.recheckMs ?? 10_000;
  const shortLivedMs = opts.shortLivedMs ?? 5000;
  const maxWatchFailures = opts.maxWatchFailures ?? 3;
  const log = deps.logger.child({ rolloutId });
  const report: FollowReport = {
    ended: 'budget',
    phase: null,
    mode: 'poll',
    advances: 0,
    changed: 0,
    watchEvents: 0,
    watches: 0,
    watchFailures: 0,
    stepErrors: 0,
    ms: 0,
  };

  // One wake-up signal: a change, a watch ending, or the timer.
  let pending = false;
  let wake: (() => void) | null = null;
  const signal = () => {
    pending = true;
    const w = wake;
    wake = null;
    w?.();
  };
  const waitSignal = (ms: number) =>
    pending
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            wake = null;
            resolve();
          }, ms);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });

  let handle: WatchHandle | null = null;
  let generation = 0;
  let watchStartedAt = 0;
  let watchEnded: { err: Error | null } | null = null;

  try {
    const first = await deps.rollouts.getRollout(rolloutId);
    if (!first) return finish('gone', null);
    report.phase = first.phase;
    if (terminal(first.phase)) return finish('terminal', first.phase);
    const { namespace, name } = first.target;

    let cluster: ClusterClient | null = null;
    try {
      cluster = await deps.clusters.get(first.target.cluster);
    } catch (e) {
      log.warn('follow: cannot reach the cluster to watch it; polling', { error: asFerryError(e) });
    }
    report.mode = cluster?.watchWorkload ? 'watch' : 'poll';

    const startWatch = async (c: ClusterClient) => {
      const mine = ++generation;
      watchEnded = null;
      watchStartedAt = Date.now();
      try {
        const h = await c.watchWorkload!(namespace, name, podSelectorOf(name), {
          onChange: () => {
            if (mine !== generation) return;
            report.watchEvents++;
            signal();
          },
          onEnd: (err) => {
            if (mine !== generation) return;
            watchEnded = { err };
            signal();
          },
        });
        report.watches++;
        if (mine === generation && watchEnded === null) handle = h;
        else h.stop();
      } catch (e) {
        if (mine === generation) watchEnded = { err: e instanceof Error ? e : new Error(String(e)) };
      }
    };

    for (;;) {
      // A watch that ended: re-list and re-watch, unless it keeps failing soon after it starts.
      const ended = watchEnded as { err: Error | null } | null;
      if (ended) {
        handle = null;
        watchEnded = null;
        // Short-lived, with or without an error, counts: a server that closes at once must not spin us.
        if (Date.now() - watchStartedAt < shortLivedMs) report.watchFailures++;
        else report.watchFailures = 0;
        if (ended.err) log.debug('follow: the watch ended; re-listing', { error: asFerryError(ended.err), failures: report.watchFailures });
        if (report.watchFailures >= maxWatchFailures) {
          report.mode = 'poll';
          log.warn(`follow: the watch failed ${report.watchFailures} times in a row; polling every ${pollMs} ms instead`, { error: asFerryError(ended.err) });
        } else if (report.watchFailures > 0) {
          await sleep(Math.min(500 * 2 ** (report.watchFailures - 1), Math.max(0, deadline - Date.now())));
        }
      }
      if (report.mode === 'watch' && cluster && !handle) await startWatch(cluster);
      // Changes from here on wake the next turn; the step below sees everything before.
      pending = false;
      const phase = await step();
      if (phase === 'gone') return finish('gone', null);
      if (terminal(phase)) return finish('terminal', phase ?? null);
      const left = deadline - Date.now();
      if (left <= 0) return finish('budget', report.phase);
      if (!watchEnded) await waitSignal(Math.min(left, report.mode === 'watch' ? recheckMs : pollMs));
    }
  } catch (e) {
    // Nothing above should throw; if it does, the reconciler carries on from the stored state.
    log.warn('follow: stopped by an unexpected error; the reconciler carries the rollout on', { error: asFerryError(e) });
    return finish('budget', report.phase);
  } finally {
    generation++;
    (handle as WatchHandle | null)?.stop();
    wake = null;
  }

  async function step(): Promise<string | undefined | 'gone'> {
    report.advances++;
    try {
      const r = await deps.advance(rolloutId);
      if (r.phase === undefined) return 'gone';
      if (r.changed) report.changed++;
      report.phase = r.phase;
      return r.phase;
    } catch (e) {
      report.stepErrors++;
      log.warn('follow: a rollout step failed; the next change or recheck tries again', { error: asFerryError(e) });
      return report.phase ?? undefined;
    }
  }

  function finish(ended: FollowReport['ended'], phase: string | null): FollowReport {
    report.ended = ended;
    report.phase = phase;
    report.ms = Date.now() - started;
    const msg =
      ended === 'terminal'
        ? `follow: rollout ${phase}`
        : ended === 'gone'
          ? 'follow: the rollout is gone'
          : `follow: budget of ${Math.round(opts.budgetMs / 1000)} s spent at phase ${phase}; the scheduled reconciler carries the rollout on`;
    log.info(msg, { follow: { ...report } });
    return report;
  }
}

/**
 * Following a deploy request to the end of its rollout, as `kubectl rollout status` follows a
 * Deployment: what the deploy function made of the request, then every phase the rollout goes
 * through (from its history, so a phase is reported even when two changes arrive in one update),
 * until a terminal phase, a rejection or the timeout. Event-driven through the RolloutWatch port.
 */
import { isTerminalPhase, type DeploymentStatus, type HistoryEntry, type Rollout } from '../domain/rollout.ts';
import type { RejectedRequest } from '../ports/rollout-state.ts';
import type { RolloutWatch, Unsubscribe } from '../ports/rollout-watch.ts';

export type FollowEvent =
  | { kind: 'admitted'; rolloutId: string; outcome: string }
  | { kind: 'phase'; rollout: Rollout; entry: HistoryEntry }
  /** The Deployment's progress within a phase changed (e.g. "1 of 2 updated replicas are available"). */
  | { kind: 'detail'; rollout: Rollout; detail: DeploymentStatus };

export type FollowResult =
  | { kind: 'rejected'; rejected: RejectedRequest }
  /** A duplicate request that maps to no rollout. */
  | { kind: 'no-rollout'; outcome: string }
  | { kind: 'finished'; rollout: Rollout }
  | { kind: 'timeout'; rollout: Rollout | null };

export interface FollowOptions {
  timeoutMs: number;
  onEvent: (e: FollowEvent) => void;
  /** Timers (tests pass their own). */
  setTimer?: (fn: () => void, ms: number) => { cancel: () => void };
}

const realTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(t) };
};

export function followRollout(watch: RolloutWatch, messageId: string, opts: FollowOptions): Promise<FollowResult> {
  return new Promise<FollowResult>((resolve, reject) => {
    let done = false;
    let last: Rollout | null = null;
    let reported = 0;
    let lastDetail = '';
    const subs: Unsubscribe[] = [];
    const timer = (opts.setTimer ?? realTimer)(() => settle({ kind: 'timeout', rollout: last }), opts.timeoutMs);
    function settle(r: FollowResult | Error): void {
      if (done) return;
      done = true;
      timer.cancel();
      for (const u of subs.splice(0)) u();
      if (r instanceof Error) reject(r);
      else resolve(r);
    }
    const fail = (e: unknown) => settle(e instanceof Error ? e : new Error(String(e)));
    // A watch may call back before it returns (a settled follow then drops it at once).
    const keep = (u: Unsubscribe) => (done ? u() : subs.push(u));
    let following = false;
    keep(
      watch.watchRequest(
        messageId,
        (fate) => {
          if (done || following) return;
          if (fate.kind === 'rejected') return settle({ kind: 'rejected', rejected: fate.rejected });
          if (fate.rolloutId === null) return settle({ kind: 'no-rollout', outcome: fate.outcome });
          following = true;
          opts.onEvent({ kind: 'admitted', rolloutId: fate.rolloutId, outcome: fate.outcome });
          keep(
            watch.watchRollout(
              fate.rolloutId,
              (r) => {
                if (done) return;
                last = r;
                for (const entry of r.history.slice(reported)) opts.onEvent({ kind: 'phase', rollout: r, entry });
                reported = Math.max(reported, r.history.length);
                const detail = r.detail ? `${r.detail.state} ${r.detail.reason} ${r.detail.message}` : '';
                if (r.detail && detail !== lastDetail && !isTerminalPhase(r.phase)) opts.onEvent({ kind: 'detail', rollout: r, detail: r.detail });
                lastDetail = detail;
                if (isTerminalPhase(r.phase)) settle({ kind: 'finished', rollout: r });
              },
              fail,
            ),
          );
        },
        fail,
      ),
    );
  });
}

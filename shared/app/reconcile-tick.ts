/**
 * The reconciler's tick (Cloud Scheduler → Pub/Sub → reconcileRollouts): a fixed list of steps,
 * each safe to repeat, that finish what a crash or timeout interrupted. One contract for every
 * step: it returns a result (or `null`: nothing to do) or fails with a FerryError; a failing step
 * is recorded with its code and never stops the steps after it. The next tick tries again.
 */
import { asFerryError } from '../domain/errors.ts';
import type { FerryErrorCode } from '../domain/reasons/errors.ts';
import type { Logger } from '../ports/logger.ts';
import type { TeardownStore } from '../ports/teardown-store.ts';
import type { Notify } from '../ports/notifier.ts';
import { advanceAll, type RolloutDeps } from './rollouts.ts';
import { advanceCaches } from './caches.ts';
import { recordTargetActivity } from './target-activity.ts';
import { continueCapacityRestores } from './cluster-capacity.ts';
import { resumeStaleValidations, type UploadDeps } from './checkpoint-upload.ts';
import { checkServedContent } from './integrity.ts';
import { releaseUnusedHolds } from './holds.ts';

export const TICK_STEPS = ['rollouts', 'caches', 'activity', 'capacity', 'validations', 'integrity', 'holds'] as const;
export type TickStepName = (typeof TICK_STEPS)[number];

export interface TickStep {
  name: TickStepName;
  /** What the step moves on: the log line when it did something. */
  does: string;
  /** A result worth reporting, or null when there was nothing to do (or the step is not wired). */
  run(log: Logger): Promise<Record<string, number> | null>;
}

export type StepOutcome =
  { step: TickStepName; ok: true; result: Record<string, number> | null } | { step: TickStepName; ok: false; code: FerryErrorCode; message: string };

export interface TickReport {
  steps: StepOutcome[];
  failed: TickStepName[];
}

export interface ReconcileDeps {
  rollout: RolloutDeps;
  upload: UploadDeps;
  /** Where target activity is recorded for teardown (`targetActivity/{key}`). */
  activity: TeardownStore;
  /** Unsolicited alerts (FERRY_ALERTS_SLACK_WEBHOOK_URL): drift. Unset: none. */
  alert?: Notify | undefined;
}

const some = (r: Record<string, number>) => Object.values(r).some((n) => n > 0);

/** The tick's steps, in order: rollouts first (users wait on them), bookkeeping after. */
export function reconcileSteps(d: ReconcileDeps): TickStep[] {
  const { rollout } = d;
  return [
    {
      name: 'rollouts',
      does: 'advanced rollouts in flight',
      run: async (logger) => {
        const r = await advanceAll({ ...rollout, logger });
        return r.advanced ? r : null;
      },
    },
    {
      name: 'caches',
      does: 'polled cache operations and marked caches in use',
      run: async (logger) => {
        if (!rollout.caches) return null;
        const r = await advanceCaches({ ...rollout, caches: rollout.caches, logger });
        return r.refreshed || r.touched || r.failed ? r : null;
      },
    },
    {
      name: 'activity',
      // At most once a minute per target: metrics are read through the API server's pod proxy.
      does: 'recorded target activity for teardown',
      run: async (logger) => {
        const r = await recordTargetActivity({ ...rollout, store: d.activity, logger }, { minIntervalSeconds: 60 });
        return r.observed || r.failed ? r : null;
      },
    },
    {
      name: 'capacity',
      does: 'went on bringing node pools back',
      run: async (logger) => {
        if (!rollout.clusterDirectory || !rollout.scaledDown) return null;
        const r = await continueCapacityRestores(rollout.clusterDirectory, rollout.scaledDown, rollout.clock, logger);
        return r.clusters ? r : null;
      },
    },
    {
      name: 'validations',
      does: 'resumed validations whose worker stopped',
      run: async (logger) => {
        const r = await resumeStaleValidations({ ...d.upload, logger });
        return some(r) ? r : null;
      },
    },
    {
      name: 'integrity',
      // Issue #20: served versions re-listed (no object read) and compared with their validated content.
      does: 'checked the content of served versions',
      run: async (logger) => {
        if (!rollout.objects) return null;
        const r = await checkServedContent({
          targets: () => d.activity.listTargets(),
          rollouts: rollout.rollouts,
          versions: rollout.versions,
          objects: rollout.objects,
          publisher: rollout.publisher,
          resultsTopic: rollout.config.resultsTopic,
          alert: d.alert,
          clock: rollout.clock,
          logger,
        });
        return r.drifted || r.cleared || r.failed ? r : null;
      },
    },
    {
      name: 'holds',
      // Issue #20: temporary holds ferry set on versions no target uses any more are released.
      does: 'released temporary holds on versions no longer in use',
      run: async (logger) => {
        if (!rollout.objects) return null;
        const r = await releaseUnusedHolds({
          targets: () => d.activity.listTargets(),
          rollouts: rollout.rollouts,
          versions: rollout.versions,
          teardownRuns: () => d.activity.listRuns(20),
          objects: rollout.objects,
          logger,
        });
        return r.released || r.failed ? r : null;
      },
    },
  ];
}

/** Runs every step in order; a failure is logged with its code and reported, and the next step runs. */
export async function runTick(steps: TickStep[], log: Logger): Promise<TickReport> {
  const out: StepOutcome[] = [];
  for (const s of steps) {
    try {
      const result = await s.run(log);
      if (result) log.info(s.does, { step: s.name, ...result });
      out.push({ step: s.name, ok: true, result });
    } catch (e) {
      const err = asFerryError(e);
      log.warn(`reconcile step ${s.name} failed; the next tick tries again`, { step: s.name, code: err.code, error: err });
      out.push({ step: s.name, ok: false, code: err.code, message: err.message });
    }
  }
  return { steps: out, failed: out.filter((o) => !o.ok).map((o) => o.step) };
}

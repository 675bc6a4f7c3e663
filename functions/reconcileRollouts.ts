/**
 * Cloud Scheduler tick (through Pub/Sub) → advance every rollout in flight, then the caches (poll
 * their operations, mark the ones running Deployments rely on as used), then record target
 * activity for teardown (at most once a minute per target), then go on bringing back node pools a
 * deploy asked for that GKE could not start at once (one operation per cluster), then resume validations
 * whose worker died. This is what finishes work a crash or timeout interrupted: every step is safe
 * to repeat.
 */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runEvent, lazy } from './edge.ts';

const deps = lazy(async () => (await import('./wiring.ts')).rolloutDeps());
const uploadDeps = lazy(async () => (await import('./wiring.ts')).uploadDeps());

export async function reconcileRollouts(ce: CloudEvent<unknown>): Promise<void> {
  await runEvent('reconcileRollouts', ce, async (log) => {
    const [{ advanceAll }, { advanceCaches }] = await Promise.all([import('../shared/app/rollouts.ts'), import('../shared/app/caches.ts')]);
    const d = await deps();
    const result: Record<string, unknown> = await advanceAll({ ...d, logger: log });
    if (result['advanced']) log.info('reconciled rollouts in flight', result);
    if (d.caches) {
      try {
        const caches = await advanceCaches({ ...d, caches: d.caches, logger: log });
        if (caches.refreshed || caches.touched || caches.failed) log.info('reconciled caches', caches);
        result['caches'] = caches;
      } catch (e) {
        // Cache bookkeeping never fails the rollout tick; the next tick tries again.
        log.warn('could not reconcile caches', { error: e });
      }
    }
    try {
      const { recordTargetActivity } = await import('../shared/app/teardown.ts');
      const { activityStore } = await import('./wiring.ts');
      const activity = await recordTargetActivity({ ...d, store: activityStore(), logger: log }, { minIntervalSeconds: 60 });
      if (activity.observed || activity.failed) result['activity'] = activity;
    } catch (e) {
      // Activity bookkeeping never fails the tick; unobserved activity counts as unknown, so it only delays a teardown.
      log.warn('could not record target activity', { error: e });
    }
    if (d.clusterDirectory && d.scaledDown) {
      try {
        const { continueCapacityRestores } = await import('../shared/app/teardown.ts');
        const capacity = await continueCapacityRestores(d.clusterDirectory, d.scaledDown, d.clock, log);
        if (capacity.clusters) result['capacity'] = capacity;
      } catch (e) {
        log.warn('could not go on bringing node pools back', { error: e });
      }
    }
    try {
      const { resumeStaleValidations } = await import('../shared/app/checkpoint-upload.ts');
      const validations = await resumeStaleValidations({ ...(await uploadDeps()), logger: log });
      if (validations.resumed || validations.failed) result['validations'] = validations;
    } catch (e) {
      log.warn('could not resume stale validations', { error: e });
    }
    return result;
  });
}

ff.cloudEvent('reconcileRollouts', reconcileRollouts);

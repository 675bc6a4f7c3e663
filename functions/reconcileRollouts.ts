/**
 * Cloud Scheduler tick (through Pub/Sub) → the reconciler's steps (shared/app/reconcile-tick.ts):
 * rollouts in flight, caches, target activity, node pools a deploy asked back, stale validations.
 * Each step is safe to repeat; a failing one never stops the others.
 */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runEvent, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/functions.ts')).reconcileDeps);

export async function reconcileRollouts(ce: CloudEvent<unknown>): Promise<void> {
  await runEvent('reconcileRollouts', ce, async (log) => {
    const [{ reconcileSteps, runTick }, d] = await Promise.all([import('../shared/app/reconcile-tick.ts'), deps()]);
    return runTick(reconcileSteps(d), log);
  });
}

ff.cloudEvent('reconcileRollouts', reconcileRollouts);

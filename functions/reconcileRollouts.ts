/**
 * Cloud Scheduler tick (through Pub/Sub) → advance every rollout in flight. This is what finishes
 * a rollout whose function crashed or timed out mid-step: every step is safe to repeat.
 */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runEvent, lazy } from './edge.ts';

const deps = lazy(async () => (await import('./wiring.ts')).rolloutDeps());

export async function reconcileRollouts(ce: CloudEvent<unknown>): Promise<void> {
  await runEvent('reconcileRollouts', ce, async (log) => {
    const { advanceAll } = await import('../shared/app/rollouts.ts');
    const d = await deps();
    const result = await advanceAll({ ...d, logger: log });
    if (result.advanced) log.info('reconciled rollouts in flight', result);
    return result;
  });
}

ff.cloudEvent('reconcileRollouts', reconcileRollouts);

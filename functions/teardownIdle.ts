/**
 * Cloud Scheduler tick (through Pub/Sub, topic FERRY_TEARDOWN_TOPIC) → plan the teardown of idle
 * Anywhere Caches, Deployments (if the policy says so) and managed clusters, carry it out with a
 * re-read before each destructive call, and record the run in `teardownRuns/{id}`. The tick's JSON
 * may ask for `{"dryRun": true}` (plan and record only). A retryable failure (Firestore down) is
 * redelivered; every delivery plans afresh from what is there, so nothing is done twice.
 */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runEvent, lazy } from './edge.ts';

const deps = lazy(async () => (await import('./wiring.ts')).teardownDeps());

/** `{"dryRun": true}` in the Pub/Sub message's JSON; anything else is a plain tick. */
export function tickOptions(ce: CloudEvent<unknown>): { dryRun?: boolean } {
  try {
    const data = (ce.data as { message?: { data?: string } } | undefined)?.message?.data;
    if (!data) return {};
    const body = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { dryRun?: unknown };
    return body.dryRun === true ? { dryRun: true } : {};
  } catch {
    return {};
  }
}

export async function teardownIdle(ce: CloudEvent<unknown>): Promise<void> {
  await runEvent('teardownIdle', ce, async (log) => {
    const { runTeardown } = await import('../shared/app/teardown.ts');
    const { deps: d, options } = await deps();
    const tick = tickOptions(ce);
    const run = await runTeardown({ ...d, logger: log }, { ...options, policy: { ...options.policy, ...(tick.dryRun ? { dryRun: true } : {}) }, trigger: 'schedule' });
    return { runId: run.id, dryRun: run.dryRun, summary: run.summary };
  });
}

ff.cloudEvent('teardownIdle', teardownIdle);

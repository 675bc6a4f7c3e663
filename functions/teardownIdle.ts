/**
 * Teardown topic → handleTeardownTick: a Cloud Scheduler tick plans the teardown of idle Anywhere
 * Caches, Deployments (if the policy says so) and managed clusters, carries it out with a re-read
 * before each destructive call, and records the run in `teardownRuns/{id}`; `{"dryRun": true}`
 * plans and records only; `{"chat": {"commandId": …}}` (from `/ferry teardown plan`) is a dry run
 * posted back to Slack. A message that does not parse runs nothing. A retryable failure (Firestore
 * down) is redelivered; every delivery plans afresh from what is there, so nothing is done twice.
 */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runPubsub, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/functions.ts')).teardownDeps);

export async function teardownIdle(ce: CloudEvent<unknown>): Promise<void> {
  await runPubsub('teardownIdle', ce, async (msg, log) => {
    const [{ handleTeardownTick }, d] = await Promise.all([import('../shared/app/teardown-tick.ts'), deps()]);
    return handleTeardownTick(msg.data, { teardown: { ...d.deps, logger: log }, options: d.options, reply: d.reply });
  });
}

ff.cloudEvent('teardownIdle', teardownIdle);

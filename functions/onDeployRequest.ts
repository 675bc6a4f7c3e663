/** Pub/Sub deploy request (messagePublished CloudEvent) → handleDeployRequest. Thin: decode, wire, call. */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runPubsub, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/functions.ts')).deployDeps);

export async function onDeployRequest(ce: CloudEvent<unknown>): Promise<void> {
  await runPubsub('onDeployRequest', ce, async (msg, log) => {
    const [{ handleDeployRequest }, d] = await Promise.all([import('../shared/app/rollouts.ts'), deps()]);
    return handleDeployRequest(msg, { ...d, logger: log });
  });
}

ff.cloudEvent('onDeployRequest', onDeployRequest);

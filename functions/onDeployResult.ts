/**
 * Pub/Sub deploy result (FERRY_RESULTS_TOPIC) → handleDeployResult: a rollout a chat command asked
 * for ended, or its request was refused — post it to that command's response_url. Results of
 * rollouts not started from chat are ignored.
 */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runPubsub, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/chat.ts')).chatWorkerDeps);

export async function onDeployResult(ce: CloudEvent<unknown>): Promise<void> {
  await runPubsub('onDeployResult', ce, async (msg, log) => {
    const [{ handleDeployResult }, d] = await Promise.all([import('../shared/app/chat-results.ts'), deps()]);
    return handleDeployResult(msg.data, { ...d, logger: log });
  });
}

ff.cloudEvent('onDeployResult', onDeployResult);

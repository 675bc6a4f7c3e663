/**
 * Pub/Sub deploy result (FERRY_RESULTS_TOPIC) → handleDeployResult: a rollout a chat command asked
 * for ended, or its request was refused — post it to that command's response_url. Results of
 * rollouts not started from chat are ignored.
 */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runEvent, lazy } from './edge.ts';

const deps = lazy(async () => (await import('./chat-wiring.ts')).chatWorkerDeps());

export async function onDeployResult(ce: CloudEvent<unknown>): Promise<void> {
  await runEvent('onDeployResult', ce, async (log) => {
    const [{ PubsubMessagePublishedEvent, describeIssues }, { handleDeployResult }] = await Promise.all([
      import('../shared/domain/events.ts'),
      import('../shared/app/chat-commands.ts'),
    ]);
    const parsed = PubsubMessagePublishedEvent.safeParse(ce);
    if (!parsed.success) {
      log.error('malformed Pub/Sub event; dropped', { code: 'EVENT_INVALID', issues: describeIssues(parsed.error) });
      return { outcome: 'malformed' };
    }
    const d = await deps();
    return handleDeployResult(Buffer.from(parsed.data.data.message.data, 'base64'), { ...d, logger: log });
  });
}

ff.cloudEvent('onDeployResult', onDeployResult);

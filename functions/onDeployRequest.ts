/** Pub/Sub deploy request (messagePublished CloudEvent) → handleDeployRequest. Thin: decode, wire, call. */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runEvent, lazy } from './edge.ts';

const deps = lazy(async () => (await import('./wiring.ts')).rolloutDeps());

export async function onDeployRequest(ce: CloudEvent<unknown>): Promise<void> {
  await runEvent('onDeployRequest', ce, async (log) => {
    const [{ PubsubMessagePublishedEvent, describeIssues }, { handleDeployRequest }] = await Promise.all([
      import('../shared/domain/events.ts'),
      import('../shared/app/rollouts.ts'),
    ]);
    const parsed = PubsubMessagePublishedEvent.safeParse(ce);
    if (!parsed.success) {
      log.error('malformed Pub/Sub event; dropped', { code: 'EVENT_INVALID', issues: describeIssues(parsed.error) });
      return { outcome: 'malformed' };
    }
    const m = parsed.data.data.message;
    const d = await deps();
    return handleDeployRequest(
      {
        data: Buffer.from(m.data, 'base64'),
        messageId: m.messageId ?? m.message_id ?? parsed.data.id,
        publishTime: m.publishTime,
        attributes: m.attributes,
      },
      { ...d, logger: log },
    );
  });
}

ff.cloudEvent('onDeployRequest', onDeployRequest);

/** Pub/Sub chat command (queued by slackCommand) → handleChatCommand: do the work, post to response_url. */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runEvent, lazy } from './edge.ts';

const deps = lazy(async () => (await import('./chat-wiring.ts')).chatWorkerDeps());

export async function onChatCommand(ce: CloudEvent<unknown>): Promise<void> {
  await runEvent('onChatCommand', ce, async (log) => {
    const [{ PubsubMessagePublishedEvent, describeIssues }, { handleChatCommand }] = await Promise.all([
      import('../shared/domain/events.ts'),
      import('../shared/app/chat-commands.ts'),
    ]);
    const parsed = PubsubMessagePublishedEvent.safeParse(ce);
    if (!parsed.success) {
      log.error('malformed Pub/Sub event; dropped', { code: 'EVENT_INVALID', issues: describeIssues(parsed.error) });
      return { outcome: 'malformed' };
    }
    const d = await deps();
    return handleChatCommand(Buffer.from(parsed.data.data.message.data, 'base64'), { ...d, logger: log });
  });
}

ff.cloudEvent('onChatCommand', onChatCommand);

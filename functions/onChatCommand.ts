/** Pub/Sub chat command (queued by slackCommand) → handleChatCommand: do the work, post to response_url. */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runPubsub, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/chat.ts')).chatWorkerDeps);

export async function onChatCommand(ce: CloudEvent<unknown>): Promise<void> {
  await runPubsub('onChatCommand', ce, async (msg, log) => {
    const [{ handleChatCommand }, d] = await Promise.all([import('../shared/app/chat-commands.ts'), deps()]);
    return handleChatCommand(msg.data, { ...d, logger: log });
  });
}

ff.cloudEvent('onChatCommand', onChatCommand);

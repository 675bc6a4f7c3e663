/**
 * Slack slash command (HTTP) → acceptSlashCommand: verify the signature over the raw body, then
 * record + queue the command and answer with an ephemeral acknowledgement. The work itself runs in
 * onChatCommand; nothing here runs after the response is sent.
 */
import * as ff from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { runHttp, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/chat.ts')).chatIngressDeps);

export async function slackCommand(req: Request, res: Response): Promise<void> {
  await runHttp('slackCommand', req, res, async (log) => {
    const [{ acceptSlashCommand }, d] = await Promise.all([import('../shared/app/chat-ingress.ts'), deps()]);
    const answer = await acceptSlashCommand(
      { rawBody: req.rawBody, timestamp: req.get('x-slack-request-timestamp'), signature: req.get('x-slack-signature') },
      { ...d, logger: log },
    );
    return 'body' in answer ? answer : { status: answer.status };
  });
}

ff.http('slackCommand', slackCommand);

/**
 * Slack slash command (HTTP) → acceptSlashCommand: verify the signature over the raw body, then
 * record + queue the command and answer with an ephemeral acknowledgement. The work itself runs in
 * onChatCommand; nothing here runs after the response is sent.
 */
import * as ff from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { logger, lazy, traceFields } from './edge.ts';
import { asFerryError } from '../shared/domain/errors.ts';

const load = lazy(async () => {
  const [wiring, app] = await Promise.all([import('./chat-wiring.ts'), import('../shared/app/chat-ingress.ts')]);
  return { deps: wiring.chatIngressDeps(), accept: app.acceptSlashCommand };
});

export async function slackCommand(req: Request, res: Response): Promise<void> {
  const log = logger().child({ function: 'slackCommand', ...traceFields({ traceparent: req.get('traceparent'), cloudTraceContext: req.get('x-cloud-trace-context') }) });
  try {
    const { deps, accept } = await load();
    const answer = await accept(
      { rawBody: req.rawBody, timestamp: req.get('x-slack-request-timestamp'), signature: req.get('x-slack-signature') },
      { ...deps, logger: log },
    );
    if (answer.status === 401 || !('body' in answer)) {
      res.status(answer.status).send('');
      return;
    }
    res.status(200).json(answer.body);
  } catch (e) {
    // Misconfiguration (e.g. no signing secret) or a bug: no detail to the caller, all of it in the log.
    const err = asFerryError(e);
    log.error(`slackCommand failed: ${err.message}`, { code: err.code, error: err, hint: err.hint });
    res.status(500).send('');
  }
}

ff.http('slackCommand', slackCommand);

/**
 * Chat-ops step 1 (see chat-commands.ts): the Slack slash command over HTTP, answered within 3 s —
 * verify the signature over the raw body before anything else, parse, authorise, record the command
 * (create-if-absent), publish its id on the chat topic, and answer with an ephemeral acknowledgement.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { FerryError, asFerryError } from '../domain/errors.ts';
import { verifySlackRequest, parseSlashCommandForm, checkResponseUrl, isSslCheck, type SlackSignedRequest } from '../domain/slack.ts';
import { commandClass, describeCommand, parseChatCommand } from '../domain/chat-command.ts';
import { authorise, type ChatAccessPolicy } from '../domain/chat-access.ts';
import { ChatWorkMessage, chatCommandId, newChatCommandRecord } from '../domain/chat-command-record.ts';
import { ackMessage, helpMessage, noticeMessage, usageMessage, type ChatMessage } from '../domain/chat-blocks.ts';
import type { ChatCommandStore } from '../ports/chat.ts';
import type { Publisher } from '../ports/publisher.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';

// ---------------------------------------------------------------------------------------------
// 1. The HTTP path

export interface ChatIngressDeps {
  commands: ChatCommandStore;
  publisher: Publisher;
  clock: Clock;
  logger: Logger;
  config: {
    signingSecret: string;
    access: ChatAccessPolicy;
    chatTopic: string;
    /** Accept http://127.0.0.1 response URLs (local stack and tests only). */
    allowLocalResponseUrl: boolean;
    /**
     * How long recording + queueing may take before the answer goes out anyway (default 2,000 ms):
     * Slack shows its own timeout error after 3 s, and the answer must reach it before that.
     */
    ackBudgetMs?: number;
  };
  /** Resolves after `ms` (tests pass a controllable one). */
  after?: (ms: number) => Promise<void>;
}

export const DEFAULT_ACK_BUDGET_MS = 2000;
/** A timer that never keeps the process alive. */
const unrefAfter = (ms: number): Promise<void> => delay(ms, undefined, { ref: false });

export type SlashOutcome =
  'unauthenticated' | 'unreadable' | 'usage' | 'help' | 'refused' | 'bad-response-url' | 'duplicate' | 'unavailable' | 'slow' | 'accepted';

export type SlashAnswer =
  | { status: 401; outcome: 'unauthenticated' }
  /** Slack's certificate check: an empty 200. */
  | { status: 200; outcome: 'ssl-check' }
  | { status: 200; outcome: Exclude<SlashOutcome, 'unauthenticated'>; body: ChatMessage; commandId?: string };

export async function acceptSlashCommand(req: SlackSignedRequest, deps: ChatIngressDeps): Promise<SlashAnswer> {
  const now = deps.clock.now();
  const check = verifySlackRequest(req, { secret: deps.config.signingSecret, nowSeconds: Math.floor(now.getTime() / 1000) });
  if (!check.ok) {
    // The reason goes to the log only; the caller gets a bare 401.
    deps.logger.warn('slash command refused: signature check failed', { reason: check.reason });
    return { status: 401, outcome: 'unauthenticated' };
  }
  const rawBody = req.rawBody!;
  if (isSslCheck(rawBody)) return { status: 200, outcome: 'ssl-check' };
  const form = parseSlashCommandForm(rawBody);
  if (!form.ok) {
    deps.logger.warn(`signed slash command is unreadable: ${form.message}`, { reason: 'FORM_INVALID' });
    return { status: 200, outcome: 'unreadable', body: noticeMessage('ferry could not read this request. Please run the command again.', ':warning:') };
  }
  const p = form.payload;
  const log = deps.logger.child({ slackUser: p.user_id, slackChannel: p.channel_id, slackTeam: p.team_id });
  const parsed = parseChatCommand(p.text);
  if (!parsed.ok) {
    log.info('slash command not understood; usage sent', { reason: 'USAGE', problem: parsed.message });
    return { status: 200, outcome: 'usage', body: usageMessage(parsed.message, p.command) };
  }
  const command = parsed.command;
  if (command.kind === 'help') return { status: 200, outcome: 'help', body: helpMessage(p.command) };

  const description = describeCommand(command);
  const cls = commandClass(command);
  const auth = authorise(deps.config.access, { userId: p.user_id, channelId: p.channel_id }, cls);
  if (!auth.allowed) {
    log.warn(`slash command refused: ${auth.reason}`, { reason: auth.reason, command: description, commandClass: cls });
    return { status: 200, outcome: 'refused', body: noticeMessage(auth.message, ':lock:') };
  }
  const url = checkResponseUrl(p.response_url, { allowLocal: deps.config.allowLocalResponseUrl });
  if (!url.ok) {
    log.error(`slash command refused: ${url.message}`, { reason: 'RESPONSE_URL_REFUSED', command: description });
    return { status: 200, outcome: 'bad-response-url', body: noticeMessage(`ferry cannot answer this command: ${url.message}.`, ':warning:') };
  }

  const id = chatCommandId(Number(req.timestamp), rawBody);
  const clog = log.child({ commandId: id });
  const record = newChatCommandRecord({ id, payload: p, command, now });
  const after = deps.after ?? unrefAfter;
  const queueStart = deps.clock.now().getTime();
  const markFailed = (err: FerryError) =>
    deps.commands.finish(id, { status: 'failed', outcome: { code: err.code, message: err.message } }, now).catch(() => undefined);
  try {
    const queue = (async (): Promise<'queued' | 'duplicate'> => {
      if ((await deps.commands.create(record)) === 'duplicate') return 'duplicate';
      await deps.publisher.publishJson(deps.config.chatTopic, { commandId: id } satisfies ChatWorkMessage, { kind: 'chat-command', commandClass: cls });
      return 'queued';
    })();
    const budget = deps.config.ackBudgetMs ?? DEFAULT_ACK_BUDGET_MS;
    const queued = await Promise.race([queue, after(budget).then(() => 'slow' as const)]);
    if (queued === 'slow') {
      // Answer now, honestly: the command may still be queued (and then runs and posts here). Its
      // outcome is logged when it settles; nothing relies on that code running.
      queue.then(
        (q) => clog.warn(`slow slash command finally ${q}`, { reason: 'CHAT_QUEUE_SLOW', command: description }),
        (e: unknown) => {
          const err = asFerryError(e, 'CHAT_QUEUE_FAILED');
          clog.error(`slow slash command was not queued: ${err.message}`, { code: err.code, command: description });
          return markFailed(err);
        },
      );
      clog.error(`queueing the slash command took over ${budget} ms; answered before it settled`, { reason: 'CHAT_QUEUE_SLOW', command: description });
      return {
        status: 200,
        outcome: 'slow',
        commandId: id,
        body: noticeMessage(
          `ferry is slow to queue \`${description}\` (\`${id}\`). It may still run and answer here; if nothing arrives within a minute, check \`${p.command} status\` before you try again.`,
          ':hourglass_flowing_sand:',
        ),
      };
    }
    if (queued === 'duplicate') {
      clog.warn('slash command received twice (a replay); not run again', { reason: 'DUPLICATE', command: description });
      return { status: 200, outcome: 'duplicate', commandId: id, body: noticeMessage(`This command was already received (\`${id}\`); it is not run twice.`) };
    }
  } catch (e) {
    const err = asFerryError(e, 'CHAT_QUEUE_FAILED');
    clog.error(`could not queue the slash command: ${err.message}`, { code: err.code, error: err, command: description });
    // Best effort, and bounded: the answer must still reach Slack in time.
    await Promise.race([markFailed(err), after(500)]);
    return {
      status: 200,
      outcome: 'unavailable',
      commandId: id,
      body: noticeMessage(
        `ferry could not take \`${description}\` right now (\`${err.code}\`). Nothing was changed; please try again in a minute.`,
        ':warning:',
      ),
    };
  }
  clog.info(`slash command accepted: ${description}`, {
    command: description,
    commandClass: cls,
    kind: command.kind,
    queueMs: deps.clock.now().getTime() - queueStart,
  });
  return { status: 200, outcome: 'accepted', commandId: id, body: ackMessage({ commandId: id, description, deploy: cls === 'deploy' }) };
}

/**
 * One message on the teardown topic (teardownIdle): a Cloud Scheduler tick runs the teardown under
 * the configured policy; `{"dryRun": true}` plans and records only; `{"chat": {"commandId": …}}`
 * (queued by `/ferry teardown plan`) is always a dry run whose plan is posted back to that command's
 * response_url. A message that does not parse is refused and nothing runs.
 */
import { parseTeardownTick, type TeardownRun } from '../domain/teardown-run.ts';
import { errorMessage } from '../domain/chat-blocks.ts';
import { teardownMessage } from '../domain/chat-teardown.ts';
import { asFerryError } from '../domain/errors.ts';
import { runTeardown, type TeardownDeps, type TeardownOptions } from './teardown.ts';
import { postToCommand } from './chat-commands.ts';
import type { Chat, ChatCommandStore } from '../ports/chat.ts';
import type { TickRefusal } from '../domain/reasons/teardown.ts';

export interface TeardownTickDeps {
  teardown: TeardownDeps;
  options: TeardownOptions;
  /** Posting a plan back to the chat command that asked (null: chat-ops not set up here). */
  reply: { commands: ChatCommandStore; chat: Chat } | null;
}

export type TickOutcome =
  | { outcome: 'refused'; reason: TickRefusal; message: string }
  | { outcome: 'ran'; runId: string; dryRun: boolean; summary: TeardownRun['summary']; posted?: boolean }
  | { outcome: 'failed'; code: string; posted: boolean };

export async function handleTeardownTick(data: Uint8Array | undefined, deps: TeardownTickDeps): Promise<TickOutcome> {
  const log = deps.teardown.logger;
  const parsed = parseTeardownTick(data);
  if (!parsed.ok) {
    log.error(`teardown tick refused, nothing run: ${parsed.message}`, { code: 'TICK_INVALID' });
    return { outcome: 'refused', reason: 'TICK_INVALID', message: parsed.message };
  }
  const tick = parsed.tick;
  const policy = { ...deps.options.policy, ...(tick.dryRun || tick.chat ? { dryRun: true } : {}) };
  if (!tick.chat) {
    const run = await runTeardown(deps.teardown, { ...deps.options, policy, trigger: 'schedule' });
    return { outcome: 'ran', runId: run.id, dryRun: run.dryRun, summary: run.summary };
  }

  const commandId = tick.chat.commandId;
  const clog = log.child({ commandId });
  if (!deps.reply) {
    clog.error('a chat teardown plan was asked for, but chat-ops is not set up in teardownIdle; nothing run', { code: 'CHAT_NOT_CONFIGURED' });
    return { outcome: 'refused', reason: 'CHAT_NOT_CONFIGURED', message: 'chat-ops is not set up in teardownIdle' };
  }
  const reply = { ...deps.reply, clock: deps.teardown.clock };
  // Only a recorded (signed, authorised) `teardown plan` command gets a plan posted.
  const rec = await deps.reply.commands.get(commandId);
  if (!rec || rec.command.kind !== 'teardown-plan') {
    const message = rec ? `chat command ${commandId} is a ${rec.command.kind}, not a teardown plan` : `no chat command ${commandId}`;
    clog.warn(`teardown plan not made: ${message}`, { code: 'CHAT_COMMAND_UNKNOWN' });
    return { outcome: 'refused', reason: 'CHAT_COMMAND_UNKNOWN', message };
  }
  let run: TeardownRun;
  try {
    run = await runTeardown({ ...deps.teardown, logger: clog, notify: undefined }, { ...deps.options, policy, trigger: 'chat', chatCommandId: commandId });
  } catch (e) {
    const err = asFerryError(e, 'TEARDOWN_PLAN_FAILED');
    // Retryable (Firestore down): redelivered, and the plan is posted then. Otherwise say so now.
    if (err.retryable) throw err;
    clog.error(`teardown plan failed: ${err.message}`, { code: err.code, error: err });
    const posted = await postToCommand(
      commandId,
      'teardown-plan',
      errorMessage({ code: err.code, message: err.message, hint: err.hint, commandId }),
      reply,
      clog,
    );
    return { outcome: 'failed', code: err.code, posted };
  }
  const posted = await postToCommand(commandId, 'teardown-plan', teardownMessage(run), reply, clog);
  clog.info(`teardown plan for chat: ${run.summary.planned} action(s)`, { runId: run.id, posted });
  return { outcome: 'ran', runId: run.id, dryRun: true, summary: run.summary, posted };
}

/**
 * Chat-ops step 3 (see chat-commands.ts): when a rollout a chat command asked for ends — or its
 * request is refused — post that to the command's response_url.
 */
import { RolloutPhase, RolloutReason } from '../domain/rollout.ts';
import { describeCommand } from '../domain/chat-command.ts';
import { commandIdOfKey } from '../domain/chat-command-record.ts';
import { rejectedMessage, rolloutMessage } from '../domain/chat-blocks.ts';
import { parseDeployResult } from '../domain/deploy-result.ts';
import { type ChatWorkerDeps, postToCommand, rolloutView } from './chat-commands.ts';

// ---------------------------------------------------------------------------------------------
// 3. Deploy results → the command that asked

export type ChatResultDeps = Pick<ChatWorkerDeps, 'commands' | 'rollouts' | 'versions' | 'chat' | 'clock' | 'logger' | 'config'>;

export async function handleDeployResult(
  data: Uint8Array,
  deps: ChatResultDeps,
): Promise<{ outcome: 'ignored' | 'not-from-chat' | 'posted' | 'not-posted'; reason?: string }> {
  const parsed = parseDeployResult(data);
  if (!parsed.ok) {
    deps.logger.warn(`deploy result ignored: ${parsed.message}`, { reason: 'RESULT_INVALID' });
    return { outcome: 'ignored', reason: 'RESULT_INVALID' };
  }
  const result = parsed.result;
  if (result.kind === 'integrity') return { outcome: 'not-from-chat' }; // not an answer to a command
  if (result.kind === 'rejected') {
    const rec = await deps.commands.findByDeployMessage(result.messageId);
    if (!rec) return { outcome: 'not-from-chat' };
    const log = deps.logger.child({ commandId: rec.id, deployMessageId: result.messageId });
    const message = rejectedMessage({ reason: result.reason, message: result.message, issues: result.issues, description: describeCommand(rec.command) });
    return { outcome: (await postToCommand(rec.id, 'rejected', message, deps, log)) ? 'posted' : 'not-posted' };
  }
  const rollout = await deps.rollouts.getRollout(result.rolloutId);
  const commandId = commandIdOfKey(rollout?.request.idempotencyKey);
  if (!rollout || !commandId) return { outcome: 'not-from-chat' };
  const rec = await deps.commands.get(commandId);
  if (!rec) return { outcome: 'not-from-chat' };
  const log = deps.logger.child({ commandId, rolloutId: rollout.id });
  if (rec.rolloutId === null) await deps.commands.note(commandId, { rolloutId: rollout.id }, deps.clock.now());
  // The result is published before the rollout's new phase is saved (actions first, then the save),
  // so the stored document may still show the phase before: the result's own phase, reason and
  // message are what happened.
  const phase = RolloutPhase.safeParse(result.phase);
  const reason = RolloutReason.safeParse(result.reason);
  const view = {
    ...(await rolloutView(rollout, deps)),
    ...(phase.success ? { phase: phase.data } : {}),
    ...(reason.success ? { reason: reason.data } : {}),
    message: result.message,
    // The stored Deployment status may be from before the end; the result message says it all.
    detail: undefined,
    ...(result.gate ? { gate: result.gate } : {}),
    ...(result.coldStart ? { coldStart: result.coldStart } : {}),
    ...(result.warnings ? { warnings: result.warnings } : {}),
  };
  const message = rolloutMessage(view, { consoleProject: deps.config.consoleProject });
  const posted = await postToCommand(commandId, `final:${rollout.id}`, message, deps, log);
  log.info(`rollout ${rollout.id} ${view.phase}: ${posted ? 'posted to Slack' : 'not posted'}`, { phase: view.phase });
  return { outcome: posted ? 'posted' : 'not-posted' };
}

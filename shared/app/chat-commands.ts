/**
 * Use cases for chat-ops (`/ferry …` in Slack), in three steps that never wait on each other:
 *
 * 1. acceptSlashCommand (HTTP, must answer within 3 s): verify the signature over the raw body
 *    before anything else, parse, authorise, record the command (create-if-absent), publish its id
 *    on the chat topic, and answer with an ephemeral acknowledgement. No work runs here, and nothing
 *    is left to run after the answer.
 * 2. handleChatCommand (Pub/Sub worker): claim the recorded command, do it (read state, or publish a
 *    deploy request and wait briefly for its rollout), and post the result to response_url.
 * 3. handleDeployResult (Pub/Sub, deploy results topic): when a rollout a chat command asked for
 *    ends — or its request is refused — post that to the same response_url.
 * Posts are reserved per key in the record first, so a duplicate delivery never posts twice and a
 * command never posts more than Slack's 5.
 *
 * This file is step 2; step 1 is chat-ingress.ts, step 3 chat-results.ts.
 */
import { parseDeployRequest, isLatest } from '../domain/deploy-request.ts';
import { targetKey } from '../domain/names.ts';
import { isTerminalPhase, type Rollout } from '../domain/rollout.ts';
import type { ChatOutcomeCode } from '../domain/reasons/chat.ts';
import { FerryError, asFerryError } from '../domain/errors.ts';
import { acceleratorHint, chatDeployRequest, describeCommand, type ChatDeployInput } from '../domain/chat-command.ts';
import { ChatWorkMessage, chatIdempotencyKey, slackRequestedBy, type ChatCommandRecord } from '../domain/chat-command-record.ts';
import {
  errorMessage,
  helpMessage,
  noticeMessage,
  rejectedMessage,
  rolloutMessage,
  statusMessage,
  versionsMessage,
  targetText,
  type ChatMessage,
  type RolloutView,
  type StatusView,
  type VersionsView,
} from '../domain/chat-blocks.ts';
import { teardownUnavailableMessage } from '../domain/chat-teardown.ts';
import type { TeardownTick } from '../domain/teardown-run.ts';
import type { VersionDoc } from '../domain/version.ts';
import { diffVersions, formatCount, versionFacts, type VersionFacts } from '../domain/version-diff.ts';
import { previousGoodRequest } from './rollback.ts';
import type { Chat, ChatCommandStore } from '../ports/chat.ts';
import type { CheckpointState } from '../ports/checkpoint-state.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { Publisher } from '../ports/publisher.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';

// ---------------------------------------------------------------------------------------------
// 2. The worker

export interface ChatWorkerDeps {
  commands: ChatCommandStore;
  versions: CheckpointState;
  rollouts: RolloutState;
  publisher: Publisher;
  chat: Chat;
  clock: Clock;
  /** Waits between polls for the rollout a deploy request started (tests pass an instant one). */
  sleep: (ms: number) => Promise<void>;
  logger: Logger;
  config: {
    deployTopic: string;
    /** Set when final rollout results are posted back (onDeployResult subscribes to it). */
    resultsTopic?: string | undefined;
    /** How long a deploy waits for its rollout to be admitted before answering "published". */
    waitForRolloutMs: number;
    pollIntervalMs: number;
    /** A claimed command may be taken over after this long (longer than the function timeout). */
    claimLeaseMs: number;
    /** Project for Cloud Console links (null: no links, e.g. the emulator-only local project). */
    consoleProject: string | null;
    /**
     * Where `teardown plan` is sent (teardownIdle's topic): that function holds the read access a
     * plan needs and posts the plan back; unset: the command says teardown is not set up.
     */
    teardownTopic?: string | undefined;
  };
}

export type ChatWorkOutcome = { outcome: 'malformed' | 'missing' | 'duplicate' } | { outcome: 'done' | 'failed'; code: string; posted: boolean };

interface WorkResult {
  status: 'done' | 'failed';
  outcome: { code: string; message: string };
  /** null: the answer is posted by another function (teardown plan). */
  post: { key: string; message: ChatMessage } | null;
}

export async function handleChatCommand(data: Uint8Array, deps: ChatWorkerDeps): Promise<ChatWorkOutcome> {
  let msg: ChatWorkMessage;
  try {
    msg = ChatWorkMessage.parse(JSON.parse(new TextDecoder().decode(data)));
  } catch (e) {
    deps.logger.error('malformed chat work message; dropped', { code: 'MESSAGE_INVALID', error: asFerryError(e) });
    return { outcome: 'malformed' };
  }
  const log = deps.logger.child({ commandId: msg.commandId });
  const claim = await deps.commands.claim(msg.commandId, deps.clock.now(), deps.config.claimLeaseMs);
  if (claim.outcome === 'skip') {
    if (claim.reason === 'IN_PROGRESS') {
      // Another delivery holds it: come back later (redelivery), when it is finished or its lease ran out.
      throw new FerryError('CHAT_COMMAND_BUSY', `command ${msg.commandId} is being worked on by another delivery`, { retryable: true });
    }
    log.info(`chat command not run: ${claim.reason}`, { reason: claim.reason });
    return { outcome: claim.reason === 'MISSING' ? 'missing' : 'duplicate' };
  }
  const rec = claim.record;
  const clog = log.child({ command: describeCommand(rec.command), slackUser: rec.user.id });
  let result: WorkResult;
  try {
    result = await run(rec, deps, clog);
  } catch (e) {
    const err = asFerryError(e, 'CHAT_COMMAND_FAILED');
    if (err.retryable) {
      clog.warn(`chat command failed; it will be retried: ${err.message}`, { code: err.code, error: err });
      await deps.commands.release(rec.id, deps.clock.now()).catch(() => undefined);
      throw err;
    }
    clog.error(`chat command failed: ${err.message}`, { code: err.code, error: err });
    result = {
      status: 'failed',
      outcome: { code: err.code, message: err.message },
      post: { key: 'result', message: errorMessage({ code: err.code, message: err.message, hint: err.hint, commandId: rec.id }) },
    };
  }
  const posted = result.post ? await postToCommand(rec.id, result.post.key, result.post.message, deps, clog) : false;
  await deps.commands.finish(rec.id, { status: result.status, outcome: result.outcome }, deps.clock.now());
  clog.info(`chat command ${result.status}: ${result.outcome.code}`, { code: result.outcome.code, posted });
  return { outcome: result.status, code: result.outcome.code, posted };
}

async function run(rec: ChatCommandRecord, deps: ChatWorkerDeps, log: Logger): Promise<WorkResult> {
  const cmd = rec.command;
  const done = (code: ChatOutcomeCode, message: ChatMessage, key = 'result'): WorkResult => ({
    status: 'done',
    outcome: { code, message: message.text },
    post: { key, message },
  });
  const failed = (code: ChatOutcomeCode, message: ChatMessage, key = 'result'): WorkResult => ({
    status: 'failed',
    outcome: { code, message: message.text },
    post: { key, message },
  });
  switch (cmd.kind) {
    case 'help':
      return done('HELP', helpMessage(rec.slashCommand));
    case 'teardown-plan': {
      if (!deps.config.teardownTopic) return done('NOT_AVAILABLE', teardownUnavailableMessage());
      // The plan is made (dry run, recorded in teardownRuns) and posted back by teardownIdle.
      const tick: TeardownTick = { tick: 'teardown', dryRun: true, chat: { commandId: rec.id } };
      const messageId = await deps.publisher.publishJson(deps.config.teardownTopic, tick, { kind: 'teardown-plan', commandId: rec.id });
      log.info('teardown plan requested', { teardownMessageId: messageId });
      return { status: 'done', outcome: { code: 'TEARDOWN_PLAN_REQUESTED', message: `dry run requested (message ${messageId})` }, post: null };
    }
    case 'status':
      return done('STATUS', statusMessage(await statusView(cmd.model, deps), { consoleProject: deps.config.consoleProject }));
    case 'versions':
      return done('VERSIONS', versionsMessage(await versionsView(cmd.model, deps), { model: cmd.model, consoleProject: deps.config.consoleProject }));
    case 'deploy': {
      const target = await deps.rollouts.getTarget(cmd.target);
      const lastGood = target?.lastGood ? ((await deps.rollouts.getRollout(target.lastGood.rolloutId))?.request ?? null) : null;
      const built = chatDeployRequest(cmd, { lastGood, requestedBy: slackRequestedBy(rec), idempotencyKey: chatIdempotencyKey(rec.id) });
      const needsAccelerator = () => failed('ACCELERATOR_REQUIRED', noticeMessage(acceleratorHint(cmd, rec.slashCommand), ':thinking_face:'));
      if (!built.request.accelerator) {
        // gpus= alone cannot name a GPU; and where the schema requires an accelerator, say how to give one.
        if (cmd.gpus !== null) return needsAccelerator();
        const probe = parseDeployRequest(JSON.stringify(built.request));
        if (!probe.ok && (probe.issues ?? []).some((i) => i.path === 'accelerator' || i.path.startsWith('accelerator.'))) return needsAccelerator();
      }
      const note = built.inherited.length ? `From the target's last good rollout: ${built.inherited.map((x) => `\`${x}\``).join(' ')}.` : undefined;
      return publishDeploy(rec, built.request, { description: describeCommand(cmd), note }, deps, log);
    }
    case 'rollback': {
      const found = await previousGoodRequest(deps.rollouts, cmd.target);
      if (!found.ok) {
        const next =
          found.reason === 'NO_GOOD_ROLLOUT'
            ? 'Deploy a version first.'
            : `To put another version there, deploy it: \`${rec.slashCommand} deploy <model>@<version> to ${targetText(cmd.target)}\`.`;
        return failed(found.reason, noticeMessage(`Nothing to roll back: ${found.message}. ${next}`, ':leftwards_arrow_with_hook:'));
      }
      const request: ChatDeployInput = { ...found.request, requestedBy: slackRequestedBy(rec), idempotencyKey: chatIdempotencyKey(rec.id) };
      const note = `Rolling \`${targetText(cmd.target)}\` back from \`${found.current.model}@${found.current.version}\` to \`${found.previous.model}@${found.previous.version}\` (the spec of rollout \`${found.previous.id}\`).`;
      return publishDeploy(rec, request, { description: describeCommand(cmd), note }, deps, log);
    }
  }
}

/**
 * Publishes the deploy request (idempotency key = the command, so a re-run maps to the same
 * rollout), then waits a little for onDeployRequest to admit or refuse it, and says which.
 */
async function publishDeploy(
  rec: ChatCommandRecord,
  input: ChatDeployInput,
  ctx: { description: string; note: string | undefined },
  deps: ChatWorkerDeps,
  log: Logger,
): Promise<WorkResult> {
  const checked = parseDeployRequest(JSON.stringify(input));
  if (!checked.ok) {
    const message = rejectedMessage({ reason: checked.reason, message: checked.message, issues: checked.issues ?? [], description: ctx.description });
    return { status: 'failed', outcome: { code: checked.reason, message: checked.message }, post: { key: 'rejected', message } };
  }
  const request = checked.request;
  const messageId = await deps.publisher.publishJson(deps.config.deployTopic, request, { source: 'slack', commandId: rec.id });
  await deps.commands.note(rec.id, { deployMessageId: messageId }, deps.clock.now());
  log.info(`deploy request ${messageId} published for ${request.model}@${request.version} → ${targetKey(request.target)}`, { deployMessageId: messageId });

  const seen = await awaitRollout(messageId, request.model, deps);
  if (seen.kind === 'rejected') {
    const message = rejectedMessage({ reason: seen.reason, message: seen.message, issues: seen.issues, description: ctx.description });
    return { status: 'failed', outcome: { code: seen.reason, message: seen.message }, post: { key: 'rejected', message } };
  }
  if (seen.kind === 'pending') {
    const later = deps.config.resultsTopic
      ? 'I will post the result here when the rollout ends.'
      : `Follow it with \`${rec.slashCommand} status ${request.model}\`.`;
    const message = noticeMessage(
      `Deploy request for \`${ctx.description}\` published (message \`${messageId}\`); the rollout has not been admitted yet. ${later}`,
      ':outbox_tray:',
    );
    return {
      status: 'done',
      outcome: { code: 'PUBLISHED', message: message.text },
      post: { key: 'accepted', message: { ...message, response_type: 'in_channel' } },
    };
  }
  const r = seen.rollout;
  const ours = r.request.idempotencyKey === chatIdempotencyKey(rec.id);
  if (ours) await deps.commands.note(rec.id, { rolloutId: r.id }, deps.clock.now());
  const view = await rolloutView(r, deps);
  if (!ours) {
    const where = isTerminalPhase(r.phase) ? 'is already what the target runs' : 'is already on its way';
    const message = rolloutMessage(view, {
      consoleProject: deps.config.consoleProject,
      headline: 'No new rollout needed',
      note: `The same spec ${where} (rollout \`${r.id}\`), so no new rollout was started.`,
    });
    return { status: 'done', outcome: { code: 'DUPLICATE', message: message.text }, post: { key: 'accepted', message } };
  }
  const terminal = isTerminalPhase(r.phase);
  const later = !terminal && deps.config.resultsTopic ? ' I will post again when it ends.' : '';
  const note = [ctx.note, isLatest(request) ? `\`latest\` resolved to \`${r.version}\`.` : undefined, later ? later.trim() : undefined]
    .filter(Boolean)
    .join(' ');
  const message = rolloutMessage(view, {
    consoleProject: deps.config.consoleProject,
    ...(terminal ? {} : { headline: r.phase === 'pending' ? 'Rollout queued behind the active one' : 'Rollout started' }),
    ...(note ? { note } : {}),
  });
  return {
    status: 'done',
    outcome: { code: terminal ? `ROLLOUT_${r.phase.toUpperCase()}` : 'ROLLOUT_STARTED', message: message.text },
    post: { key: terminal ? `final:${r.id}` : 'accepted', message },
  };
}

type Seen =
  | { kind: 'rollout'; rollout: Rollout }
  | { kind: 'rejected'; reason: string; message: string; issues: Array<{ path: string; message: string }> }
  | { kind: 'pending' };

async function awaitRollout(messageId: string, model: string, deps: ChatWorkerDeps): Promise<Seen> {
  const attempts = Math.max(1, Math.ceil(deps.config.waitForRolloutMs / Math.max(1, deps.config.pollIntervalMs)));
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await deps.sleep(deps.config.pollIntervalMs);
    const id = await deps.rollouts.rolloutIdForMessage(messageId);
    const rollout = id ? await deps.rollouts.getRollout(id) : undefined;
    if (rollout) return { kind: 'rollout', rollout };
    const rejected = (await deps.rollouts.listRejected(model, 50)).find((r) => r.messageId === messageId);
    if (rejected) return { kind: 'rejected', reason: rejected.reason, message: rejected.message, issues: rejected.issues };
  }
  return { kind: 'pending' };
}

export async function rolloutView(r: Rollout, deps: Pick<ChatWorkerDeps, 'versions' | 'config'>): Promise<RolloutView> {
  const uri = deps.config.consoleProject ? (await deps.versions.getVersion(r.model, r.version))?.uri : undefined;
  return {
    id: r.id,
    model: r.model,
    version: r.version,
    target: r.target,
    phase: r.phase,
    reason: r.reason,
    message: r.message,
    requestedBy: r.request.requestedBy.principal.startsWith(`${r.request.requestedBy.source}:`)
      ? r.request.requestedBy.principal
      : `${r.request.requestedBy.principal} (${r.request.requestedBy.source})`,
    previousGoodRolloutId: r.previousGoodRolloutId,
    detail: r.detail?.message,
    uri,
  };
}

const MAX_MODELS = 10;
const MAX_STATUS_VERSIONS = 8;

async function statusView(model: string | null, deps: ChatWorkerDeps): Promise<StatusView> {
  const toView = (r: Rollout): RolloutView => ({
    id: r.id,
    model: r.model,
    version: r.version,
    target: r.target,
    phase: r.phase,
    reason: r.reason,
    message: r.message,
  });
  if (model !== null) {
    const m = await deps.versions.getModel(model);
    if (!m) return { model, models: [], moreModels: 0 };
    const versions = (await deps.versions.listVersions(model)).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    const rollouts = await deps.rollouts.listRollouts({ model, limit: 5 });
    return {
      model,
      moreModels: 0,
      models: [
        {
          model,
          latestValid: m.latestValid?.version ?? null,
          versions: versions.slice(0, MAX_STATUS_VERSIONS).map((v) => ({ version: v.version, status: v.status, note: versionNote(v) })),
          moreVersions: Math.max(0, versions.length - MAX_STATUS_VERSIONS),
          rollouts: rollouts.map(toView),
        },
      ],
    };
  }
  const models = (await deps.versions.listModels()).sort((a, b) => a.model.localeCompare(b.model));
  const shown = models.slice(0, MAX_MODELS);
  const rows = await Promise.all(
    shown.map(async (m) => {
      // The newest rollout of each target the model was rolled out to (at most 3 targets).
      const recent = await deps.rollouts.listRollouts({ model: m.model, limit: 20 });
      const perTarget = new Map<string, Rollout>();
      for (const r of recent) if (!perTarget.has(r.targetKey)) perTarget.set(r.targetKey, r);
      return {
        model: m.model,
        latestValid: m.latestValid?.version ?? null,
        versions: [],
        moreVersions: 0,
        rollouts: [...perTarget.values()].slice(0, 3).map(toView),
      };
    }),
  );
  return { model: null, models: rows, moreModels: models.length - shown.length };
}

function versionNote(v: { status: string; missing: string[]; errors: Array<{ code: string; message: string }>; summary: VersionDoc['summary'] }): string {
  if (v.status === 'incomplete') return `missing ${v.missing.slice(0, 3).join(', ')}${v.missing.length > 3 ? ` (+${v.missing.length - 3})` : ''}`;
  if (v.status === 'invalid' && v.errors[0]) return `${v.errors[0].code}: ${v.errors[0].message}`;
  const f = versionFacts(v.summary);
  return f?.parameters != null ? `${formatCount(f.parameters)} parameters, ${f.shards ?? '?'} shards` : '';
}

const MAX_VERSIONS = 10;

async function versionsView(model: string, deps: ChatWorkerDeps): Promise<VersionsView | null> {
  const m = await deps.versions.getModel(model);
  if (!m) return null;
  const docs = (await deps.versions.listVersions(model)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  let prev: { version: string; facts: VersionFacts } | null = null;
  const rows: VersionsView['versions'] = [];
  for (const d of docs) {
    const facts = versionFacts(d.summary);
    rows.push({
      version: d.version,
      status: d.status,
      createdAt: d.createdAt,
      uri: d.uri,
      facts,
      comparedTo: facts && prev ? prev.version : null,
      changes: facts && prev ? diffVersions(prev.facts, facts) : [],
    });
    if (facts) prev = { version: d.version, facts };
  }
  rows.reverse();
  return { model, versions: rows.slice(0, MAX_VERSIONS), more: Math.max(0, rows.length - MAX_VERSIONS) };
}

/** Reserve the post, then make it. Never throws: the outcome is in the record either way. */
/**
 * Posts `message` to the command's response_url once per `key` (reserved in the record first), within
 * Slack's 5 posts and 30 minutes. Never throws for the post itself: a failure is logged.
 */
export async function postToCommand(
  id: string,
  key: string,
  message: ChatMessage,
  deps: Pick<ChatWorkerDeps, 'commands' | 'chat' | 'clock'>,
  log: Logger,
): Promise<boolean> {
  const { decision, record } = await deps.commands.reservePost(id, key, deps.clock.now());
  if (!record) {
    log.warn(`not posting ${key}: the command record is gone`, { reason: 'MISSING' });
    return false;
  }
  if (decision.action === 'skip') {
    log.info(`not posting ${key}: ${decision.reason}`, { reason: decision.reason });
    return false;
  }
  try {
    await deps.chat.respond(record.responseUrl, message);
    log.debug(`posted ${key}`, { postKey: key });
    return true;
  } catch (e) {
    const err = asFerryError(e, 'CHAT_POST_FAILED');
    // Not retried from here: the post is reserved (at most once), and the state is in Firestore.
    log.error(`could not post ${key} to Slack: ${err.message}`, { code: err.code, error: err, postKey: key });
    return false;
  }
}

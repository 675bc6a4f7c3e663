/**
 * Chat-ops commands (`/ferry …`), pure: the grammar, who may run what, the Firestore record of
 * every accepted command, and the small decisions the worker makes against that record (claim,
 * post budget). Slack-specific bytes (signatures, forms) live in slack.ts; messages in chat-blocks.ts.
 *
 * Grammar (words are case-insensitive; model, version and target names are not):
 *   help
 *   status [<model>]
 *   versions <model>
 *   deploy <model>@<version|latest> to <cluster>/<namespace>/<name> [replicas=N] [accelerator=TYPE] [gpus=N]
 *   rollback <cluster>/<namespace>/<name>
 *   teardown plan
 * A cluster is `local` or `projects/P/locations/L/clusters/C` — it contains slashes, so a target is
 * read from the right: the last two segments are namespace and name, everything before is the cluster.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MAX_REPLICAS, type DeployRequest, type DeployRequestInput, type RequestedBy } from './deploy-request.ts';
import { ModelName, Target, VersionRef } from './names.ts';
import { ACCELERATOR_TYPES, AcceleratorType } from './accelerators.ts';
import { describeIssues } from './events.ts';
import type { ChatAccessRefusal } from './reasons/chat.ts';

// ---------------------------------------------------------------------------------------------
// Commands

export const ChatCommand = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('help') }),
  z.object({ kind: z.literal('status'), model: ModelName.nullable() }),
  z.object({ kind: z.literal('versions'), model: ModelName }),
  z.object({
    kind: z.literal('deploy'),
    model: ModelName,
    version: VersionRef,
    target: Target,
    replicas: z.int().min(0).max(MAX_REPLICAS).nullable(),
    accelerator: AcceleratorType.nullable(),
    gpus: z.int().min(1).max(16).nullable(),
  }),
  z.object({ kind: z.literal('rollback'), target: Target }),
  z.object({ kind: z.literal('teardown-plan') }),
]);
export type ChatCommand = z.infer<typeof ChatCommand>;
export const CHAT_COMMAND_KINDS = ['help', 'status', 'versions', 'deploy', 'rollback', 'teardown-plan'] as const satisfies readonly ChatCommand['kind'][];

/** Read-only commands, deploy/rollback, and those that show nothing but ferry's own help. */
export const COMMAND_CLASSES = ['public', 'read', 'deploy'] as const;
export type CommandClass = (typeof COMMAND_CLASSES)[number];

export function commandClass(cmd: ChatCommand): CommandClass {
  switch (cmd.kind) {
    case 'help':
      return 'public';
    case 'status':
    case 'versions':
    case 'teardown-plan':
      return 'read';
    case 'deploy':
    case 'rollback':
      return 'deploy';
  }
}

export const DEPLOY_OPTIONS = ['replicas', 'accelerator', 'gpus'] as const;

export function usage(slash = '/ferry'): string {
  return [
    `\`${slash} help\` — this message`,
    `\`${slash} status [model]\` — models, versions and rollouts`,
    `\`${slash} versions <model>\` — a model's versions and what changed between them (shards, dtypes, parameters, bytes)`,
    `\`${slash} deploy <model>@<version|latest> to <cluster>/<namespace>/<name> [replicas=N] [accelerator=TYPE] [gpus=N]\``,
    `\`${slash} rollback <cluster>/<namespace>/<name>\` — back to the target's previous good version`,
    `\`${slash} teardown plan\` — what an idle-resource teardown would remove`,
    'A cluster is `local` or `projects/P/locations/L/clusters/C`, e.g. ' +
      `\`${slash} deploy llama@latest to projects/my-proj/locations/us-central1/clusters/gpu/serving/llama accelerator=nvidia-l4\`.`,
  ].join('\n');
}

export type ChatParse = { ok: true; command: ChatCommand } | { ok: false; message: string };

const fail = (message: string): ChatParse => ({ ok: false, message });

function firstIssue(e: z.ZodError): string {
  const i = describeIssues(e)[0];
  return i ? (i.path === '(root)' ? i.message : `${i.path}: ${i.message}`) : 'invalid';
}

/** `<cluster>/<namespace>/<name>`, read from the right (clusters contain slashes). */
export function parseTargetRef(ref: string): { ok: true; target: Target } | { ok: false; message: string } {
  const parts = ref.split('/');
  if (parts.length < 3 || parts.some((p) => p === '')) {
    return { ok: false, message: `\`${ref}\` is not a target: write <cluster>/<namespace>/<name>, e.g. local/default/llama` };
  }
  const name = parts.pop()!;
  const namespace = parts.pop()!;
  const r = Target.safeParse({ cluster: parts.join('/'), namespace, name });
  if (!r.success) return { ok: false, message: `\`${ref}\`: ${firstIssue(r.error)}` };
  return { ok: true, target: r.data };
}

/** `TYPE`, or the same without its `nvidia-` / `nvidia-tesla-` prefix (`l4`, `a100-80gb`, `t4`). */
export function parseAcceleratorName(v: string): AcceleratorType | null {
  const lower = v.toLowerCase();
  for (const candidate of [lower, `nvidia-${lower}`, `nvidia-tesla-${lower}`]) {
    if ((ACCELERATOR_TYPES as readonly string[]).includes(candidate)) return candidate as AcceleratorType;
  }
  return null;
}

const INT_RE = /^[0-9]{1,3}$/;

/** Parses the text after `/ferry`. Never throws; a refusal says what is wrong and how to write it. */
export function parseChatCommand(text: string): ChatParse {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  const [verb, ...args] = words;
  switch (verb?.toLowerCase()) {
    case undefined:
    case 'help':
    case '-h':
    case '--help':
      return args.length && verb ? fail('`help` takes no arguments') : { ok: true, command: { kind: 'help' } };
    case 'status': {
      if (args.length > 1) return fail('`status` takes at most one model name');
      if (args.length === 0) return { ok: true, command: { kind: 'status', model: null } };
      const m = ModelName.safeParse(args[0]);
      return m.success ? { ok: true, command: { kind: 'status', model: m.data } } : fail(`\`${args[0]}\`: ${firstIssue(m.error)}`);
    }
    case 'versions': {
      if (args.length !== 1) return fail('`versions` needs exactly one model name: `versions <model>`');
      const m = ModelName.safeParse(args[0]);
      return m.success ? { ok: true, command: { kind: 'versions', model: m.data } } : fail(`\`${args[0]}\`: ${firstIssue(m.error)}`);
    }
    case 'deploy':
      return parseDeploy(args);
    case 'rollback': {
      if (args.length !== 1) return fail('`rollback` needs exactly one target: `rollback <cluster>/<namespace>/<name>`');
      const t = parseTargetRef(args[0]!);
      return t.ok ? { ok: true, command: { kind: 'rollback', target: t.target } } : fail(t.message);
    }
    case 'teardown':
      if (args.length === 1 && args[0]!.toLowerCase() === 'plan') return { ok: true, command: { kind: 'teardown-plan' } };
      return fail('only `teardown plan` is available from chat (it changes nothing)');
    default:
      return fail(`unknown command \`${verb}\``);
  }
}

function parseDeploy(args: string[]): ChatParse {
  const [ref, to, targetRef, ...options] = args;
  if (!ref || to?.toLowerCase() !== 'to' || !targetRef) {
    return fail('write `deploy <model>@<version|latest> to <cluster>/<namespace>/<name> [replicas=N] [accelerator=TYPE] [gpus=N]`');
  }
  const mv = /^([^@]+)@([^@]+)$/.exec(ref);
  if (!mv) return fail(`\`${ref}\`: write the model as <model>@<version> (or <model>@latest)`);
  const model = ModelName.safeParse(mv[1]);
  if (!model.success) return fail(`\`${mv[1]}\`: ${firstIssue(model.error)}`);
  const version = VersionRef.safeParse(mv[2]);
  if (!version.success) return fail(`\`${mv[2]}\`: ${firstIssue(version.error)}`);
  const t = parseTargetRef(targetRef);
  if (!t.ok) return fail(t.message);
  const seen = new Map<string, string>();
  for (const o of options) {
    const kv = /^([a-z]+)=(.+)$/i.exec(o);
    const key = kv?.[1]?.toLowerCase();
    if (!kv || !key || !(DEPLOY_OPTIONS as readonly string[]).includes(key)) {
      return fail(`unknown option \`${o}\`; options are ${DEPLOY_OPTIONS.map((k) => `\`${k}=…\``).join(', ')}`);
    }
    if (seen.has(key)) return fail(`\`${key}=\` is given twice`);
    seen.set(key, kv[2]!);
  }
  let replicas: number | null = null;
  let gpus: number | null = null;
  let accelerator: AcceleratorType | null = null;
  const r = seen.get('replicas');
  if (r !== undefined) {
    if (!INT_RE.test(r) || Number(r) > MAX_REPLICAS) return fail(`\`replicas=${r}\`: a whole number from 0 to ${MAX_REPLICAS}`);
    replicas = Number(r);
  }
  const g = seen.get('gpus');
  if (g !== undefined) {
    if (!INT_RE.test(g) || Number(g) < 1 || Number(g) > 16) return fail(`\`gpus=${g}\`: a whole number from 1 to 16 (GPUs per replica)`);
    gpus = Number(g);
  }
  const a = seen.get('accelerator');
  if (a !== undefined) {
    accelerator = parseAcceleratorName(a);
    if (!accelerator) return fail(`\`accelerator=${a}\`: one of ${ACCELERATOR_TYPES.map((x) => `\`${x}\``).join(', ')}`);
  }
  return { ok: true, command: { kind: 'deploy', model: model.data, version: version.data, target: t.target, replicas, accelerator, gpus } };
}

/** The command written back canonically (acknowledgements, logs, the record). */
export function describeCommand(cmd: ChatCommand): string {
  const tgt = (t: Target) => `${t.cluster}/${t.namespace}/${t.name}`;
  switch (cmd.kind) {
    case 'help':
      return 'help';
    case 'status':
      return cmd.model ? `status ${cmd.model}` : 'status';
    case 'versions':
      return `versions ${cmd.model}`;
    case 'deploy': {
      const opts = [
        cmd.replicas !== null ? `replicas=${cmd.replicas}` : '',
        cmd.accelerator ? `accelerator=${cmd.accelerator}` : '',
        cmd.gpus !== null ? `gpus=${cmd.gpus}` : '',
      ].filter(Boolean);
      return [`deploy ${cmd.model}@${cmd.version} to ${tgt(cmd.target)}`, ...opts].join(' ');
    }
    case 'rollback':
      return `rollback ${tgt(cmd.target)}`;
    case 'teardown-plan':
      return 'teardown plan';
  }
}

// ---------------------------------------------------------------------------------------------
// Authorisation

/** Who may run what. `users: '*'` (read only) = everyone in the workspace; `channels: null` = any channel. */
export interface ChatAccessPolicy {
  read: { users: readonly string[] | '*'; channels: readonly string[] | null };
  deploy: { users: readonly string[]; channels: readonly string[] | null };
}

export type Authorisation =
  | { allowed: true }
  | { allowed: false; reason: ChatAccessRefusal; message: string };

/**
 * Deploy users may also read. Channel lists, when set, restrict where a class may be used (a
 * deploy-allowed channel also allows reading). Refusals are polite and say what to do next.
 */
export function authorise(policy: ChatAccessPolicy, who: { userId: string; channelId: string }, cls: CommandClass): Authorisation {
  if (cls === 'public') return { allowed: true };
  const deployUser = policy.deploy.users.includes(who.userId);
  if (cls === 'deploy') {
    if (!deployUser) {
      return {
        allowed: false,
        reason: 'USER_NOT_ALLOWED',
        message: `Sorry <@${who.userId}>, you are not on ferry's list of people who may deploy or roll back. Ask a ferry admin to add your Slack user id (\`${who.userId}\`) to FERRY_SLACK_DEPLOY_USERS; read-only commands (\`status\`, \`versions\`) may still work for you.`,
      };
    }
    const chans = policy.deploy.channels;
    if (chans !== null && !chans.includes(who.channelId)) {
      return { allowed: false, reason: 'CHANNEL_NOT_ALLOWED', message: `Sorry, deploys and rollbacks are only taken in ${channelList(chans)}. Please run the command there.` };
    }
    return { allowed: true };
  }
  const readUser = policy.read.users === '*' || policy.read.users.includes(who.userId) || deployUser;
  if (!readUser) {
    return {
      allowed: false,
      reason: 'USER_NOT_ALLOWED',
      message: `Sorry <@${who.userId}>, you are not on ferry's list of people who may use it. Ask a ferry admin to add your Slack user id (\`${who.userId}\`) to FERRY_SLACK_READ_USERS.`,
    };
  }
  const chans = policy.read.channels === null ? null : [...policy.read.channels, ...(policy.deploy.channels ?? [])];
  if (chans !== null && !chans.includes(who.channelId)) {
    return { allowed: false, reason: 'CHANNEL_NOT_ALLOWED', message: `Sorry, ferry answers in ${channelList(chans)} only. Please run the command there.` };
  }
  return { allowed: true };
}

const channelList = (ids: readonly string[]): string => (ids.length ? ids.map((c) => `<#${c}>`).join(', ') : 'no channel (none is configured)');

// ---------------------------------------------------------------------------------------------
// The record of an accepted command (Firestore `chatCommands/{id}`)

const IsoTime = z.iso.datetime();
export const CHAT_COMMAND_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
/** Slack accepts at most 5 posts to one response_url, within 30 minutes of the command. */
export const MAX_RESPONSE_POSTS = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;
export const CHAT_COMMAND_ID_RE = /^sc-[0-9]{8}-[0-9]{6}-[0-9a-f]{16}$/;

export const ChatCommandRecord = z.object({
  schemaVersion: z.literal(1),
  id: z.string().regex(CHAT_COMMAND_ID_RE),
  source: z.literal('slack'),
  /** Who: the Slack user (id is what authorisation used; name is for people reading the record). */
  user: z.object({ id: z.string(), name: z.string() }),
  teamId: z.string(),
  channelId: z.string(),
  /** What: the slash command, its text as typed, and what ferry understood. */
  slashCommand: z.string(),
  text: z.string(),
  command: ChatCommand,
  commandClass: z.enum(COMMAND_CLASSES),
  /** When. */
  receivedAt: IsoTime,
  responseUrl: z.string(),
  status: z.enum(CHAT_COMMAND_STATUSES),
  attempts: z.int().min(0),
  leaseUntil: IsoTime.nullable(),
  /** Deploy / rollback: the deploy request published for it, and the rollout it led to. */
  deployMessageId: z.string().nullable(),
  rolloutId: z.string().nullable(),
  /** Posts made to responseUrl, one per key (at most MAX_RESPONSE_POSTS). */
  posts: z.array(z.object({ key: z.string(), at: IsoTime })),
  outcome: z.object({ code: z.string(), message: z.string() }).nullable(),
  updatedAt: IsoTime,
  finishedAt: IsoTime.nullable(),
});
export type ChatCommandRecord = z.infer<typeof ChatCommandRecord>;

/**
 * A command's id: when Slack signed it plus a hash of the signed bytes (which include Slack's
 * unique trigger_id). A replay of the same signed request maps to the same id, so it is refused
 * by the create-if-absent record instead of running twice.
 */
export function chatCommandId(timestampSeconds: number, rawBody: Uint8Array): string {
  const stamp = new Date(timestampSeconds * 1000).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const h = createHash('sha256').update(String(timestampSeconds)).update(':').update(rawBody).digest('hex').slice(0, 16);
  return `sc-${stamp}-${h}`;
}

const CHAT_KEY_PREFIX = 'slack:';
/** The deploy request's idempotency key: links the rollout back to its command (and dedupes re-runs). */
export const chatIdempotencyKey = (commandId: string): string => `${CHAT_KEY_PREFIX}${commandId}`;
export function commandIdOfKey(key: string | undefined): string | null {
  if (!key?.startsWith(CHAT_KEY_PREFIX)) return null;
  const id = key.slice(CHAT_KEY_PREFIX.length);
  return CHAT_COMMAND_ID_RE.test(id) ? id : null;
}

/** requestedBy.principal for a command: the Slack user id (what was authorised) and name. */
export function slackRequestedBy(rec: Pick<ChatCommandRecord, 'user' | 'teamId'>): RequestedBy {
  const name = rec.user.name ? ` (${rec.user.name.slice(0, 64)})` : '';
  const team = rec.teamId ? `${rec.teamId}/` : '';
  return { source: 'slack', principal: `slack:${team}${rec.user.id}${name}` };
}

export function newChatCommandRecord(input: {
  id: string;
  payload: { command: string; text: string; response_url: string; user_id: string; user_name: string; channel_id: string; team_id: string };
  command: ChatCommand;
  now: Date;
}): ChatCommandRecord {
  const at = input.now.toISOString();
  const p = input.payload;
  return {
    schemaVersion: 1,
    id: input.id,
    source: 'slack',
    user: { id: p.user_id, name: p.user_name },
    teamId: p.team_id,
    channelId: p.channel_id,
    slashCommand: p.command,
    text: p.text,
    command: input.command,
    commandClass: commandClass(input.command),
    receivedAt: at,
    responseUrl: p.response_url,
    status: 'queued',
    attempts: 0,
    leaseUntil: null,
    deployMessageId: null,
    rolloutId: null,
    posts: [],
    outcome: null,
    updatedAt: at,
    finishedAt: null,
  };
}

export type ChatClaim = { action: 'claim'; record: ChatCommandRecord } | { action: 'skip'; reason: 'FINISHED' | 'IN_PROGRESS' };

/** One worker at a time per command; a finished command is never run again (duplicate deliveries). */
export function decideChatClaim(rec: ChatCommandRecord, now: Date, leaseMs: number): ChatClaim {
  if (rec.status === 'done' || rec.status === 'failed') return { action: 'skip', reason: 'FINISHED' };
  if (rec.status === 'running' && rec.leaseUntil && Date.parse(rec.leaseUntil) > now.getTime()) return { action: 'skip', reason: 'IN_PROGRESS' };
  const at = now.toISOString();
  return {
    action: 'claim',
    record: { ...rec, status: 'running', attempts: rec.attempts + 1, leaseUntil: new Date(now.getTime() + leaseMs).toISOString(), updatedAt: at },
  };
}

export type PostDecision =
  | { action: 'post'; record: ChatCommandRecord }
  | { action: 'skip'; reason: 'ALREADY_POSTED' | 'BUDGET_SPENT' | 'URL_EXPIRED' };

/**
 * At most one post per key (a redelivered result is not posted twice), at most MAX_RESPONSE_POSTS
 * per command, and none once the response_url has expired.
 */
export function decidePost(rec: ChatCommandRecord, key: string, now: Date): PostDecision {
  if (rec.posts.some((p) => p.key === key)) return { action: 'skip', reason: 'ALREADY_POSTED' };
  if (now.getTime() - Date.parse(rec.receivedAt) > RESPONSE_URL_TTL_MS) return { action: 'skip', reason: 'URL_EXPIRED' };
  if (rec.posts.length >= MAX_RESPONSE_POSTS) return { action: 'skip', reason: 'BUDGET_SPENT' };
  const at = now.toISOString();
  return { action: 'post', record: { ...rec, posts: [...rec.posts, { key, at }], updatedAt: at } };
}

// ---------------------------------------------------------------------------------------------
// The deploy request a chat command asks for

/** A deploy request input whose accelerator may be missing (the deploy request schema decides whether that is allowed). */
export type ChatDeployInput = Omit<DeployRequestInput, 'accelerator'> & { accelerator?: DeployRequestInput['accelerator'] };

export interface ChatDeployBuild {
  request: ChatDeployInput;
  /** Settings taken from the target's last good rollout, as `key=value`. */
  inherited: string[];
}

/**
 * `deploy …` → a deploy request. What the command leaves out comes from the target's last good
 * rollout: the accelerator (type and count) and the replica count. Other settings (image, vLLM
 * args, streamer, cache) take their defaults; use the CLI or Pub/Sub for those. With no
 * accelerator given or inherited the request has none: the deploy request schema then decides
 * whether that is allowed, and the caller answers with acceleratorHint when it is not.
 */
export function chatDeployRequest(
  cmd: Extract<ChatCommand, { kind: 'deploy' }>,
  ctx: { lastGood: DeployRequest | null; requestedBy: RequestedBy; idempotencyKey: string },
): ChatDeployBuild {
  const inherited: string[] = [];
  const lastAcc = ctx.lastGood?.accelerator;
  let type = cmd.accelerator;
  let count = cmd.gpus;
  if (type === null && lastAcc) {
    type = lastAcc.type;
    inherited.push(`accelerator=${type}`);
    if (count === null) {
      count = lastAcc.count;
      inherited.push(`gpus=${count}`);
    }
  }
  let replicas = cmd.replicas;
  if (replicas === null && ctx.lastGood) {
    replicas = ctx.lastGood.replicas;
    inherited.push(`replicas=${replicas}`);
  }
  return {
    inherited,
    request: {
      apiVersion: 'ferry/v1',
      model: cmd.model,
      version: cmd.version,
      target: cmd.target,
      ...(replicas !== null ? { replicas } : {}),
      ...(type !== null ? { accelerator: { type, count: count ?? 1 } } : {}),
      requestedBy: ctx.requestedBy,
      idempotencyKey: ctx.idempotencyKey,
    },
  };
}

/** The deploy request was refused for lack of an accelerator: say how to name one. */
export function acceleratorHint(cmd: Extract<ChatCommand, { kind: 'deploy' }>, slash = '/ferry'): string {
  const t = cmd.target;
  return `${t.cluster}/${t.namespace}/${t.name} has no good rollout to take the accelerator from. Say which GPUs to use, e.g. \`${slash} ${describeCommand({ ...cmd, accelerator: 'nvidia-l4', gpus: cmd.gpus ?? 1 })}\`.`;
}

/** What the Slack function publishes on the chat topic: only the id; the worker reads the record. */
export const ChatWorkMessage = z.object({ commandId: z.string().regex(CHAT_COMMAND_ID_RE) });
export type ChatWorkMessage = z.infer<typeof ChatWorkMessage>;

/**
 * Chat-ops commands (`/ferry …`), pure: the grammar and the deploy request a command asks for.
 * Who may run what is chat-access.ts; the Firestore record of every accepted command and the
 * worker's decisions against it are chat-command-record.ts. Slack-specific bytes (signatures,
 * forms) live in slack.ts; messages in chat-blocks.ts.
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
import { z } from 'zod';
import { MAX_REPLICAS, type DeployRequest, type DeployRequestInput, type RequestedBy } from './deploy-request.ts';
import { ModelName, Target, VersionRef } from './names.ts';
import { ACCELERATOR_TYPES, AcceleratorType } from './accelerators.ts';
import { describeIssues } from './events.ts';

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
  const words = text
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
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

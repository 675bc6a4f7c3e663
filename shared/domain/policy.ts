/**
 * The deploy policy: who may deploy what, where. One document (Firestore `policy/current`,
 * versioned; `ferry policy show|set`), parsed strictly, and one pure check — `checkDeploy` — that
 * every deploy path (Pub/Sub, Slack, autodeploy, CLI: all arrive as deploy requests at
 * onDeployRequest) passes before anything is recorded as admitted. A refusal names the rule.
 *
 * Default deny everywhere: a cluster or namespace not listed is refused, an image repository not
 * listed is refused, a vLLM flag not listed (e.g. --trust-remote-code) is refused, and a source
 * with no grant is refused. System namespaces are refused even when listed (the schema rejects
 * listing them). No policy document at all: every deploy is refused (POLICY_MISSING).
 */
import { z } from 'zod';
import { ClusterName } from './names.ts';
import { DEFAULT_IMAGE, DEFAULT_TPU_IMAGE } from './rendered-spec.ts';
import { parseImageReference } from './vllm.ts';
import { MAX_REPLICAS, type DeployRequest } from './deploy-request.ts';
import { ACCELERATOR_TYPES, isTpuType } from './accelerators.ts';
import type { PolicyRefusal } from './reasons/policy.ts';

export const POLICY_API_VERSION = 'ferry/policy-v1';

/**
 * Namespaces that are never deploy targets: Kubernetes' own (kube-system, kube-public,
 * kube-node-lease: every `kube-` name), GKE's managed ones (`gke-` such as gke-managed-system,
 * gke-gmp-system; `gmp-` Managed Prometheus: gmp-system, gmp-public) and a few add-ons' system
 * namespaces. `default` is not one of them, but it is only a target when a policy lists it.
 */
export const SYSTEM_NAMESPACE_PREFIXES = ['kube-', 'gke-', 'gmp-'] as const;
export const SYSTEM_NAMESPACES = ['config-management-system', 'cnrm-system', 'istio-system', 'asm-system', 'anthos-identity-service'] as const;
export const isSystemNamespace = (ns: string): boolean =>
  SYSTEM_NAMESPACE_PREFIXES.some((p) => ns.startsWith(p)) || (SYSTEM_NAMESPACES as readonly string[]).includes(ns);

/** A namespace, or a prefix pattern `team-a-*` (still never a system namespace). */
const Namespace = z
  .string()
  .regex(/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?|[a-z0-9][-a-z0-9]{0,61}\*)$/, 'namespaces are DNS-1123 labels, or a prefix ending in * (team-a-*)')
  .refine(
    (ns) => !isSystemNamespace(ns.replace(/\*$/, '')) && !SYSTEM_NAMESPACE_PREFIXES.some((p) => p.startsWith(ns.replace(/\*$/, '')) && ns.endsWith('*')),
    {
      message: 'system namespaces (kube-*, gke-*, gmp-*, …) can never be deploy targets, nor a pattern that covers them',
    },
  );

const namespaceMatches = (pattern: string, ns: string): boolean => (pattern.endsWith('*') ? ns.startsWith(pattern.slice(0, -1)) : pattern === ns);

/** The Slack user id of a slack principal (`slack:T0123/U0456 (name)`, chat-command-record.ts slackRequestedBy). */
export function slackUserOf(principal: string): string | null {
  return /^slack:(?:[A-Z0-9]+\/)?([UW][A-Z0-9]{2,30})(?: |$)/.exec(principal)?.[1] ?? null;
}

/** The image a request runs: its own, else ferry's default for the accelerator (as render.ts picks it). */
export function effectiveImage(request: Pick<DeployRequest, 'image' | 'accelerator'>): string {
  return request.image ?? (request.accelerator && isTpuType(request.accelerator.type) ? DEFAULT_TPU_IMAGE : DEFAULT_IMAGE);
}

/** An image repository without tag or digest, e.g. `vllm/vllm-openai` or `us-docker.pkg.dev/p/r/vllm`. */
const Repository = z.string().refine((r) => {
  const ref = parseImageReference(r);
  return ref !== null && ref.tag === undefined && ref.digest === undefined;
}, 'a repository is an image name without :tag or @digest, e.g. vllm/vllm-openai');

export const PolicyTarget = z
  .object({
    cluster: ClusterName,
    namespaces: z.array(Namespace).min(1).max(100),
    /** Most replicas (or autoscaling maxReplicas) a deploy here may ask for. */
    maxReplicas: z.int().min(0).max(MAX_REPLICAS).default(MAX_REPLICAS),
    /** Most accelerators per replica; absent: any count the request schema allows. */
    maxAcceleratorsPerReplica: z.int().min(1).max(64).optional(),
    /** Accelerator types allowed here; absent: any. */
    acceleratorTypes: z.array(z.enum(ACCELERATOR_TYPES)).min(1).optional(),
  })
  .strict();
export type PolicyTarget = z.infer<typeof PolicyTarget>;

const FLAG_RE = /^--[a-z0-9][a-z0-9-]*$/;
export const FlagRule = z
  .object({
    /** The values it may take; absent: any value (or none, for a switch). */
    values: z.array(z.string().min(1).max(256)).min(1).max(100).optional(),
  })
  .strict();

export const SOURCES = ['pubsub', 'slack', 'autodeploy', 'cli'] as const;
export type PolicySource = (typeof SOURCES)[number];
export const ACTIONS = ['deploy'] as const;

/** `cluster/namespace`, `cluster/*` (every namespace the targets list for it) or `*`. */
const TargetPattern = z
  .string()
  .regex(/^(\*|[^\s]+\/(\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?))$/, 'target patterns are "<cluster>/<namespace>", "<cluster>/*" or "*"');

export const Grant = z
  .object({
    /** Shown in refusals and audit records. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'grant names are lowercase a-z 0-9 -'),
    sources: z.array(z.enum(SOURCES)).min(1),
    /**
     * The Pub/Sub topics (names) whose messages this grant covers; absent: any topic ferry is
     * subscribed to. A message cannot prove who published it: the topic (and its IAM) can. Give
     * publishers of a different trust a topic of their own and grant that topic.
     */
    topics: z
      .array(z.string().regex(/^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$/, 'Pub/Sub topic names'))
      .min(1)
      .optional(),
    /** For `slack`: the Slack user ids (U…) covered; absent: every user FERRY_SLACK_DEPLOY_USERS allows. */
    slackUsers: z
      .array(z.string().regex(/^[UW][A-Z0-9]{2,30}$/, 'Slack user ids look like U0123ABCD'))
      .min(1)
      .optional(),
    targets: z.array(TargetPattern).min(1),
    actions: z.array(z.enum(ACTIONS)).min(1).default(['deploy']),
  })
  .strict();
export type Grant = z.infer<typeof Grant>;

export const PolicyDoc = z
  .object({
    apiVersion: z.literal(POLICY_API_VERSION),
    targets: z.array(PolicyTarget).max(200),
    images: z
      .object({
        repositories: z.array(Repository).max(100),
        /** Only `repo@sha256:…` references (the default image, with a tag, is then refused too). */
        digestsOnly: z.boolean().default(false),
      })
      .strict(),
    /** vLLM flags a request may pass, by name (`--max-model-len`); every other flag is refused. */
    vllmFlags: z.record(z.string().regex(FLAG_RE, 'flags are written --name (long form, dashes)'), FlagRule).default({}),
    grants: z.array(Grant).max(200),
  })
  .strict()
  .superRefine((p, ctx) => {
    p.grants.forEach((g, i) => {
      if (g.slackUsers && !g.sources.includes('slack')) {
        ctx.addIssue({ code: 'custom', path: ['grants', i, 'slackUsers'], message: 'slackUsers only applies to a grant with source slack' });
      }
    });
  });
export type PolicyDoc = z.infer<typeof PolicyDoc>;
export type PolicyInput = z.input<typeof PolicyDoc>;

/** Where a request came from, as far as ferry can tell. */
export interface DeployOrigin {
  /** requestedBy.source, with `upload` read as autodeploy. Self-declared: see `topic`. */
  source: PolicySource;
  /** requestedBy.principal (a Slack user id for slack, verified by the Slack function). */
  principal: string;
  /** The topic the message arrived on (from the push's CloudEvent source); null: unknown. */
  topic: string | null;
}

export type PolicyDecision = { ok: true; grant: string; target: number } | { ok: false; reason: PolicyRefusal; rule: string; message: string };

/** requestedBy → origin: `upload` is the autodeploy source. */
export function originOf(requestedBy: DeployRequest['requestedBy'], topic: string | null): DeployOrigin {
  const source: PolicySource = requestedBy.source === 'upload' ? 'autodeploy' : requestedBy.source;
  return { source, principal: requestedBy.principal, topic };
}

/** `docker.io/library/x` style: the registry made explicit, so `vllm/vllm-openai` and `docker.io/vllm/vllm-openai` are one repository. */
export function canonicalRepository(image: string): string | null {
  const ref = parseImageReference(image);
  if (!ref) return null;
  const registry = ref.registry ?? 'docker.io';
  const repo = registry === 'docker.io' && !ref.repository.includes('/') ? `library/${ref.repository}` : ref.repository;
  return `${registry === 'index.docker.io' ? 'docker.io' : registry}/${repo}`;
}

/** Flag name as vLLM's parser reads it: `--a_b=1` → `--a-b`; a short flag stays as written. */
const flagName = (arg: string): string => (arg.startsWith('--') ? `--${arg.slice(2).split('=', 1)[0]!.replaceAll('_', '-')}` : arg.split('=', 1)[0]!);

/**
 * vllmArgs → (flag, value) pairs: `--f=v`, `--f v` (the next argument when it is not a flag), or a
 * switch `--f`. A bare word that is no flag's value is reported as a positional argument.
 */
export function flagUses(args: readonly string[]): Array<{ flag: string; value: string | null; index: number } | { positional: string; index: number }> {
  const out: Array<{ flag: string; value: string | null; index: number } | { positional: string; index: number }> = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) {
      out.push({ positional: a, index: i });
      continue;
    }
    const eq = a.indexOf('=');
    if (eq !== -1) {
      out.push({ flag: flagName(a), value: a.slice(eq + 1), index: i });
      continue;
    }
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith('-')) {
      out.push({ flag: flagName(a), value: next, index: i });
      i++;
    } else out.push({ flag: flagName(a), value: null, index: i });
  }
  return out;
}

const matchesTarget = (pattern: string, cluster: string, namespace: string): boolean => {
  if (pattern === '*') return true;
  const slash = pattern.lastIndexOf('/');
  const pc = pattern.slice(0, slash);
  const pn = pattern.slice(slash + 1);
  return pc === cluster && (pn === '*' || pn === namespace);
};

/**
 * The one check. `request` is the parsed request after sizing (accelerator resolved); the image
 * checked is the one it will run (its own, else ferry's default). Pure and total.
 */
export function checkDeploy(policy: PolicyDoc | null, input: { request: DeployRequest; origin: DeployOrigin }): PolicyDecision {
  const { request, origin } = input;
  const image = effectiveImage(request);
  const { cluster, namespace } = request.target;
  const where = `${cluster}/${namespace}`;
  const no = (reason: PolicyRefusal, rule: string, message: string): PolicyDecision => ({
    ok: false,
    reason,
    rule,
    message: `refused by policy rule ${rule}: ${message}`,
  });
  if (!policy) return no('POLICY_MISSING', 'policy', 'no deploy policy is set, so nothing may be deployed');

  // Targets: system namespaces never; otherwise only what is listed.
  if (isSystemNamespace(namespace)) return no('POLICY_SYSTEM_NAMESPACE', 'systemNamespaces', `${namespace} is a system namespace; ferry never deploys there`);
  const ti = policy.targets.findIndex((t) => t.cluster === cluster && t.namespaces.some((p) => namespaceMatches(p, namespace)));
  if (ti === -1) return no('POLICY_TARGET', 'targets', `${where} is not a listed deploy target`);
  const target = policy.targets[ti]!;

  // Sources: a grant for this source (by topic, by Slack user) covering this target.
  const grant = policy.grants.find(
    (g) =>
      g.sources.includes(origin.source) &&
      g.actions.includes('deploy') &&
      (g.topics === undefined || (origin.topic !== null && g.topics.includes(origin.topic))) &&
      (g.slackUsers === undefined || (origin.source === 'slack' && g.slackUsers.includes(slackUserOf(origin.principal) ?? ''))) &&
      g.targets.some((p) => matchesTarget(p, cluster, namespace)),
  );
  if (!grant) {
    const via = origin.topic ? ` via topic ${origin.topic}` : '';
    return no('POLICY_SOURCE', 'grants', `no grant lets ${origin.source} (${origin.principal})${via} deploy to ${where}`);
  }

  // Image: a listed repository; by digest when the policy says so.
  const repo = canonicalRepository(image);
  const allowed = policy.images.repositories.map(canonicalRepository);
  if (repo === null || !allowed.includes(repo)) return no('POLICY_IMAGE', 'images.repositories', `image ${image} is not from a listed repository`);
  if (policy.images.digestsOnly && parseImageReference(image)?.digest === undefined) {
    return no('POLICY_IMAGE_DIGEST', 'images.digestsOnly', `image ${image} is not pinned by digest (repo@sha256:…)`);
  }

  // vLLM flags: only those listed, with listed values.
  for (const use of flagUses(request.vllmArgs)) {
    if ('positional' in use) return no('POLICY_FLAG', 'vllmFlags', `vllmArgs[${use.index}] ${JSON.stringify(use.positional)} is not a flag`);
    const rule = Object.hasOwn(policy.vllmFlags, use.flag) ? policy.vllmFlags[use.flag] : undefined;
    if (!rule) return no('POLICY_FLAG', 'vllmFlags', `vLLM flag ${use.flag} is not allowed`);
    if (rule.values && (use.value === null || !rule.values.includes(use.value))) {
      return no('POLICY_FLAG_VALUE', `vllmFlags.${use.flag}.values`, `${use.flag} ${use.value ?? '(no value)'} is not one of ${rule.values.join(', ')}`);
    }
  }

  // Limits of the target.
  const replicas = request.autoscaling ? request.autoscaling.maxReplicas : request.replicas;
  if (replicas > target.maxReplicas)
    return no('POLICY_REPLICAS', `targets[${ti}].maxReplicas`, `${replicas} replicas asked; at most ${target.maxReplicas} on ${where}`);
  const acc = request.accelerator;
  if (acc && target.maxAcceleratorsPerReplica !== undefined && acc.count > target.maxAcceleratorsPerReplica) {
    return no(
      'POLICY_ACCELERATOR',
      `targets[${ti}].maxAcceleratorsPerReplica`,
      `${acc.count} × ${acc.type} per replica asked; at most ${target.maxAcceleratorsPerReplica} on ${where}`,
    );
  }
  if (acc && target.acceleratorTypes && !target.acceleratorTypes.includes(acc.type)) {
    return no('POLICY_ACCELERATOR', `targets[${ti}].acceleratorTypes`, `${acc.type} is not one of ${target.acceleratorTypes.join(', ')} on ${where}`);
  }
  if (!acc && target.acceleratorTypes)
    return no('POLICY_ACCELERATOR', `targets[${ti}].acceleratorTypes`, `the accelerator is not known yet; name one of ${target.acceleratorTypes.join(', ')}`);
  return { ok: true, grant: grant.name, target: ti };
}

/** Parses a stored or submitted policy; the issues name each field. */
export function parsePolicy(value: unknown): { ok: true; policy: PolicyDoc } | { ok: false; issues: Array<{ path: string; message: string }> } {
  const r = PolicyDoc.safeParse(value);
  if (r.success) return { ok: true, policy: r.data };
  return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.join('.') || '(policy)', message: i.message })) };
}

/** A line diff of two policies' canonical JSON (2-space, keys as written), for `ferry policy set`. */
export function policyDiff(before: PolicyDoc | null, after: PolicyDoc): string[] {
  const a = before ? JSON.stringify(before, null, 2).split('\n') : [];
  const b = JSON.stringify(after, null, 2).split('\n');
  // Longest common subsequence: policies are small (hundreds of lines).
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  while (i < n) out.push(`- ${a[i++]}`);
  while (j < m) out.push(`+ ${b[j++]}`);
  return out;
}

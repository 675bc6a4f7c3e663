/**
 * Configuration, parsed once from an env object with zod. A bad or missing variable fails at cold
 * start with a message that names it. Each entrypoint asks only for the slice it needs.
 */
import { z } from 'zod';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FerryError } from './domain/errors.ts';

export const BaseConfig = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a Google Cloud project id'),
  FERRY_LOG_LEVEL: z.enum(['debug', 'info', 'warning', 'warn', 'error']).optional(),
});

export const StorageConfig = z.object({
  /** Objects under <prefix><model>/<version>/ are checkpoints. */
  FERRY_MODEL_PREFIX: z
    .string()
    .regex(/^([a-zA-Z0-9._-]+\/)*$/, 'must be empty or end with "/" (e.g. "models/")')
    .default('models/'),
  /**
   * The model bucket(s) ferry owns, comma-separated names. A finalize event from any other bucket is
   * logged (FOREIGN_BUCKET) and acked, never recorded; a stored version outside them is never
   * deployed. Empty: no bucket is trusted (the upload function refuses to start).
   */
  FERRY_MODEL_BUCKETS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== ''),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'bucket names look like my-models (no gs://)'))),
  FERRY_VALIDATION_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(16),
  /** A validation claim older than this may be taken over (longer than the function timeout). */
  FERRY_VALIDATION_LEASE_SECONDS: z.coerce.number().int().min(10).max(3600).default(600),
});

export const DeployConfig = z.object({
  FERRY_DEPLOY_TOPIC: z.string().min(3).default('ferry-deploy-requests'),
  /**
   * The Firestore database that holds the deploy policy (`policy/current`, `policyVersions/*`).
   * Terraform gives the policy a database of its own (`<name_prefix>-policy`) that the functions may
   * only read and only policy_admins may write (docs/policy.md). Default: `(default)`, the database
   * everything else lives in (the local stack). Database ids: 4–63 chars, lowercase letters, digits
   * and '-', starting with a letter and not ending with '-' (docs/UPSTREAM.md).
   */
  FERRY_POLICY_DATABASE: z
    .string()
    .regex(/^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$/, "must be a Firestore database id (4-63 chars: a-z, 0-9, '-'; starts with a letter) or (default)")
    .default('(default)'),
  FERRY_RESULTS_TOPIC: z.string().min(3).optional(),
  /**
   * Where the deploy function hands an admitted rollout to be followed: it publishes `{rolloutId}`
   * here and acks its own push at once; the followRollout function (its own push subscription)
   * watches the rollout on the cluster. Unset: no follow, the reconciler's ticks advance rollouts.
   * Following never holds a deploy request's push, so it never paces admissions (README "Deploy
   * requests and rollouts", docs/UPSTREAM.md F5).
   */
  FERRY_FOLLOW_TOPIC: z.string().min(3).optional(),
  /**
   * How long followRollout follows one rollout at most (a Kubernetes watch on the Deployment and its
   * pods, advancing on each change), so "pods Ready" becomes "succeeded" (or a crash loop a
   * rollback) at once instead of at the reconciler's next tick. 0: no follow. Only used where
   * FERRY_FOLLOW_TOPIC is set. Keep it ≤ the follow function's timeout − 60 s (infra/functions.tf:
   * 540 s) and the follow subscription's ack deadline (600 s, the Pub/Sub maximum) − 60 s.
   */
  FERRY_DEPLOY_FOLLOW_SECONDS: z.coerce.number().int().min(0).max(540).default(480),
  /** Kubeconfig for the cluster named `local` (the local stack writes it). */
  KUBECONFIG: z.string().optional(),
  /**
   * The namespaces whose vLLM service account Terraform bound to the model bucket (serving_namespaces);
   * a deploy elsewhere is refused (NAMESPACE_NOT_SERVING): its Pods could not read the weights. Unset: not checked.
   */
  FERRY_SERVING_NAMESPACES: z
    .string()
    .optional()
    .transform((v) =>
      v === undefined
        ? undefined
        : v
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== ''),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'namespaces are DNS-1123 labels')).optional()),
  /** Kubernetes service account the vLLM pods run as (bound to a Google SA by Workload Identity). */
  FERRY_VLLM_SERVICE_ACCOUNT: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/)
    .optional(),
});

const csv = () =>
  z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== ''),
    );
const idList = (re: RegExp, message: string) => csv().pipe(z.array(z.string().regex(re, message)));
const SLACK_USER_RE = /^[UW][A-Z0-9]{2,30}$/;
const SLACK_CHANNEL_RE = /^[CGD][A-Z0-9]{2,30}$/;
const flag = z
  .enum(['', '0', '1', 'false', 'true'])
  .default('0')
  .transform((v) => v === '1' || v === 'true');

/**
 * Slack chat-ops (`/ferry …`). Lists are comma-separated Slack ids. Empty user lists allow nobody;
 * empty channel lists allow every channel. In production the signing secret comes from Secret
 * Manager (mounted as this variable); locally `npm start` writes one to .ferry/local.env.
 */
export const SlackConfig = z.object({
  FERRY_SLACK_SIGNING_SECRET: z.string().min(16, "must be the Slack app's signing secret"),
  /** Who may run read-only commands (status, versions, teardown plan); `*` = everyone. Deploy users may too. */
  FERRY_SLACK_READ_USERS: csv().pipe(
    z.union([
      z.tuple([z.literal('*')]).transform(() => '*' as const),
      z.array(z.string().regex(SLACK_USER_RE, 'Slack user ids look like U0123ABCD, or a lone * for everyone')),
    ]),
  ),
  /** Who may deploy and roll back. Listed one by one: `*` is refused here. */
  FERRY_SLACK_DEPLOY_USERS: idList(SLACK_USER_RE, "Slack user ids look like U0123ABCD ('*' is only allowed in FERRY_SLACK_READ_USERS)"),
  /** Channels where read-only commands are answered (empty: any). */
  FERRY_SLACK_READ_CHANNELS: idList(SLACK_CHANNEL_RE, 'Slack channel ids look like C0123ABCD'),
  /** Channels where deploy and rollback are taken (empty: any). */
  FERRY_SLACK_DEPLOY_CHANNELS: idList(SLACK_CHANNEL_RE, 'Slack channel ids look like C0123ABCD'),
  /** Allow http://127.0.0.1 response URLs. Local stack and tests only; never set it in production. */
  FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL: flag,
  /** Where the Slack function queues accepted commands for the worker (onChatCommand). */
  FERRY_CHAT_TOPIC: z.string().min(3).default('ferry-chat-commands'),
  /** How long the worker waits for a deploy request's rollout to be admitted before answering. */
  FERRY_CHAT_WAIT_SECONDS: z.coerce.number().int().min(0).max(50).default(20),
});

/**
 * Anywhere Cache management. Without FERRY_STORAGE_CONTROL_API_ENDPOINT the real Storage Control
 * API is used (application default credentials). FERRY_BUCKET_LOCATION replaces reading the bucket's
 * metadata (the Storage emulator has none; the local stack sets US-CENTRAL1).
 */
export const CacheConfig = z.object({
  /**
   * Another Storage Control server for the same client, as STORAGE_EMULATOR_HOST is for GCS:
   * `http://host:port` is plaintext gRPC without credentials (the local stack's server).
   */
  FERRY_STORAGE_CONTROL_API_ENDPOINT: z
    .string()
    .regex(/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/, 'must be http://host:port or https://host[:port]')
    .optional(),
  /** A bucket location such as US-CENTRAL1, NAM4 or US; unset: read from the bucket's metadata. */
  FERRY_BUCKET_LOCATION: z
    .string()
    .regex(/^[A-Za-z0-9+-]{2,64}$/, 'must be a GCS location such as US-CENTRAL1, NAM4 or US')
    .optional(),
  /** How long a rollout waits for its caches when the request does not say (cache.maxWaitSeconds). */
  FERRY_CACHE_MAX_WAIT_SECONDS: z.coerce.number().int().min(0).max(3600).default(600),
});

/** `http://host:port` (or https) of a local stand-in for a Google API, as STORAGE_EMULATOR_HOST is for GCS. */
const apiEndpoint = z
  .string()
  .regex(/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?$/, 'must be http://host:port')
  .optional();

/**
 * Scheduled teardown of idle caches, Deployments and clusters (shared/domain/teardown.ts policy).
 * Clusters are listed on GKE (FERRY_GKE_PROJECT, default the function's project) or, locally, on the
 * stack's GKE REST server (FERRY_GKE_API_ENDPOINT, FERRY_COMPUTE_API_ENDPOINT); with
 * FERRY_TEARDOWN_CLUSTERS=off only caches and Deployments are considered.
 */
export const TeardownConfig = z.object({
  FERRY_TEARDOWN_TOPIC: z.string().min(3).default('ferry-teardown-tick'),
  FERRY_TEARDOWN_DRY_RUN: flag,
  FERRY_TEARDOWN_CACHE_IDLE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(6 * 3600),
  FERRY_TEARDOWN_DEPLOYMENT_IDLE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(24 * 3600),
  FERRY_TEARDOWN_CLUSTER_IDLE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(24 * 3600),
  FERRY_TEARDOWN_MAX_ACTIONS: z.coerce.number().int().min(0).max(1000).default(10),
  FERRY_TEARDOWN_CLUSTER_MODE: z.enum(['scale-to-zero', 'delete']).default('scale-to-zero'),
  FERRY_TEARDOWN_SCALE_DEPLOYMENTS: flag,
  FERRY_TEARDOWN_PROTECT_LABEL: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a GCP / Kubernetes label key')
    .default('ferry-protect'),
  FERRY_TEARDOWN_CLUSTERS: z.enum(['gke', 'off']).default('gke'),
  /**
   * `http://host:port` of a server speaking the GKE API (REST): the same client, REST transport, no
   * credentials (the local stack's infra/local/gke-server.ts); unset: the real GKE API.
   */
  FERRY_GKE_API_ENDPOINT: apiEndpoint,
  /** `http://host:port` of a server speaking Compute Engine's instanceGroupManagers API; unset: the real one. */
  FERRY_COMPUTE_API_ENDPOINT: apiEndpoint,
  FERRY_GKE_PROJECT: z
    .string()
    .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a Google Cloud project id')
    .optional(),
  /**
   * A Slack incoming webhook (Secret Manager in production) for a summary of every run that did
   * something; unset: no summary. Must be https://hooks.slack.com/… (127.0.0.1 only with
   * FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL, locally).
   */
  FERRY_TEARDOWN_SLACK_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be a Slack incoming webhook URL' }).optional(),
  /**
   * A Slack incoming webhook (Secret Manager in production) for unsolicited alerts from the
   * reconciler: a served version whose content changed after validation (drift, issue #20), posted
   * once per change. Unset: no alert (status and the results topic still say it). Same URL rules as
   * FERRY_TEARDOWN_SLACK_WEBHOOK_URL.
   */
  FERRY_ALERTS_SLACK_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be a Slack incoming webhook URL' }).optional(),
});

/**
 * The read-only web console (functions/console.ts). In production it sits behind Identity-Aware
 * Proxy and verifies IAP's signed header itself against this audience (the backend service:
 * `/projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID`, Terraform output). Locally `npm start`
 * sets a dev token instead (printed with the console's URL). Neither set: every request gets 401.
 */
export const ConsoleConfig = z.object({
  FERRY_CONSOLE_IAP_AUDIENCE: z
    .string()
    .regex(/^\/projects\/[0-9]+\/global\/backendServices\/[0-9]+$/, 'must be /projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID')
    .optional(),
  /** Local stack only: the token in the URL `npm start` prints. Never set it in production. */
  FERRY_CONSOLE_DEV_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9_-]{32,128}$/, 'must be 32-128 characters of A-Z a-z 0-9 _ -')
    .optional(),
  /** How often an open page asks for changes (a conditional GET with the page's ETag). */
  FERRY_CONSOLE_POLL_SECONDS: z.coerce.number().int().min(1).max(300).default(5),
});

/**
 * Every setting a Cloud Function reads, in one object, parsed once per process at cold start
 * (functions/settings.ts). The Slack signing secret is only required by the function that verifies
 * Slack requests, which asks for it with `requireSetting`.
 */
export const Settings = BaseConfig.extend(StorageConfig.shape)
  .extend(DeployConfig.shape)
  .extend(CacheConfig.shape)
  .extend(TeardownConfig.shape)
  .extend(SlackConfig.shape)
  .extend(ConsoleConfig.shape)
  .extend({
    FERRY_SLACK_SIGNING_SECRET: SlackConfig.shape.FERRY_SLACK_SIGNING_SECRET.optional(),
    /** The local stack's Storage emulator (host:port or URL); unset: Cloud Storage. */
    STORAGE_EMULATOR_HOST: z.string().min(1).optional(),
  });
export type Settings = z.infer<typeof Settings>;

/** A setting that only some functions need, required where it is read: a missing one names itself. */
export function requireSetting<K extends keyof Settings>(settings: Settings, name: K): NonNullable<Settings[K]> {
  const v = settings[name];
  if (v === undefined || v === null) {
    throw new FerryError('CONFIG_INVALID', `invalid configuration: ${String(name)} is not set`, {
      hint: 'Set the named environment variable (locally: run `npm start`, which writes .ferry/local.env).',
      details: { problems: [`${String(name)} is not set`] },
    });
  }
  return v as NonNullable<Settings[K]>;
}

/** Parses `env` against `schema`, throwing a FerryError('CONFIG_INVALID') that names each variable. */
export function parseConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const name = i.path.join('.') || '(env)';
    const value = typeof i.path[0] === 'string' ? env[i.path[0]] : undefined;
    if (value === undefined) return `${name} is not set (${i.message})`;
    // Never echo a secret's value into an error (it ends up in logs).
    return /SECRET|TOKEN|PASSWORD|WEBHOOK/.test(name) ? `${name} (value hidden): ${i.message}` : `${name}=${JSON.stringify(value)}: ${i.message}`;
  });
  throw new FerryError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, {
    hint: 'Set the named environment variables (locally: run `npm start`, which writes .ferry/local.env).',
    details: { problems },
  });
}

/** Reads KEY=VALUE lines (comments with #, optional quotes). Unknown syntax is an error, not ignored. */
export function parseEnvFile(text: string, file = '.env'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new FerryError('CONFIG_INVALID', `${file}:${i + 1}: expected KEY=VALUE, got ${JSON.stringify(line)}`);
    let value = m[2]!;
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    out[m[1]!] = value;
  });
  return out;
}

/** The local stack's env file (written by `npm start`) under `root`, or undefined when absent. */
export function readLocalEnv(root: string): Record<string, string> | undefined {
  const file = join(root, '.ferry', 'local.env');
  if (!existsSync(file)) return undefined;
  return parseEnvFile(readFileSync(file, 'utf8'), file);
}

/**
 * Variables the Google and Kubernetes SDKs read from `process.env` themselves (emulator hosts,
 * project, credentials, kubeconfig). A CLI that merged .ferry/local.env into its own env object
 * must also put these into `process.env`, or the SDKs would talk to production while ferry thinks
 * it talks to the local stack.
 */
export const SDK_ENV = [
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'STORAGE_EMULATOR_HOST',
  'GOOGLE_CLOUD_PROJECT',
  'GCLOUD_PROJECT',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'METADATA_SERVER_DETECTION',
  'KUBECONFIG',
] as const;

/** Copies the SDK-read variables of `env` into `target` (process.env), leaving others untouched. */
export function exportSdkEnv(env: Record<string, string | undefined>, target: Record<string, string | undefined>): void {
  for (const name of SDK_ENV) {
    const v = env[name];
    if (v !== undefined && v !== '') target[name] = v;
  }
}

/** Explicit environment wins over .ferry/local.env. */
export function mergeEnv(explicit: Record<string, string | undefined>, local: Record<string, string> | undefined): Record<string, string | undefined> {
  return { ...(local ?? {}), ...Object.fromEntries(Object.entries(explicit).filter(([, v]) => v !== undefined)) };
}

/**
 * Configuration, parsed once from an env object with zod. A bad or missing variable fails at cold
 * start with a message that names it. Each entrypoint asks only for the slice it needs.
 */
import { z } from 'zod';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FerryError } from './domain/errors.ts';

const bucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/, 'must be a valid GCS bucket name (3-63 chars: a-z 0-9 . _ -)');

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
  FERRY_VALIDATION_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(16),
  /** A validation claim older than this may be taken over (longer than the function timeout). */
  FERRY_VALIDATION_LEASE_SECONDS: z.coerce.number().int().min(10).max(3600).default(600),
});

export const DeployConfig = z.object({
  FERRY_DEPLOY_TOPIC: z.string().min(3).default('ferry-deploy-requests'),
  FERRY_RESULTS_TOPIC: z.string().min(3).optional(),
  /** Kubeconfig for the cluster named `local` (the local stack writes it). */
  KUBECONFIG: z.string().optional(),
  /** Kubernetes service account the vLLM pods run as (bound to a Google SA by Workload Identity). */
  FERRY_VLLM_SERVICE_ACCOUNT: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/).optional(),
});

/** Parses `env` against `schema`, throwing a FerryError('CONFIG_INVALID') that names each variable. */
export function parseConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const name = i.path.join('.') || '(env)';
    const value = typeof i.path[0] === 'string' ? env[i.path[0]] : undefined;
    return value === undefined ? `${name} is not set (${i.message})` : `${name}=${JSON.stringify(value)}: ${i.message}`;
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

/** Explicit environment wins over .ferry/local.env. */
export function mergeEnv(
  explicit: Record<string, string | undefined>,
  local: Record<string, string> | undefined,
): Record<string, string | undefined> {
  return { ...(local ?? {}), ...Object.fromEntries(Object.entries(explicit).filter(([, v]) => v !== undefined)) };
}

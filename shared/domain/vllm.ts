/**
 * What a deploy request may say about vLLM itself: the container image (reference grammar, minimum
 * vLLM versions for the Run:ai streamer's GCS support) and extra server arguments (never the flags
 * ferry sets itself). Pure.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Image

export interface ImageReference {
  /** Registry host[:port], absent for Docker Hub short names. */
  registry?: string;
  /** Path, e.g. `vllm/vllm-openai`. */
  repository: string;
  tag?: string;
  digest?: string;
}

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const IMAGE_RE = new RegExp(`^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);

/**
 * Parses a container image reference by the distribution/reference grammar (name ≤ 255 chars).
 * As in Docker, the first component is a registry only when it has a `.` or `:` or is `localhost`.
 */
export function parseImageReference(ref: string): ImageReference | null {
  const m = IMAGE_RE.exec(ref);
  if (!m) return null;
  let registry = m[1];
  let repository = m[2]!;
  if (registry !== undefined && !(registry.includes('.') || registry.includes(':') || registry === 'localhost')) {
    if (!PATH_COMPONENT_RE.test(registry)) return null;
    repository = `${registry}/${repository}`;
    registry = undefined;
  }
  if ((registry ? registry.length + 1 : 0) + repository.length > 255) return null;
  return {
    ...(registry !== undefined ? { registry } : {}),
    repository,
    ...(m[3] !== undefined ? { tag: m[3] } : {}),
    ...(m[4] !== undefined ? { digest: m[4] } : {}),
  };
}

/** vLLM needed for built-in GCS auth in the Run:ai streamer (cloud.google.com/kubernetes-engine/docs/how-to/persistent-volumes/run-ai-model-streamer). */
export const MIN_VLLM_VERSION = [0, 11, 1] as const;

/**
 * `v0.11.1`, `0.11.1`, `v0.10.1.1`, `v0.11.1rc2`, `v0.11.2-cu130` → numbers + pre-release flag;
 * anything else (`latest`, `nightly`, `fail-crash`, a sha) → null: not an explicit version.
 */
export function parseVllmTag(tag: string): { parts: number[]; prerelease: boolean } | null {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.?(rc|a|b|alpha|beta|dev|pre)\d*)?(?:[-+].*)?$/.exec(tag);
  if (!m) return null;
  const parts = [m[1], m[2], m[3] ?? '0', m[4] ?? '0'].map((s) => Number(s));
  return { parts, prerelease: m[5] !== undefined };
}

/** TPU vLLM needed for the Run:ai streamer with GCS on TPUs (discuss.google.dev/t/374835). */
export const MIN_TPU_VLLM_VERSION = [0, 18, 0] as const;

/**
 * True when the tag is an explicit vLLM version older than `min` (pre-releases of `min` count as
 * older); false for tags that are not explicit versions.
 */
export function isVllmTagOlderThan(tag: string, min: readonly number[]): boolean {
  const v = parseVllmTag(tag);
  if (!v) return false;
  const full = [...min, 0, 0, 0, 0].slice(0, 4);
  for (let i = 0; i < full.length; i++) {
    const a = v.parts[i] ?? 0;
    const b = full[i] ?? 0;
    if (a !== b) return a < b;
  }
  return v.prerelease;
}

/** True when the tag is an explicit vLLM version older than 0.11.1 (pre-releases of 0.11.1 count as older). */
export const isVllmTagTooOld = (tag: string): boolean => isVllmTagOlderThan(tag, MIN_VLLM_VERSION);

/** Whether the repository is vLLM's OpenAI server image (Docker Hub or a mirror keeping its name). */
export function isVllmOpenAiImage(ref: ImageReference): boolean {
  return ref.repository === 'vllm-openai' || ref.repository.endsWith('/vllm-openai');
}

/** Whether the repository is vLLM's TPU image `vllm/vllm-tpu` (Docker Hub or a mirror keeping its name). */
export function isVllmTpuImage(ref: ImageReference): boolean {
  return ref.repository === 'vllm-tpu' || ref.repository.endsWith('/vllm-tpu');
}

export const Image = z
  .string()
  .min(1)
  .max(512)
  .superRefine((image, ctx) => {
    const ref = parseImageReference(image);
    if (!ref) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(image)} is not a valid image reference` });
      return;
    }
    if (isVllmOpenAiImage(ref) && ref.tag !== undefined && !ref.tag.startsWith('fail') && isVllmTagTooOld(ref.tag)) {
      ctx.addIssue({
        code: 'custom',
        message: `${image}: vLLM ${ref.tag} is too old — the Run:ai streamer's built-in GCS auth needs vLLM >= v0.11.1`,
      });
    }
  });

// ---------------------------------------------------------------------------------------------
// vLLM args

/**
 * Flags ferry sets itself, with what to use instead. Matching is on the flag name as vLLM's parser
 * sees it: `--flag=value` and `--flag value`, underscores read as dashes, and unambiguous prefixes
 * (Python argparse abbreviations). `-tp` is vLLM's alias for `--tensor-parallel-size`. `--host` is
 * owned too: probes and the Service reach the server on all interfaces.
 */
export const OWNED_VLLM_FLAGS: Readonly<Record<string, string>> = {
  '--model': 'set model and version instead',
  '--load-format': 'ferry always streams with runai_streamer',
  '--tensor-parallel-size': 'set tensorParallelSize instead',
  '--model-loader-extra-config': 'set streamer {concurrency, memoryLimit, distributed} instead',
  '--port': 'ferry serves on port 8000 (probes and the Service use it)',
  '--host': 'ferry listens on all interfaces (probes and the Service need it)',
};
const OWNED_SHORT_FLAGS: Readonly<Record<string, string>> = { '-tp': '--tensor-parallel-size' };
/** Shortest prefix (after `--`) that argparse could expand to an owned flag and that we refuse. */
const MIN_ABBREV = 3;

/** The owned flag an argument would set, or null. */
export function ownedFlagOf(arg: string): string | null {
  if (arg.startsWith('--')) {
    const name = `--${arg.slice(2).split('=', 1)[0]!.replaceAll('_', '-')}`;
    if (name in OWNED_VLLM_FLAGS) return name;
    if (name.length - 2 >= MIN_ABBREV) {
      const expansions = Object.keys(OWNED_VLLM_FLAGS).filter((f) => f.startsWith(name));
      if (expansions.length > 0) return expansions[0]!;
    }
    return null;
  }
  for (const [short, long] of Object.entries(OWNED_SHORT_FLAGS)) {
    if (arg === short || arg.startsWith(`${short}=`) || new RegExp(`^${short}\\d`).test(arg)) return long;
  }
  return null;
}

/**
 * The value vllmArgs give a (non-owned) flag, e.g. `--max-model-len`: `--flag=value` or `--flag value`,
 * underscores read as dashes; the last one wins as in argparse; undefined when absent.
 */
export function vllmArgValue(args: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    const name = `--${a.slice(2, eq === -1 ? undefined : eq).replaceAll('_', '-')}`;
    if (name !== flag) continue;
    value = eq !== -1 ? a.slice(eq + 1) : args[i + 1];
  }
  return value;
}

export const VllmArgs = z
  .array(
    z
      .string()
      .min(1)
      .max(4096)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'arguments cannot contain control characters'),
  )
  .max(64)
  .superRefine((args, ctx) => {
    args.forEach((arg, i) => {
      const owned = ownedFlagOf(arg);
      if (owned) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `${JSON.stringify(arg)} overrides ${owned}, which ferry sets itself (${OWNED_VLLM_FLAGS[owned]})`,
        });
      }
    });
  });

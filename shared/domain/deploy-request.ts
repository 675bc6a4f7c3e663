/**
 * The deploy request: the message (Pub/Sub, Slack, upload hook, CLI) that asks ferry to put one
 * version of a model on one target. Pure: zod schema + parsing + a few naming helpers. Every rule
 * that can be checked without I/O is checked here, so a bad request is refused at the edge with a
 * message that names the field, before any rollout exists.
 *
 * Naming choices (documented because other modules depend on them):
 * - model / version: `NAME_RE` from upload.ts (1–63 chars of `A-Z a-z 0-9 . _ -`, starting with a
 *   letter or digit), case preserved because GCS paths are case-sensitive. The same rule as uploads,
 *   so every uploaded version is deployable. `version: "latest"` is a keyword (newest valid version),
 *   resolved by the app layer before rendering; upload.ts refuses a version literally named latest.
 * - target.namespace: DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63).
 * - target.name: DNS-1035 label (`[a-z]([-a-z0-9]*[a-z0-9])?`, ≤ 63) — stricter than a Deployment
 *   needs, because ferry creates a Service of the same name and Service names must be DNS-1035.
 * - target.cluster: `local` or `projects/<project id or number>/locations/<region|zone>/clusters/<name>`.
 */
import { z } from 'zod';
import { describeIssues } from './events.ts';
import { NAME_RE } from './upload.ts';
import { codesOf } from './reasons/catalogue.ts';
import { REQUEST_PARSE_FAILURES } from './reasons/deploy.ts';

export const API_VERSION = 'ferry/v1';
/** Largest accepted message body (bytes, UTF-8). A real request is well under 4 KiB. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Version keyword: the newest valid version of the model at the time the rollout starts. */
export const LATEST = 'latest';

// ---------------------------------------------------------------------------------------------
// Names

export const DNS1123_LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS1035_LABEL_RE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** GCP project id (6–30, starts with a letter) or project number. Domain-scoped ids are not supported. */
const PROJECT_RE = '(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})';
/** Region (`us-central1`) or zone (`europe-west4-a`). */
const LOCATION_RE = '[a-z]+-[a-z]+[0-9]+(?:-[a-z])?';
/** GKE cluster name: 1–40 chars, lowercase letters, digits and hyphens, starting with a letter. */
const GKE_CLUSTER_NAME_RE = '[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?';
export const GKE_CLUSTER_RE = new RegExp(
  `^projects/(${PROJECT_RE})/locations/(${LOCATION_RE})/clusters/(${GKE_CLUSTER_NAME_RE})$`,
);
export const LOCAL_CLUSTER = 'local';

export const ModelRef = z
  .string()
  .regex(NAME_RE, 'model names are 1-63 chars of A-Z a-z 0-9 . _ - starting with a letter or digit');
export const VersionRef = z
  .string()
  .regex(NAME_RE, 'versions are "latest" or 1-63 chars of A-Z a-z 0-9 . _ - starting with a letter or digit');

export const ClusterName = z
  .string()
  .refine(
    (c) => c === LOCAL_CLUSTER || GKE_CLUSTER_RE.test(c),
    'cluster must be "local" or a GKE resource name projects/P/locations/L/clusters/C',
  );

export const Target = z
  .object({
    cluster: ClusterName,
    namespace: z
      .string()
      .regex(DNS1123_LABEL_RE, 'namespace must be a DNS-1123 label (lowercase a-z 0-9 -, at most 63 chars)'),
    name: z
      .string()
      .regex(
        DNS1035_LABEL_RE,
        'name must be a DNS-1035 label (lowercase a-z 0-9 -, starts with a letter, at most 63 chars): it names a Deployment and a Service',
      ),
  })
  .strict();
export type Target = z.infer<typeof Target>;

export type ParsedCluster =
  | { kind: 'local' }
  | { kind: 'gke'; project: string; location: string; name: string };

/** Splits a validated cluster name; throws nothing, returns null for an invalid one. */
export function parseClusterName(cluster: string): ParsedCluster | null {
  if (cluster === LOCAL_CLUSTER) return { kind: 'local' };
  const m = GKE_CLUSTER_RE.exec(cluster);
  if (!m) return null;
  return { kind: 'gke', project: m[1]!, location: m[2]!, name: m[3]! };
}

/**
 * Whether two cluster names can denote the same cluster. GKE accepts a project's id or its number
 * in a resource name, and ferry cannot map one to the other offline, so a numbered project matches
 * any project with the same location and cluster name. Teardown uses this to find what runs on a
 * cluster: erring towards "same" only ever keeps a cluster up.
 */
export function sameCluster(a: string, b: string): boolean {
  if (a === b) return true;
  // Loosely split (names come from GKE as well as from requests): projects/P/locations/L/clusters/C.
  const split = (c: string) => /^projects\/([^/]+)\/locations\/([^/]+)\/clusters\/([^/]+)$/.exec(c);
  const pa = split(a);
  const pb = split(b);
  if (!pa || !pb || pa[2] !== pb[2] || pa[3] !== pb[3]) return false;
  const numbered = (p: string) => /^[0-9]+$/.test(p);
  return pa[1] === pb[1] || numbered(pa[1]!) || numbered(pb[1]!);
}

/**
 * A stable, Firestore-safe document id for a target: `<cluster>~<namespace>~<name>`, where a GKE
 * cluster becomes `<project>.<location>.<cluster>` and the local one `local`. Injective for valid
 * targets: none of the parts can contain `~` or `.` (and only GKE clusters contain `.`). No `/`,
 * never `.`/`..`, never `__…__`.
 */
export function targetKey(target: Target): string {
  const c = parseClusterName(target.cluster);
  if (!c) throw new TypeError(`invalid cluster ${JSON.stringify(target.cluster)}`);
  const cluster = c.kind === 'local' ? LOCAL_CLUSTER : `${c.project}.${c.location}.${c.name}`;
  return `${cluster}~${target.namespace}~${target.name}`;
}

// ---------------------------------------------------------------------------------------------
// Accelerators

/**
 * GKE GPU accelerator label values (`cloud.google.com/gke-accelerator`) that vLLM ≥ 0.11 can use
 * (compute capability ≥ 7.0, so no P4/P100).
 */
export const GPU_ACCELERATOR_TYPES = [
  'nvidia-tesla-t4',
  'nvidia-tesla-v100',
  'nvidia-l4',
  'nvidia-tesla-a100',
  'nvidia-a100-80gb',
  'nvidia-h100-80gb',
  'nvidia-h100-mega-80gb',
  'nvidia-h200-141gb',
  'nvidia-b200',
  'nvidia-gb200',
  'nvidia-rtx-pro-6000',
] as const;
/**
 * GKE TPU accelerator label values (`cloud.google.com/gke-tpu-accelerator`): v5e and v6e (Trillium).
 * Only single-host slices: vLLM on GKE TPUs serves from one host (multi-host is not supported, see
 * the GKE "Serve an LLM using TPU Trillium on GKE with vLLM" tutorial). They need the `vllm/vllm-tpu`
 * image, `google.com/tpu` resources, a topology selector, and Run:ai + GCS only from TPU vLLM 0.18.0;
 * the streamer's `distributed` mode is CUDA/ROCm only (docs.vllm.ai/en/stable/models/extensions/runai_model_streamer/).
 */
export const TPU_ACCELERATOR_TYPES = ['tpu-v5-lite-podslice', 'tpu-v6e-slice'] as const;
export const ACCELERATOR_TYPES = [...GPU_ACCELERATOR_TYPES, ...TPU_ACCELERATOR_TYPES] as const;
export const AcceleratorType = z.enum(ACCELERATOR_TYPES);
export type AcceleratorType = z.infer<typeof AcceleratorType>;
export type GpuAcceleratorType = (typeof GPU_ACCELERATOR_TYPES)[number];
export type TpuAcceleratorType = (typeof TPU_ACCELERATOR_TYPES)[number];
export const ACCELERATOR_FAMILIES = ['gpu', 'tpu'] as const;
export type AcceleratorFamily = (typeof ACCELERATOR_FAMILIES)[number];

export const isTpuType = (t: AcceleratorType): t is TpuAcceleratorType => (TPU_ACCELERATOR_TYPES as readonly string[]).includes(t);
export const acceleratorFamily = (t: AcceleratorType): AcceleratorFamily => (isTpuType(t) ? 'tpu' : 'gpu');

/**
 * Single-host TPU v5e / v6e topologies (`cloud.google.com/gke-tpu-topology`) and their chips: machine
 * types ct5lp-hightpu-{1,4,8}t and ct6e-standard-{1,4,8}t (GKE "Plan TPUs in GKE"). Larger
 * topologies span hosts, which vLLM on GKE does not serve.
 */
export const TPU_TOPOLOGIES = { '1x1': 1, '2x2': 4, '2x4': 8 } as const;
export type TpuTopology = keyof typeof TPU_TOPOLOGIES;
const TOPOLOGY_BY_CHIPS: Readonly<Record<number, TpuTopology>> = { 1: '1x1', 4: '2x2', 8: '2x4' };

/**
 * GPUs (or TPU chips) per node that GKE machine shapes offer for each accelerator (N1+T4/V100, G2,
 * A2 high/mega, A2 ultra, A3 high/mega/ultra, A4, A4X, G4; TPU single-host slices). A pod asks for
 * `count` devices on one node, so other counts could never schedule.
 */
export const ACCELERATOR_COUNTS: Readonly<Record<AcceleratorType, readonly number[]>> = {
  'nvidia-tesla-t4': [1, 2, 4],
  'nvidia-tesla-v100': [1, 2, 4, 8],
  'nvidia-l4': [1, 2, 4, 8],
  'nvidia-tesla-a100': [1, 2, 4, 8, 16],
  'nvidia-a100-80gb': [1, 2, 4, 8],
  'nvidia-h100-80gb': [1, 2, 4, 8],
  'nvidia-h100-mega-80gb': [8],
  'nvidia-h200-141gb': [8],
  'nvidia-b200': [8],
  'nvidia-gb200': [4],
  'nvidia-rtx-pro-6000': [1, 2, 4, 8],
  'tpu-v5-lite-podslice': [1, 4, 8],
  'tpu-v6e-slice': [1, 4, 8],
};

/**
 * `{type, count}` for GPUs (count default 1). For TPUs `{type, count?, topology?}`: the count is the
 * chips of the single-host slice and the topology follows from it (1 → 1x1, 4 → 2x2, 8 → 2x4), or
 * the other way round; given both, they must agree. The parsed value of a TPU always carries both;
 * a GPU's never has a topology (so stored GPU requests keep their exact shape).
 */
export const Accelerator = z
  .object({
    type: AcceleratorType,
    count: z.int().min(1).max(16).optional(),
    /** TPU only: `cloud.google.com/gke-tpu-topology`, e.g. 2x4. */
    topology: z.string().regex(/^[0-9]{1,2}x[0-9]{1,2}(?:x[0-9]{1,2})?$/, 'topologies look like 2x4').optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const allowed = ACCELERATOR_COUNTS[a.type];
    if (!isTpuType(a.type)) {
      const count = a.count ?? 1;
      if (a.topology !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['topology'], message: `${a.type} is a GPU; topology is for TPU slices only` });
      }
      if (!allowed.includes(count)) {
        ctx.addIssue({
          code: 'custom',
          path: ['count'],
          message: `${a.type} nodes have ${allowed.join(', ')} GPUs; count ${count} could never schedule`,
        });
      }
      return;
    }
    const single = Object.keys(TPU_TOPOLOGIES).join(', ');
    if (a.topology !== undefined && !(a.topology in TPU_TOPOLOGIES)) {
      ctx.addIssue({
        code: 'custom',
        path: ['topology'],
        message: `${a.type} topology ${a.topology} is not a single-host slice (${single}); vLLM on GKE serves from one TPU host`,
      });
      return;
    }
    if (a.count !== undefined && !allowed.includes(a.count)) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: `${a.type} single-host slices have ${allowed.join(', ')} chips; count ${a.count} could never schedule`,
      });
      return;
    }
    if (a.count !== undefined && a.topology !== undefined && TPU_TOPOLOGIES[a.topology as TpuTopology] !== a.count) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: `topology ${a.topology} has ${TPU_TOPOLOGIES[a.topology as TpuTopology]} chips, not ${a.count}`,
      });
    }
  })
  .transform((a): { type: AcceleratorType; count: number; topology?: string } => {
    if (!isTpuType(a.type)) return { type: a.type, count: a.count ?? 1 };
    const count = a.count ?? (a.topology !== undefined ? TPU_TOPOLOGIES[a.topology as TpuTopology] : 1);
    return { type: a.type, count, topology: a.topology ?? TOPOLOGY_BY_CHIPS[count]! };
  });
export type Accelerator = z.output<typeof Accelerator>;

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
const IMAGE_RE = new RegExp(
  `^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
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

// ---------------------------------------------------------------------------------------------
// Streamer, cache, requester

export const Streamer = z
  .object({
    /** Reader threads / clients → `concurrency` (RUNAI_STREAMER_CONCURRENCY). */
    concurrency: z.int().min(1).max(256).optional(),
    /** CPU buffer bytes → `memory_limit`: -1 unlimited, 0 minimum, or bytes. */
    memoryLimit: z.int().min(-1).max(Number.MAX_SAFE_INTEGER).optional(),
    /** Distributed streaming; default: on when tensor parallel > 1 (GPUs only). */
    distributed: z.boolean().optional(),
  })
  .strict();
export type Streamer = z.infer<typeof Streamer>;

export const CACHE_MODES = ['off', 'all-zones', 'pin-one-zone'] as const;
export const CACHE_ADMISSION_POLICIES = ['admit-on-first-miss', 'admit-on-second-miss'] as const;
export const ZONE_RE = /^[a-z]+-[a-z]+[0-9]+-[a-z]$/;

/** Anywhere Cache wishes; read later by the cache planner. TTL is Anywhere Cache's 1–7 days. */
export const CacheOptions = z
  .object({
    mode: z.enum(CACHE_MODES).default('off'),
    zones: z.array(z.string().regex(ZONE_RE, 'zones look like us-central1-a')).min(1).max(32).optional(),
    ttlSeconds: z.int().min(86_400).max(604_800).optional(),
    admissionPolicy: z.enum(CACHE_ADMISSION_POLICIES).optional(),
    maxWaitSeconds: z.int().min(0).max(3600).optional(),
  })
  .strict();
export type CacheOptions = z.infer<typeof CacheOptions>;

export const REQUEST_SOURCES = ['pubsub', 'slack', 'upload', 'cli'] as const;
export const RequestedBy = z
  .object({
    source: z.enum(REQUEST_SOURCES),
    principal: z.string().min(1).max(256),
  })
  .strict();
export type RequestedBy = z.infer<typeof RequestedBy>;

// ---------------------------------------------------------------------------------------------
// Limits

export const PROGRESS_DEADLINE_MIN_SECONDS = 60;
export const PROGRESS_DEADLINE_MAX_SECONDS = 7200;
export const MAX_REPLICAS = 64;

// ---------------------------------------------------------------------------------------------
// Serving profile: autoscaling, capacity, sizing budget

export const AUTOSCALING_PROFILES = ['throughput', 'latency'] as const;
export type AutoscalingProfile = (typeof AUTOSCALING_PROFILES)[number];
/**
 * Default HPA targets per profile (tune per model and SLO):
 * - throughput: average `vllm:num_requests_waiting` per pod (queue depth; GKE's recommendation for
 *   throughput). 5 is a starting point, as in Google's GKE vLLM autoscaling samples (1–10).
 * - latency: average KV-cache usage per pod, 0–1 (`vllm:kv_cache_usage_perc`, formerly
 *   `vllm:gpu_cache_usage_perc`; GKE's recommendation for latency-sensitive serving).
 */
export const DEFAULT_AUTOSCALING_TARGETS: Readonly<Record<AutoscalingProfile, number>> = { throughput: 5, latency: 0.8 };

/** HPA on vLLM's own metrics (scraped by a PodMonitoring). The HPA owns the replica count. */
export const Autoscaling = z
  .object({
    profile: z.enum(AUTOSCALING_PROFILES),
    minReplicas: z.int().min(1).max(MAX_REPLICAS).default(1),
    maxReplicas: z.int().min(1).max(MAX_REPLICAS),
    /** Per-pod average: waiting requests (throughput) or KV-cache usage 0–1 (latency). Default: DEFAULT_AUTOSCALING_TARGETS. */
    target: z.number().positive().max(1000).optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.minReplicas > a.maxReplicas) {
      ctx.addIssue({ code: 'custom', path: ['minReplicas'], message: `minReplicas ${a.minReplicas} is above maxReplicas ${a.maxReplicas}` });
    }
    if (a.target !== undefined) {
      if (a.profile === 'latency' && a.target > 1) {
        ctx.addIssue({ code: 'custom', path: ['target'], message: `the latency profile targets KV-cache usage, a fraction from 0 to 1; got ${a.target}` });
      }
      if (Math.round(a.target * 1000) !== a.target * 1000) {
        ctx.addIssue({ code: 'custom', path: ['target'], message: `target ${a.target} has more than 3 decimals (a Kubernetes quantity in milli-units)` });
      }
    }
  });
export type Autoscaling = z.infer<typeof Autoscaling>;

export const COMPUTE_CLASSES = ['none', 'spot-then-flex-start'] as const;
export type ComputeClassChoice = (typeof COMPUTE_CLASSES)[number];
/** Capacity: `spot-then-flex-start` renders a GKE ComputeClass (Spot first, then flex-start with node recycling). */
export const Capacity = z
  .object({
    computeClass: z.enum(COMPUTE_CLASSES).default('none'),
  })
  .strict();
export type Capacity = z.infer<typeof Capacity>;

/**
 * The serving budget sizing plans for (shared/domain/sizing.ts): tokens per sequence and sequences
 * served at once. Defaults: sizing.ts DEFAULT_BUDGET, and `--max-model-len` from vllmArgs for the context.
 */
export const Sizing = z
  .object({
    contextTokens: z.int().min(16).max(10_000_000).optional(),
    concurrency: z.int().min(1).max(4096).optional(),
  })
  .strict();
export type Sizing = z.infer<typeof Sizing>;

// ---------------------------------------------------------------------------------------------
// The request

export const DeployRequest = z
  .object({
    apiVersion: z.literal(API_VERSION),
    model: ModelRef,
    version: VersionRef,
    target: Target,
    /** Ignored when autoscaling is set (the HPA owns the replica count). */
    replicas: z.int().min(0).max(MAX_REPLICAS).default(1),
    /**
     * Absent: ferry picks the cheapest accelerator that fits the checkpoint (shared/domain/serving-plan.ts
     * resolveAccelerator) before rendering. Present: checked against the same sizing model.
     */
    accelerator: Accelerator.optional(),
    /** Default: accelerator.count. A power of two dividing accelerator.count. */
    tensorParallelSize: z.int().min(1).max(16).optional(),
    /** Default: render.ts DEFAULT_IMAGE (GPUs) or DEFAULT_TPU_IMAGE (TPUs). */
    image: Image.optional(),
    vllmArgs: VllmArgs.default((): string[] => []),
    streamer: Streamer.prefault({}),
    /** Default: derived from the checkpoint size (render.ts defaultProgressDeadlineSeconds). */
    progressDeadlineSeconds: z.int().min(PROGRESS_DEADLINE_MIN_SECONDS).max(PROGRESS_DEADLINE_MAX_SECONDS).optional(),
    cache: CacheOptions.prefault({}),
    /** HPA + PodMonitoring on vLLM metrics; absent: a fixed replica count. */
    autoscaling: Autoscaling.optional(),
    /** Absent: no ComputeClass (node pools as they are). */
    capacity: Capacity.optional(),
    /** Context/concurrency budget for sizing; absent: defaults. */
    sizing: Sizing.optional(),
    requestedBy: RequestedBy,
    idempotencyKey: z
      .string()
      .min(1)
      .max(256)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'idempotencyKey cannot contain control characters')
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const tp = r.tensorParallelSize;
    const acc = r.accelerator;
    if (tp !== undefined && acc === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tensorParallelSize'],
        message: 'tensorParallelSize needs an accelerator; leave both out and ferry sizes the model, or name the accelerator',
      });
    }
    if (tp !== undefined && acc !== undefined) {
      const powerOfTwo = (tp & (tp - 1)) === 0;
      if (!powerOfTwo || tp > acc.count || acc.count % tp !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['tensorParallelSize'],
          message: `tensorParallelSize must be a power of two that divides accelerator.count (${acc.count}); got ${tp}`,
        });
      }
    }
    const ref = r.image !== undefined ? parseImageReference(r.image) : null;
    if (acc !== undefined && isTpuType(acc.type)) {
      if (r.streamer.distributed === true) {
        ctx.addIssue({
          code: 'custom',
          path: ['streamer', 'distributed'],
          message: "the Run:ai streamer's distributed mode is CUDA/ROCm only; it does not apply to TPUs",
        });
      }
      if (ref && isVllmOpenAiImage(ref)) {
        ctx.addIssue({ code: 'custom', path: ['image'], message: `${r.image} is vLLM's GPU build; TPUs need vllm/vllm-tpu` });
      }
      if (ref && isVllmTpuImage(ref) && ref.tag !== undefined && isVllmTagOlderThan(ref.tag, MIN_TPU_VLLM_VERSION)) {
        ctx.addIssue({
          code: 'custom',
          path: ['image'],
          message: `${r.image}: the Run:ai streamer reads GCS on TPUs only from TPU vLLM ${MIN_TPU_VLLM_VERSION.join('.')}`,
        });
      }
    }
    if (acc !== undefined && !isTpuType(acc.type) && ref && isVllmTpuImage(ref)) {
      ctx.addIssue({ code: 'custom', path: ['image'], message: `${r.image} is vLLM's TPU build; GPUs need vllm/vllm-openai` });
    }
  });
export type DeployRequest = z.infer<typeof DeployRequest>;
/** What a sender may write (defaults not yet applied). */
export type DeployRequestInput = z.input<typeof DeployRequest>;

/** Tensor parallel size ferry runs with: the request's, else every device of the pod (1 while the accelerator is unresolved). */
export const effectiveTensorParallelSize = (r: DeployRequest): number => r.tensorParallelSize ?? r.accelerator?.count ?? 1;

export const isLatest = (r: Pick<DeployRequest, 'version'>): boolean => r.version === LATEST;

// ---------------------------------------------------------------------------------------------
// Parsing bytes

export const PARSE_FAILURES = codesOf(REQUEST_PARSE_FAILURES);
export type ParseFailure = (typeof PARSE_FAILURES)[number];

export type ParseDeployRequestResult =
  | { ok: true; request: DeployRequest }
  | { ok: false; reason: ParseFailure; message: string; issues?: Array<{ path: string; message: string }> };

const utf8 = new TextEncoder();

/**
 * Bytes (a Pub/Sub payload, an HTTP body) or text → a validated request. Never throws. A leading
 * UTF-8 BOM is ignored; invalid UTF-8 is NOT_JSON.
 */
export function parseDeployRequest(input: Uint8Array | string): ParseDeployRequestResult {
  const size = typeof input === 'string' ? utf8.encode(input).byteLength : input.byteLength;
  if (size > MAX_REQUEST_BYTES) {
    return { ok: false, reason: 'TOO_LARGE', message: `deploy request is ${size} bytes; the limit is ${MAX_REQUEST_BYTES}` };
  }
  let text: string;
  if (typeof input === 'string') {
    text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return { ok: false, reason: 'NOT_JSON', message: 'deploy request is not valid UTF-8' };
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: 'NOT_JSON', message: `deploy request is not JSON: ${(e as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return { ok: false, reason: 'NOT_OBJECT', message: `deploy request must be a JSON object, got ${kind}` };
  }
  const parsed = DeployRequest.safeParse(value);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error);
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    return {
      ok: false,
      reason: 'SCHEMA',
      message: `invalid deploy request: ${first ? `${first.path}: ${first.message}` : 'schema mismatch'}${more}`,
      issues,
    };
  }
  return { ok: true, request: parsed.data };
}

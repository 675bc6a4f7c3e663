/**
 * The deploy request: the message (Pub/Sub, Slack, upload hook, CLI) that asks ferry to put one
 * version of a model on one target. Pure: zod schema + parsing. Every rule that can be checked
 * without I/O is checked here, so a bad request is refused at the edge with a message that names
 * the field, before any rollout exists. Its parts live next to it: names and keys (names.ts), the
 * accelerator rules (accelerators.ts), the image and vLLM arguments (vllm.ts).
 */
import { z } from 'zod';
import { describeIssues } from './events.ts';
import { codesOf } from './reasons/catalogue.ts';
import { REQUEST_PARSE_FAILURES } from './reasons/deploy.ts';
import { LATEST, ModelName, Target, VersionRef, ZONE_RE } from './names.ts';
import { Accelerator, isTpuType } from './accelerators.ts';
import { Gate } from './gate.ts';
import { Image, MIN_TPU_VLLM_VERSION, VllmArgs, isVllmOpenAiImage, isVllmTagOlderThan, isVllmTpuImage, parseImageReference } from './vllm.ts';

export const API_VERSION = 'ferry/v1';
/** Largest accepted message body (bytes, UTF-8). A real request is well under 4 KiB. */
export const MAX_REQUEST_BYTES = 64 * 1024;

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

/**
 * Anywhere Cache wishes; read later by the cache planner. TTL: the API's range, 1 h to 7 d in whole
 * seconds, default 24 h (storage_control.proto `AnywhereCache.ttl`, @google-cloud/storage-control
 * build/protos/google/storage/control/v2/storage_control.proto).
 */
export const CacheOptions = z
  .object({
    mode: z.enum(CACHE_MODES).default('off'),
    zones: z.array(z.string().regex(ZONE_RE, 'zones look like us-central1-a')).min(1).max(32).optional(),
    ttlSeconds: z.int().min(3_600).max(604_800).optional(),
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
    model: ModelName,
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
    /** Default: rendered-spec.ts DEFAULT_IMAGE (GPUs) or DEFAULT_TPU_IMAGE (TPUs). */
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
    /**
     * Promotion gate: golden prompts the new pods must answer right before the rollout succeeds
     * (shared/domain/gate.ts, docs/gate.md). Absent: the model's default gate (`ferry gate set`), if any.
     */
    gate: Gate.optional(),
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
  { ok: true; request: DeployRequest } | { ok: false; reason: ParseFailure; message: string; issues?: Array<{ path: string; message: string }> };

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
    // Only the gate is wrong: say so by its own code (the gate's rules are docs/gate.md's, not the request's).
    const onlyGate = issues.length > 0 && parsed.error.issues.every((i) => i.path[0] === 'gate');
    return {
      ok: false,
      reason: onlyGate ? 'INVALID_GATE' : 'SCHEMA',
      message: `invalid ${onlyGate ? 'gate in the deploy request' : 'deploy request'}: ${first ? `${first.path}: ${first.message}` : 'schema mismatch'}${more}`,
      issues,
    };
  }
  return { ok: true, request: parsed.data };
}

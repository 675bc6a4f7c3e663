/**
 * Manifest rendering, pure: a deploy request + a validated checkpoint → the Deployment and Service
 * ferry server-side-applies for one target. Plain objects (apiVersion, kind, metadata.name set), no
 * `undefined` anywhere (Firestore-storable as is), deterministic key order (golden-file tested).
 *
 * Startup budget rule (documented constants below):
 *   startupBudget = clamp(STARTUP.overheadSeconds + ceil(tensorBytes / STARTUP.bytesPerSecond),
 *                         STARTUP.minSeconds, STARTUP.maxSeconds), rounded up to whole probe periods;
 *   startupProbe.failureThreshold = startupBudget / STARTUP.periodSeconds.
 * Progress deadline rule:
 *   default progressDeadlineSeconds = min(7200, startupBudget + PROGRESS_MARGIN_SECONDS), which is
 *   always ≥ startupBudget + 300 because STARTUP.maxSeconds = 7200 − 300; a deploy that brought
 *   node pools back from zero adds NODE_PROVISION_SECONDS (still capped at 7200). An explicit
 *   request.progressDeadlineSeconds is honoured; when it is below the startup budget the result
 *   carries a warning (Kubernetes would call the rollout failed before a slow pod may start).
 *
 * Serving profile (./serving-profile.ts): `extras` holds what the request adds beyond the two core
 * objects — a ComputeClass (capacity.computeClass), a PodMonitoring and an HPA (autoscaling) — and
 * `objectsToApply` gives everything in apply order. With autoscaling the Deployment leaves
 * `spec.replicas` out, so the HPA owns it (a forced apply would otherwise reset it on every rollout).
 * A TPU accelerator renders the TPU variant: `vllm/vllm-tpu`, `google.com/tpu`, TPU accelerator +
 * topology nodeSelectors, and never the streamer's CUDA-only `distributed` mode.
 */
import { createHash } from 'node:crypto';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { FerryError } from './errors.ts';
import { DeployRequest, PROGRESS_DEADLINE_MAX_SECONDS, effectiveTensorParallelSize } from './deploy-request.ts';
import { LATEST } from './names.ts';
import { isTpuType } from './accelerators.ts';
import {
  COMPUTE_CLASS_NODE_LABEL,
  TPU_ACCELERATOR_NODE_LABEL,
  TPU_RESOURCE,
  TPU_TOPOLOGY_NODE_LABEL,
  computeClassName,
  refOf,
  renderComputeClass,
  renderHpa,
  renderPodMonitoring,
  type KubeObject,
  type KubeObjectRef,
} from './serving-profile.ts';

export type { KubeObject, KubeObjectRef } from './serving-profile.ts';

// ---------------------------------------------------------------------------------------------
// Constants

/** Default server image: pinned, ≥ v0.11.1 (built-in GCS auth for the Run:ai streamer). */
export const DEFAULT_IMAGE = 'vllm/vllm-openai:v0.11.2';
/**
 * Default server image on TPUs: the first TPU vLLM whose Run:ai streamer reads GCS (0.18.0,
 * discuss.google.dev/t/374835; vllm-project/tpu-inference@v0.18.0 pins runai-model-streamer 0.15.4).
 * ⚠ the tag is assumed to follow vllm-openai's `vX.Y.Z` naming; check Docker Hub vllm/vllm-tpu.
 */
export const DEFAULT_TPU_IMAGE = 'vllm/vllm-tpu:v0.18.0';
/** Kubernetes service account bound to a Google service account by Workload Identity. */
export const DEFAULT_SERVICE_ACCOUNT = 'ferry-vllm';
export const VLLM_PORT = 8000;
export const CONTAINER_NAME = 'vllm';
export const FIELD_MANAGER = 'ferry';
export const GPU_RESOURCE = 'nvidia.com/gpu';
export const ACCELERATOR_NODE_LABEL = 'cloud.google.com/gke-accelerator';

export const LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  managedBy: 'app.kubernetes.io/managed-by',
  model: 'ferry.dev/model',
  version: 'ferry.dev/version',
} as const;

export const ANNOTATIONS = {
  rolloutId: 'ferry.dev/rollout-id',
  checkpointDigest: 'ferry.dev/checkpoint-digest',
  checkpointUri: 'ferry.dev/checkpoint-uri',
  /** On the Deployment only: specDigest() of what was rendered (so drift is visible in the cluster). */
  specDigest: 'ferry.dev/spec-digest',
} as const;

/**
 * Startup probe budget. 100 MiB/s is deliberately pessimistic: the Run:ai streamer typically reads
 * GCS at 1–2+ GiB/s per pod, but a cold bucket without Anywhere Cache, HTTP/JSON transport and a
 * busy node can be far slower, and a too-short budget kills a healthy pod mid-load. The overhead
 * covers container start, CUDA/NCCL init, config/tokenizer download and engine warm-up (CUDA graph
 * capture, torch.compile).
 */
export const STARTUP = {
  bytesPerSecond: 100 * 1024 * 1024,
  overheadSeconds: 300,
  minSeconds: 600,
  maxSeconds: PROGRESS_DEADLINE_MAX_SECONDS - 300,
  periodSeconds: 10,
} as const;
/** Added to the startup budget for the default progress deadline: scheduling + image pull. */
export const PROGRESS_MARGIN_SECONDS = 300;
/**
 * Added to the default progress deadline when the deploy had to bring node pools back from zero
 * (after teardown): GKE creating GPU nodes and installing drivers takes minutes before a pod can
 * even be scheduled.
 */
export const NODE_PROVISION_SECONDS = 600;
/** Rolling update: surge 25% (at least one pod), never take a serving pod away first. */
export const MAX_SURGE = '25%';

/** Rollout ids: Firestore-id and annotation safe. */
export const ROLLOUT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const BUCKET_RE = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const LABEL_KEY_RE = /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^(?:[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

// ---------------------------------------------------------------------------------------------
// Types

export interface CheckpointRef {
  /** `gs://<bucket>/models/<model>/<version>` (a trailing `/` is tolerated). */
  uri: string;
  /** Sum of tensor bytes over all shards (drives the startup budget). */
  tensorBytes: number;
  /** Content digest of the validated checkpoint (e.g. upload.ts contentKey). */
  digest: string;
  /** Number of .safetensors shards. */
  shards: number;
}

export interface RenderInput {
  /** A valid request whose version is resolved (not "latest"). */
  request: DeployRequest;
  rolloutId: string;
  bucket: string;
  checkpoint: CheckpointRef;
  serviceAccountName?: string;
  /** Extra node selector terms, e.g. `topology.kubernetes.io/zone` when a cache pins one zone. */
  nodeSelectorExtra?: Record<string, string>;
  /** Seconds to add to the default progress deadline while nodes are created (see NODE_PROVISION_SECONDS). */
  capacityWaitSeconds?: number;
}

/** What gets applied: the Deployment, the Service and (serving profile) the extra objects. */
export interface RenderedSpec {
  deployment: V1Deployment;
  service: V1Service;
  /** ComputeClass / PodMonitoring / HPA in apply order; absent or empty = none (specs stored before the serving profile). */
  extras?: KubeObject[];
}

export interface Rendered extends RenderedSpec {
  /** Always present on a render (empty when the request asks for nothing extra). */
  extras: KubeObject[];
  /** specDigest({deployment, service, extras}); also in the Deployment's `ferry.dev/spec-digest`. */
  specDigest: string;
  startupBudgetSeconds: number;
  progressDeadlineSeconds: number;
  /** Upper bound for the whole rollout (progress deadline × rolling-update waves + margin). */
  rolloutTimeoutSeconds: number;
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------
// Budgets

export function startupBudgetSeconds(tensorBytes: number): number {
  const raw = STARTUP.overheadSeconds + Math.ceil(Math.max(0, tensorBytes) / STARTUP.bytesPerSecond);
  const clamped = Math.min(STARTUP.maxSeconds, Math.max(STARTUP.minSeconds, raw));
  return Math.ceil(clamped / STARTUP.periodSeconds) * STARTUP.periodSeconds;
}

export function defaultProgressDeadlineSeconds(startupBudget: number, capacityWaitSeconds = 0): number {
  return Math.min(PROGRESS_DEADLINE_MAX_SECONDS, startupBudget + PROGRESS_MARGIN_SECONDS + Math.max(0, capacityWaitSeconds));
}

/** Surge pods per wave for MAX_SURGE (25%, rounded up as Kubernetes does, at least 1). */
export const surgeCount = (replicas: number): number => Math.max(1, Math.ceil(replicas * 0.25));

export function rolloutTimeoutSeconds(progressDeadline: number, replicas: number): number {
  const waves = replicas <= 0 ? 1 : Math.ceil(replicas / surgeCount(replicas));
  return progressDeadline * waves + PROGRESS_MARGIN_SECONDS;
}

// ---------------------------------------------------------------------------------------------
// Helpers

export const modelUri = (bucket: string, model: string, version: string): string =>
  `gs://${bucket}/models/${model}/${version}`;

/** Any string → a valid label value (≤ 63, alphanumeric ends, `-_.` inside). */
export function toLabelValue(s: string): string {
  return s
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}

/** The `--model-loader-extra-config` object, or null when there is nothing to say. */
export function loaderExtraConfig(request: DeployRequest): Record<string, number | boolean> | null {
  const tp = effectiveTensorParallelSize(request);
  const cfg: Record<string, number | boolean> = {};
  const s = request.streamer;
  if (s.concurrency !== undefined) cfg.concurrency = s.concurrency;
  if (s.memoryLimit !== undefined) cfg.memory_limit = s.memoryLimit;
  // `distributed` is CUDA/ROCm only: on by default with TP > 1 on GPUs, never on TPUs (the request
  // schema refuses an explicit `distributed: true` with a TPU).
  const tpu = request.accelerator !== undefined && isTpuType(request.accelerator.type);
  const distributed = !tpu && (s.distributed ?? tp > 1);
  if (distributed) cfg.distributed = true;
  return Object.keys(cfg).length > 0 ? cfg : null;
}

function selectorLabels(name: string): Record<string, string> {
  return { [LABELS.name]: 'vllm', [LABELS.instance]: name };
}

function stableLabels(name: string): Record<string, string> {
  return { ...selectorLabels(name), [LABELS.managedBy]: 'ferry' };
}

// ---------------------------------------------------------------------------------------------
// Render

/** Throws FerryError (INVALID_REQUEST, VERSION_UNRESOLVED, ACCELERATOR_UNRESOLVED, INVALID_RENDER_INPUT, CHECKPOINT_MISMATCH). */
export function render(input: RenderInput): Rendered {
  const parsed = DeployRequest.safeParse(input.request);
  if (!parsed.success) {
    throw new FerryError('INVALID_REQUEST', `cannot render an invalid request: ${parsed.error.issues[0]?.message ?? ''}`, {
      details: { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  const request = parsed.data;
  const { model, version, target } = request;
  if (version === LATEST) {
    throw new FerryError('VERSION_UNRESOLVED', 'resolve "latest" to a concrete version before rendering', {
      hint: 'pass {...request, version: <newest valid version>}',
    });
  }
  const accelerator = request.accelerator;
  if (accelerator === undefined) {
    throw new FerryError('ACCELERATOR_UNRESOLVED', 'choose the accelerator before rendering', {
      hint: 'pass the request through resolveAccelerator (shared/domain/serving-plan.ts), which fills in the recommendation',
    });
  }
  const tpu = isTpuType(accelerator.type);
  const bad = (message: string): never => {
    throw new FerryError('INVALID_RENDER_INPUT', message);
  };
  if (!ROLLOUT_ID_RE.test(input.rolloutId)) bad(`invalid rollout id ${JSON.stringify(input.rolloutId)}`);
  if (!BUCKET_RE.test(input.bucket)) bad(`invalid bucket name ${JSON.stringify(input.bucket)}`);
  const cp = input.checkpoint;
  if (!Number.isSafeInteger(cp.tensorBytes) || cp.tensorBytes < 0) bad(`invalid tensorBytes ${cp.tensorBytes}`);
  if (!Number.isSafeInteger(cp.shards) || cp.shards < 1) bad(`invalid shard count ${cp.shards}`);
  if (cp.digest.length === 0 || cp.digest.length > 256) bad('checkpoint digest must be 1-256 chars');
  const uri = modelUri(input.bucket, model, version);
  if (cp.uri.replace(/\/+$/, '') !== uri) {
    throw new FerryError('CHECKPOINT_MISMATCH', `checkpoint ${cp.uri} is not ${uri}`, {
      details: { checkpointUri: cp.uri, expected: uri },
    });
  }
  const serviceAccountName = input.serviceAccountName ?? DEFAULT_SERVICE_ACCOUNT;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(serviceAccountName)) {
    bad(`invalid service account name ${JSON.stringify(serviceAccountName)}`);
  }
  const extra = input.nodeSelectorExtra ?? {};
  for (const [k, v] of Object.entries(extra)) {
    if (OWNED_NODE_LABELS.includes(k)) bad(`nodeSelectorExtra cannot override ${k}`);
    if (!LABEL_KEY_RE.test(k) || !LABEL_VALUE_RE.test(v)) bad(`invalid node selector ${k}=${v}`);
  }

  const tp = effectiveTensorParallelSize(request);
  const startupBudget = startupBudgetSeconds(cp.tensorBytes);
  const progressDeadline = request.progressDeadlineSeconds ?? defaultProgressDeadlineSeconds(startupBudget, input.capacityWaitSeconds ?? 0);
  const warnings: string[] = [];
  if (progressDeadline < startupBudget) {
    warnings.push(
      `progressDeadlineSeconds ${progressDeadline} is below the startup budget ${startupBudget}s for ${cp.tensorBytes} bytes: a slow load may be declared failed`,
    );
  }

  const image = request.image ?? (tpu ? DEFAULT_TPU_IMAGE : DEFAULT_IMAGE);
  const computeClass = request.capacity?.computeClass === 'spot-then-flex-start' ? renderComputeClass(accelerator) : null;
  const autoscaling = request.autoscaling;

  const args = [`--model=${uri}`, '--load-format=runai_streamer', `--tensor-parallel-size=${tp}`];
  const extraConfig = loaderExtraConfig(request);
  if (extraConfig) args.push(`--model-loader-extra-config=${JSON.stringify(extraConfig)}`);
  args.push(`--port=${VLLM_PORT}`, ...request.vllmArgs);

  const labels = {
    ...stableLabels(target.name),
    [LABELS.model]: toLabelValue(model),
    [LABELS.version]: toLabelValue(version),
  };
  const podAnnotations = {
    [ANNOTATIONS.rolloutId]: input.rolloutId,
    [ANNOTATIONS.checkpointDigest]: cp.digest,
    [ANNOTATIONS.checkpointUri]: uri,
  };
  const probe = (periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path: '/health', port: 'http' },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  });

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: target.name,
      namespace: target.namespace,
      labels,
      annotations: { ...podAnnotations },
    },
    spec: {
      // With autoscaling the HPA owns the replica count: leave it out of what ferry applies.
      ...(autoscaling ? {} : { replicas: request.replicas }),
      selector: { matchLabels: selectorLabels(target.name) },
      progressDeadlineSeconds: progressDeadline,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: MAX_SURGE, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { ...labels }, annotations: { ...podAnnotations } },
        spec: {
          serviceAccountName,
          nodeSelector: {
            ...(tpu
              ? { [TPU_ACCELERATOR_NODE_LABEL]: accelerator.type, [TPU_TOPOLOGY_NODE_LABEL]: accelerator.topology! }
              : { [ACCELERATOR_NODE_LABEL]: accelerator.type }),
            ...(computeClass ? { [COMPUTE_CLASS_NODE_LABEL]: computeClass.metadata.name } : {}),
            ...extra,
          },
          tolerations: [
            { key: tpu ? TPU_RESOURCE : GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' },
            // GKE adds this one itself for Pods that select a compute class; explicit is harmless.
            ...(computeClass ? [{ key: COMPUTE_CLASS_NODE_LABEL, operator: 'Equal', value: computeClass.metadata.name, effect: 'NoSchedule' }] : []),
          ],
          containers: [
            {
              name: CONTAINER_NAME,
              image,
              args,
              ports: [{ name: 'http', containerPort: VLLM_PORT, protocol: 'TCP' }],
              resources: { limits: { [tpu ? TPU_RESOURCE : GPU_RESOURCE]: String(accelerator.count) } },
              startupProbe: probe(STARTUP.periodSeconds, startupBudget / STARTUP.periodSeconds),
              readinessProbe: probe(10, 3),
              livenessProbe: probe(15, 4),
              volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
            },
          ],
          volumes: [{ name: 'dshm', emptyDir: { medium: 'Memory' } }],
        },
      },
    },
  };
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: target.name, namespace: target.namespace, labels: stableLabels(target.name) },
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(target.name),
      ports: [{ name: 'http', port: VLLM_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const extras: KubeObject[] = [];
  if (computeClass) extras.push(computeClass);
  if (autoscaling) {
    const objectLabels = stableLabels(target.name);
    extras.push(
      renderPodMonitoring(target, objectLabels, selectorLabels(target.name)),
      renderHpa(target, objectLabels, autoscaling, image, startupBudget),
    );
  }
  const digest = specDigest({ deployment, service, extras });
  deployment.metadata!.annotations![ANNOTATIONS.specDigest] = digest;
  return {
    deployment,
    service,
    specDigest: digest,
    startupBudgetSeconds: startupBudget,
    progressDeadlineSeconds: progressDeadline,
    rolloutTimeoutSeconds: rolloutTimeoutSeconds(progressDeadline, autoscaling ? autoscaling.maxReplicas : request.replicas),
    warnings,
    extras,
  };
}

/** Node labels render sets itself (nodeSelectorExtra cannot override them). */
export const OWNED_NODE_LABELS: readonly string[] = [
  ACCELERATOR_NODE_LABEL,
  TPU_ACCELERATOR_NODE_LABEL,
  TPU_TOPOLOGY_NODE_LABEL,
  COMPUTE_CLASS_NODE_LABEL,
];

/** Kinds applied before the Service and Deployment (cluster-scoped prerequisites the pods select). */
const APPLY_FIRST_KINDS: readonly string[] = ['ComputeClass'];

/**
 * Every object of a spec in apply order: prerequisites (ComputeClass), the Service, the Deployment,
 * then what watches the Deployment (PodMonitoring, HPA). The namespace is not included: ensure it first.
 */
export function objectsToApply(spec: RenderedSpec): KubeObject[] {
  const extras = spec.extras ?? [];
  return [
    ...extras.filter((o) => APPLY_FIRST_KINDS.includes(o.kind)),
    spec.service as KubeObject,
    spec.deployment as KubeObject,
    ...extras.filter((o) => !APPLY_FIRST_KINDS.includes(o.kind)),
  ];
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
const sameObject = (a: KubeObjectRef, b: KubeObjectRef): boolean =>
  groupOf(a.apiVersion) === groupOf(b.apiVersion) && a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');

/**
 * Per-target extras of `before` that `after` no longer has (e.g. autoscaling turned off, or a rollback
 * to a spec without an HPA): delete them after applying `after`, or a stale HPA keeps scaling the
 * Deployment. Cluster-scoped extras (ComputeClass) are shared between targets and never pruned.
 * Objects are the same across API versions of one group (autoscaling/v2 = autoscaling/v2beta2).
 */
export function staleObjects(before: RenderedSpec | null | undefined, after: RenderedSpec): KubeObjectRef[] {
  const keep = (after.extras ?? []).map(refOf);
  return (before?.extras ?? [])
    .map(refOf)
    .filter((r) => r.namespace !== undefined && !keep.some((k) => sameObject(k, r)));
}

// ---------------------------------------------------------------------------------------------
// Digest

/** JSON with object keys sorted at every level; `undefined` properties dropped (as JSON.stringify). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function withoutKeys(obj: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (!obj) return obj;
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

/**
 * `sha256:<hex>` over the canonical JSON of {deployment, service} — plus `extras` when there are
 * any, so specs without extras keep the digest they always had — excluding the rollout id
 * (Deployment and pod template annotations) and the spec-digest annotation itself. Equal digests =
 * the same thing would run on the target; order of keys (e.g. after a Firestore round trip) does not
 * matter. Other fields of a Rendered (warnings, budgets) are ignored.
 */
export function specDigest(spec: RenderedSpec): string {
  const d = spec.deployment;
  const stripped = {
    ...d,
    metadata: d.metadata && {
      ...d.metadata,
      annotations: withoutKeys(d.metadata.annotations, [ANNOTATIONS.rolloutId, ANNOTATIONS.specDigest]),
    },
    spec: d.spec && {
      ...d.spec,
      template: {
        ...d.spec.template,
        metadata: d.spec.template.metadata && {
          ...d.spec.template.metadata,
          annotations: withoutKeys(d.spec.template.metadata.annotations, [ANNOTATIONS.rolloutId]),
        },
      },
    },
  };
  const extras = spec.extras && spec.extras.length > 0 ? { extras: spec.extras } : {};
  const hash = createHash('sha256').update(canonicalJson({ deployment: stripped, service: spec.service, ...extras })).digest('hex');
  return `sha256:${hash}`;
}

/** The rollout id a Deployment's pod template carries (what the cluster is rolling to), if any. */
export function templateRolloutId(deployment: V1Deployment | null | undefined): string | undefined {
  return deployment?.spec?.template?.metadata?.annotations?.[ANNOTATIONS.rolloutId];
}

/** Only the applied objects of a Rendered (what to store and apply); `extras` only when there are any. */
export const specOf = (r: RenderedSpec): RenderedSpec => ({
  deployment: r.deployment,
  service: r.service,
  ...(r.extras && r.extras.length > 0 ? { extras: r.extras } : {}),
});

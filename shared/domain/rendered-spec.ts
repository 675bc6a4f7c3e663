/**
 * What render.ts produces and how it is handled afterwards, pure: the constants the rendered
 * objects carry (images, ports, labels, annotations, startup budget), the RenderedSpec types, the
 * apply order, stale-object pruning and the spec digest that makes drift and duplicates visible.
 */
import { createHash } from 'node:crypto';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { DeployRequest, PROGRESS_DEADLINE_MAX_SECONDS } from './deploy-request.ts';
import {
  COMPUTE_CLASS_NODE_LABEL,
  TPU_ACCELERATOR_NODE_LABEL,
  TPU_TOPOLOGY_NODE_LABEL,
  refOf,
  type KubeObject,
  type KubeObjectRef,
} from './serving-profile.ts';

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
/**
 * The container command on both variants: vLLM's console script (`[project.scripts] vllm =
 * "vllm.entrypoints.cli.main:main"`, vllm pyproject.toml) with its `serve` subcommand, the model then
 * given as the positional `model_tag`. `vllm` is on PATH in both images: vllm-openai's own ENTRYPOINT
 * is `["vllm", "serve"]`; the TPU image (tpu-inference@v0.18.0:docker/Dockerfile#L15,#L52) pip-installs
 * vLLM into python:3.12-slim, whose console scripts land in /usr/local/bin. docs/UPSTREAM.md V9–V11.
 */
export const VLLM_COMMAND: readonly string[] = ['vllm', 'serve'];
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

/** Node labels render sets itself (nodeSelectorExtra cannot override them). */
export const OWNED_NODE_LABELS: readonly string[] = [ACCELERATOR_NODE_LABEL, TPU_ACCELERATOR_NODE_LABEL, TPU_TOPOLOGY_NODE_LABEL, COMPUTE_CLASS_NODE_LABEL];

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
  return (before?.extras ?? []).map(refOf).filter((r) => r.namespace !== undefined && !keep.some((k) => sameObject(k, r)));
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
  const hash = createHash('sha256')
    .update(canonicalJson({ deployment: stripped, service: spec.service, ...extras }))
    .digest('hex');
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

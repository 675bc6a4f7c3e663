/**
 * The serving profile's extra objects, pure: what render.ts adds next to the Deployment and Service
 * when a deploy request asks for autoscaling or a capacity class, and the TPU constants.
 *
 * - Autoscaling (GKE "Serve an LLM using TPU Trillium on GKE with vLLM", "Best practices for
 *   autoscaling LLM inference workloads"): a PodMonitoring (Google Cloud Managed Service for
 *   Prometheus) scrapes vLLM's `/metrics`; an HPA scales the Deployment on a Pods metric read through
 *   the Custom Metrics Stackdriver Adapter, named `prometheus.googleapis.com|<metric>|gauge`:
 *   `vllm:num_requests_waiting` (throughput profile) or the KV-cache usage (latency profile).
 *   The KV-cache metric was `vllm:gpu_cache_usage_perc` until vLLM deprecated it for
 *   `vllm:kv_cache_usage_perc` (PR #18354; hidden in 0.11, removed by PR #29330), so the HPA names
 *   the one the image exports: the old name only for explicit vLLM tags below 0.10. Listing both in
 *   one HPA would be wrong: an HPA whose metric cannot be fetched never scales down.
 *   Cluster prerequisites (GKE): Managed Service for Prometheus (on by default since 1.27) and the
 *   Custom Metrics Stackdriver Adapter with its Workload Identity binding.
 * - Capacity: a GKE ComputeClass (cloud.google.com/v1, GKE ≥ 1.30.3) that prefers Spot VMs and falls
 *   back to flex-start (Dynamic Workload Scheduler) with node recycling, selected by the Deployment's
 *   `cloud.google.com/compute-class` nodeSelector. One class per accelerator shape, shared by every
 *   target on that shape (its content depends on nothing else).
 *
 * The HPA is rendered as autoscaling/v2 (what GKE serves; v2beta2 was removed in Kubernetes 1.26).
 * The cluster adapter applies it as autoscaling/v2beta2 on servers without v2 (Kubernetes < 1.23,
 * e.g. the local 1.20 apiserver); the two versions have the same fields for what is rendered here.
 */
import { ACCELERATOR_SPECS } from './accelerator-specs.ts';
import { DEFAULT_AUTOSCALING_TARGETS, type Autoscaling } from './deploy-request.ts';
import type { Target } from './names.ts';
import { isTpuType, type Accelerator } from './accelerators.ts';
import { isVllmTagOlderThan, parseImageReference } from './vllm.ts';

/** A plain Kubernetes object as ferry renders and applies it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** What identifies an object in the cluster. */
export interface KubeObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export const HPA_API_VERSION = 'autoscaling/v2';
/** Served by Kubernetes 1.12–1.25; the adapter falls back to it when the server lacks autoscaling/v2. */
export const HPA_FALLBACK_API_VERSION = 'autoscaling/v2beta2';
export const POD_MONITORING_API_VERSION = 'monitoring.googleapis.com/v1';
export const COMPUTE_CLASS_API_VERSION = 'cloud.google.com/v1';

export const COMPUTE_CLASS_NODE_LABEL = 'cloud.google.com/compute-class';
export const TPU_RESOURCE = 'google.com/tpu';
export const TPU_ACCELERATOR_NODE_LABEL = 'cloud.google.com/gke-tpu-accelerator';
export const TPU_TOPOLOGY_NODE_LABEL = 'cloud.google.com/gke-tpu-topology';

export const VLLM_METRICS = {
  waiting: 'vllm:num_requests_waiting',
  kvCacheUsage: 'vllm:kv_cache_usage_perc',
  /** Deprecated name of kvCacheUsage (vLLM < 0.11 exports it by default). */
  gpuCacheUsage: 'vllm:gpu_cache_usage_perc',
} as const;
/** vLLM releases from this one export vllm:kv_cache_usage_perc (0.10 exports both names). */
export const KV_CACHE_METRIC_SINCE = [0, 10, 0] as const;

/** PodMonitoring scrape interval. */
export const SCRAPE_INTERVAL = '15s';
/** Flex-start node recycling: start the replacement node this long before the old one's 7-day run ends (= the longest startup budget + margin). */
export const FLEX_START_RECYCLE_LEAD_SECONDS = 7200;
/** Longest HPA scale-down stabilization window Kubernetes accepts. */
export const MAX_STABILIZATION_SECONDS = 3600;

/** The Custom Metrics Stackdriver Adapter's name for a Managed-Prometheus gauge. */
export const gmpMetricName = (metric: string): string => `prometheus.googleapis.com|${metric}|gauge`;

/** The KV-cache usage metric the image exports: the deprecated name only for explicit tags < 0.10. */
export function kvCacheMetricFor(image: string): string {
  const tag = parseImageReference(image)?.tag;
  return tag !== undefined && isVllmTagOlderThan(tag, KV_CACHE_METRIC_SINCE) ? VLLM_METRICS.gpuCacheUsage : VLLM_METRICS.kvCacheUsage;
}

/**
 * A number as a canonical Kubernetes quantity string (the local 1.20 apiserver refuses numeric
 * quantities in server-side apply): integers as is, fractions in milli-units (0.8 → "800m").
 */
export function toQuantity(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return `${Math.round(n * 1000)}m`;
}

/**
 * KV-cache usage (0–1) from a Prometheus text exposition of vLLM's /metrics: the mean over series of
 * `vllm:kv_cache_usage_perc`, else of the deprecated `vllm:gpu_cache_usage_perc`; null when neither.
 */
export function readKvCacheUsage(text: string): number | null {
  for (const name of [VLLM_METRICS.kvCacheUsage, VLLM_METRICS.gpuCacheUsage]) {
    const values: number[] = [];
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const rest = line.slice(name.length);
      if (rest !== '' && rest[0] !== '{' && rest[0] !== ' ') continue;
      const value = Number(
        rest
          .replace(/^\{[^}]*\}/, '')
          .trim()
          .split(/\s+/)[0],
      );
      if (Number.isFinite(value)) values.push(value);
    }
    if (values.length > 0) return values.reduce((a, b) => a + b, 0) / values.length;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Objects

/** `ferry-spot-flex-<type>-x<count>` (TPUs: `-<topology>`): one ComputeClass per accelerator shape. */
export function computeClassName(acc: Accelerator): string {
  return `ferry-spot-flex-${acc.type}-${isTpuType(acc.type) ? acc.topology : `x${acc.count}`}`;
}

/** Spot first, then flex-start with node recycling; never a node without the accelerator. */
export function renderComputeClass(acc: Accelerator): KubeObject {
  const spec = ACCELERATOR_SPECS[acc.type];
  const device = isTpuType(acc.type)
    ? { tpu: { type: acc.type, count: acc.count, topology: acc.topology } }
    : {
        gpu: { type: acc.type, count: acc.count, driverVersion: 'latest' },
        // Pin the machine shape of the sizing table (enough host memory for the streamer's buffers).
        ...(spec.machines[acc.count] ? { machineType: spec.machines[acc.count]!.machineType } : {}),
      };
  return {
    apiVersion: COMPUTE_CLASS_API_VERSION,
    kind: 'ComputeClass',
    metadata: { name: computeClassName(acc), labels: { 'app.kubernetes.io/managed-by': 'ferry' } },
    spec: {
      description: `ferry: ${spec.name} x${acc.count}, Spot first, then flex-start with node recycling`,
      nodePoolAutoCreation: { enabled: true },
      priorities: [
        { ...device, spot: true },
        { ...device, flexStart: { enabled: true, nodeRecycling: { leadTimeSeconds: FLEX_START_RECYCLE_LEAD_SECONDS } } },
      ],
      // A node without the accelerator would serve nothing: wait for capacity instead.
      whenUnsatisfiable: 'DoNotScaleUp',
    },
  };
}

export function renderPodMonitoring(target: Target, labels: Record<string, string>, selector: Record<string, string>): KubeObject {
  return {
    apiVersion: POD_MONITORING_API_VERSION,
    kind: 'PodMonitoring',
    metadata: { name: target.name, namespace: target.namespace, labels: { ...labels } },
    spec: {
      selector: { matchLabels: { ...selector } },
      endpoints: [{ port: 'http', path: '/metrics', interval: SCRAPE_INTERVAL }],
    },
  };
}

/**
 * HPA on the profile's vLLM metric. Scale-down waits `stabilizationSeconds` (render passes the
 * startup budget, capped at an hour): removing a replica should not be quicker than bringing one back.
 */
export function renderHpa(target: Target, labels: Record<string, string>, autoscaling: Autoscaling, image: string, stabilizationSeconds: number): KubeObject {
  const metric = autoscaling.profile === 'throughput' ? VLLM_METRICS.waiting : kvCacheMetricFor(image);
  const target_ = autoscaling.target ?? DEFAULT_AUTOSCALING_TARGETS[autoscaling.profile];
  return {
    apiVersion: HPA_API_VERSION,
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: target.name, namespace: target.namespace, labels: { ...labels } },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target.name },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics: [
        {
          type: 'Pods',
          pods: {
            metric: { name: gmpMetricName(metric) },
            target: { type: 'AverageValue', averageValue: toQuantity(target_) },
          },
        },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: Math.min(MAX_STABILIZATION_SECONDS, stabilizationSeconds) } },
    },
  };
}

export const refOf = (o: KubeObject): KubeObjectRef => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name,
  ...(o.metadata.namespace !== undefined ? { namespace: o.metadata.namespace } : {}),
});

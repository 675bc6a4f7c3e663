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
 *
 * The constants, types, apply order and spec digest of what is rendered: rendered-spec.ts.
 */
import type { V1Deployment, V1PodSecurityContext, V1SecurityContext, V1Service } from '@kubernetes/client-node';
import { FerryError } from './errors.ts';
import { DeployRequest, PROGRESS_DEADLINE_MAX_SECONDS, effectiveTensorParallelSize } from './deploy-request.ts';
import { LATEST } from './names.ts';
import { isTpuType } from './accelerators.ts';
import {
  COMPUTE_CLASS_NODE_LABEL,
  TPU_ACCELERATOR_NODE_LABEL,
  TPU_RESOURCE,
  TPU_TOPOLOGY_NODE_LABEL,
  renderComputeClass,
  renderHpa,
  renderPodMonitoring,
  type KubeObject,
} from './serving-profile.ts';
import {
  ACCELERATOR_NODE_LABEL,
  ANNOTATIONS,
  CONTAINER_NAME,
  DEFAULT_IMAGE,
  DEFAULT_SERVICE_ACCOUNT,
  DEFAULT_TPU_IMAGE,
  GPU_RESOURCE,
  LABELS,
  MAX_SURGE,
  OWNED_NODE_LABELS,
  PROGRESS_MARGIN_SECONDS,
  ROLLOUT_ID_RE,
  type RenderInput,
  type Rendered,
  STARTUP,
  VLLM_COMMAND,
  VLLM_PORT,
  specDigest,
} from './rendered-spec.ts';

export type { KubeObject, KubeObjectRef } from './serving-profile.ts';

const BUCKET_RE = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const LABEL_KEY_RE = /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^(?:[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

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

export const modelUri = (bucket: string, model: string, version: string): string => `gs://${bucket}/models/${model}/${version}`;

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
/**
 * The vLLM container's security context, fixed by ferry whatever the request says: no privilege
 * escalation, no Linux capabilities, not privileged. Not runAsNonRoot and not a read-only root
 * filesystem: the upstream vllm-openai image declares no USER (it runs as root, HOME=/root) and
 * vLLM writes its compile and download caches under /root/.cache and /tmp at start-up
 * (vllm-project/vllm docker/Dockerfile, `FROM vllm-openai-base AS vllm-openai`: ENTRYPOINT, no
 * USER; docs/UPSTREAM.md). A custom image with a non-root user can be run non-root by a later policy field.
 */
export const containerSecurityContext = (): V1SecurityContext => ({ allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } });
/** The Pod's: the container runtime's default seccomp profile. */
export const podSecurityContext = (): V1PodSecurityContext => ({ seccompProfile: { type: 'RuntimeDefault' } });

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

  // The container runs `vllm serve <model> [flags]` explicitly on both variants (docs/UPSTREAM.md V9, V10,
  // V11, M8): the TPU image's ENTRYPOINT is tpu-inference@v0.18.0:docker/entrypoint.sh, which execs its
  // arguments as a command (#L36-39), so `args` alone would exec `--model=…`; the GPU image's ENTRYPOINT is
  // `vllm serve`, so `command` restates it. The model is vLLM's positional `model_tag`; `--model` on
  // `vllm serve` is rewritten with a deprecation warning (vllm/utils/argparse_utils.py
  // FlexibleArgumentParser.parse_args: "The `--model` option will be removed …").
  const command = [...VLLM_COMMAND];
  const args = [uri, '--load-format=runai_streamer', `--tensor-parallel-size=${tp}`];
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
          // Fixed by ferry (the policy), never by a request: the service account from configuration,
          // no host namespaces, the runtime's default seccomp profile.
          serviceAccountName,
          hostNetwork: false,
          hostPID: false,
          hostIPC: false,
          securityContext: podSecurityContext(),
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
              command,
              args,
              ports: [{ name: 'http', containerPort: VLLM_PORT, protocol: 'TCP' }],
              resources: { limits: { [tpu ? TPU_RESOURCE : GPU_RESOURCE]: String(accelerator.count) } },
              startupProbe: probe(STARTUP.periodSeconds, startupBudget / STARTUP.periodSeconds),
              readinessProbe: probe(10, 3),
              livenessProbe: probe(15, 4),
              securityContext: containerSecurityContext(),
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
    extras.push(renderPodMonitoring(target, objectLabels, selectorLabels(target.name)), renderHpa(target, objectLabels, autoscaling, image, startupBudget));
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

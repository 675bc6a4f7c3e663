/**
 * Rollout reasons (shared/domain/rollout.ts): Kubernetes-style CamelCase, like a Deployment's
 * conditions. The Deployment status reasons follow `kubectl rollout status`
 * (https://github.com/kubernetes/kubectl/blob/master/pkg/polymorphichelpers/rollout_status.go); the
 * pod failure reasons are the kubelet's container waiting reasons
 * (https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/images/types.go and
 * pkg/kubelet/container/sync_result.go).
 */
import type { Catalogue } from './catalogue.ts';

/** Container waiting reasons that fail a rollout early (before the progress deadline). */
export const POD_FAILURE_REASON_CATALOGUE = {
  CrashLoopBackOff: {
    meaning: 'A container of the new version keeps exiting and the kubelet backs off restarting it.',
    hint: 'Read the pod logs (`kubectl logs --previous`): usually vLLM refusing the model or its flags, or running out of memory.',
  },
  ImagePullBackOff: {
    meaning: 'The kubelet cannot pull the serving image and backs off.',
    hint: "Check the image name and tag, and that the node's service account may read the registry.",
  },
  ErrImagePull: {
    meaning: 'Pulling the serving image failed.',
    hint: "Check the image name and tag, and that the node's service account may read the registry.",
  },
  InvalidImageName: {
    meaning: 'The serving image name is not a valid reference.',
    hint: 'Fix the image in the deploy request (name[:tag][@digest]).',
  },
  CreateContainerConfigError: {
    meaning: "The kubelet cannot build the container's configuration (a missing Secret, ConfigMap or service account).",
    hint: 'Read `kubectl describe pod`: create what it names in the target namespace, then deploy again.',
  },
} as const satisfies Catalogue;

/** deploymentStatus reasons: one per `kubectl rollout status` branch, plus the pod failures. */
export const STATUS_REASON_CATALOGUE = {
  DeploymentMissing: {
    meaning: 'The Deployment does not exist (yet).',
    hint: 'Nothing to do while a rollout applies it; otherwise deploy the target again.',
  },
  SpecUpdateNotObserved: {
    meaning: "The Deployment controller has not yet seen the Deployment's latest spec.",
    hint: 'Nothing to do: wait; if it lasts, check that kube-controller-manager runs.',
  },
  ReplicasUpdating: {
    meaning: 'Fewer replicas run the new template than the Deployment asks for.',
    hint: 'Nothing to do: wait (new nodes and model loading take minutes).',
  },
  OldReplicasTerminating: {
    meaning: 'Replicas of the old template are still shutting down.',
    hint: 'Nothing to do: wait.',
  },
  ReplicasBecomingAvailable: {
    meaning: 'New replicas exist but are not yet ready (vLLM is loading the weights).',
    hint: 'Nothing to do: wait; the progress deadline allows for model loading.',
  },
  RolloutComplete: {
    meaning: 'Every replica runs the new template and is available.',
    hint: 'Nothing to do.',
  },
  ProgressDeadlineExceeded: {
    meaning: 'The Deployment made no progress within its progressDeadlineSeconds.',
    hint: 'Read `kubectl describe deployment` and the pod events: usually no capacity for the accelerator, or pods that never get ready.',
  },
  ...POD_FAILURE_REASON_CATALOGUE,
} as const satisfies Catalogue;

/** A rollout's reason: why it is in its phase (and the history entry of each transition). */
export const ROLLOUT_REASON_CATALOGUE = {
  /** → pending */
  Created: {
    meaning: 'The rollout was admitted (pending: queued or about to start).',
    hint: 'Nothing to do; `ferry status` follows it.',
  },
  /** pending → applying, or pending → caching (the rollout has a cache plan) */
  Started: {
    meaning: 'The rollout started: it applies the new version, or first creates its caches.',
    hint: 'Nothing to do; `ferry status` follows it.',
  },
  /** caching → applying */
  CachesRunning: {
    meaning: 'Every planned Anywhere Cache runs; the rollout applies the new version.',
    hint: 'Nothing to do.',
  },
  /** caching → applying */
  CacheWaitExceeded: {
    meaning: 'A planned cache was not running after cache.maxWaitSeconds; the rollout applied anyway (a warning).',
    hint: 'Nothing to do: the pods read the bucket directly until the cache runs.',
  },
  /** caching → applying */
  CachesUnavailable: {
    meaning: 'Every cache that was not running failed for good; the rollout applied anyway (a warning).',
    hint: 'Read the rollout\'s message for the cache errors; deploy with cache.mode "off" to skip caches.',
  },
  /** applying → progressing */
  Applied: {
    meaning: "The Deployment's template carries this rollout; Kubernetes rolls it out.",
    hint: 'Nothing to do; `ferry status` follows it.',
  },
  /** progressing → succeeded */
  RolloutComplete: {
    meaning: 'The new version runs on every replica; the rollout succeeded.',
    hint: 'Nothing to do.',
  },
  /** progressing → verifying (the rollout has a gate) */
  Verifying: {
    meaning: "The Deployment rolled out; ferry sends the gate's prompts to the new pods before calling it a success.",
    hint: 'Nothing to do; `ferry status` shows the answers once the gate has run.',
  },
  /** verifying → succeeded */
  GatePassed: {
    meaning: "The new pods answered the gate's prompts as expected; the rollout succeeded.",
    hint: 'Nothing to do.',
  },
  // → failed because of the new version (then rolled back, or scaled to zero when nothing to go back to)
  /** verifying → failed (issue #19's GATE_FAILED) */
  GateFailed: {
    meaning: "The new pods answered, but fewer of the gate's prompts passed than its threshold asks; the rollout failed.",
    hint: 'Read the failing prompts in `ferry status` (expected vs got): a corrupted or wrong checkpoint answers differently. Fix the checkpoint or the gate, then deploy again.',
  },
  /** verifying → failed */
  GateTimeout: {
    meaning: 'The gate did not get every answer from the new pods within its timeoutSeconds; the rollout failed closed.',
    hint: "Read the rollout's message for the last error: check that ferry may POST to pods/proxy (the ferry-deployer ClusterRole), that the pods answer /v1/completions, or raise the gate's timeoutSeconds.",
  },
  /** → failed */
  ProgressDeadlineExceeded: {
    meaning: 'The new version made no progress within the progress deadline; the rollout failed.',
    hint: 'Read the pod events: usually no capacity for the accelerator, or vLLM never getting ready. Fix it and deploy again.',
  },
  /** → failed */
  ...POD_FAILURE_REASON_CATALOGUE,
  /** → failed */
  RolloutTimeout: {
    meaning: 'The whole rollout took longer than rollout.timeoutSeconds (controller stuck, Deployment paused, …).',
    hint: 'Check the Deployment (`kubectl describe deployment`), then deploy again; raise rollout.timeoutSeconds for slow models.',
  },
  /** → failed */
  ApplyRejected: {
    meaning: 'The cluster refused the apply for good (invalid, forbidden, or the cluster is gone).',
    hint: "Read the rollout's message (it carries the error code), fix what it names and deploy again.",
  },
  // → failed because someone else touched the target; ferry keeps its hands off (no rollback, no scale)
  /** → failed */
  ApplyNotObserved: {
    meaning: "ferry's apply never showed up in the Deployment's template; ferry keeps its hands off.",
    hint: 'Someone else manages this Deployment: find out who, then deploy again.',
  },
  /** → failed */
  DeploymentChanged: {
    meaning: "The Deployment's template now carries another rollout; ferry keeps its hands off.",
    hint: 'Someone else changed the Deployment: find out who, then deploy again.',
  },
  /** → failed */
  DeploymentDeleted: {
    meaning: 'The Deployment disappeared mid-rollout; ferry keeps its hands off.',
    hint: 'Deploy again if the target should run.',
  },
  /** failed → rolling_back */
  RollingBack: {
    meaning: 'The new version failed; ferry applies the previous good one.',
    hint: 'Nothing to do; read why the new version failed in the history.',
  },
  /** rolling_back → rolled_back */
  RolledBack: {
    meaning: 'The previous good version runs again.',
    hint: 'Fix what made the new version fail (see the history), then deploy it again.',
  },
  /** rolling_back → failed */
  RollbackFailed: {
    meaning: 'Applying the previous good version failed too.',
    hint: "Read the rollout's message and the Deployment's events; deploy a known good version explicitly.",
  },
  /** pending → superseded */
  Superseded: {
    meaning: 'A newer request for the same target replaced this queued rollout.',
    hint: 'Nothing to do: the newer rollout runs instead.',
  },
} as const satisfies Catalogue;

/** Warnings on a rollout (`warnings`): something to look at that does not fail it (issue #19). */
export const ROLLOUT_WARNING_CATALOGUE = {
  SLOW_LOAD: {
    meaning: "The new pods loaded the weights at less than half the model's recent median rate (docs/cold-start.md).",
    hint: 'Check where the bytes came from (a cold or missing zonal cache, another region), the node type and the streamer concurrency; `ferry status <model>` lists the recent load figures.',
  },
} as const satisfies Catalogue;

/** Why `/ferry rollback` (shared/app/rollback.ts) finds nothing to roll back to. */
export const ROLLBACK_REFUSALS = {
  NO_GOOD_ROLLOUT: {
    meaning: 'The target has no succeeded rollout yet.',
    hint: 'Deploy a version explicitly instead.',
  },
  NO_EARLIER_GOOD_VERSION: {
    meaning: 'The target has no good version before the one it runs.',
    hint: 'Deploy the version you want explicitly instead.',
  },
} as const satisfies Catalogue;

export type RollbackRefusal = keyof typeof ROLLBACK_REFUSALS;

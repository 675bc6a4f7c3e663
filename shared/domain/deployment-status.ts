/**
 * Whether a Deployment's rollout is done, still going or failed, decided exactly as `kubectl rollout
 * status` does (kubectl pkg/polymorphichelpers/rollout_status.go), plus early failure when a pod of
 * the new template is crash-looping or cannot pull its image. Pure.
 */
import type { V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { ANNOTATIONS, templateRolloutId } from './rendered-spec.ts';
import { DeploymentStatus, POD_FAILURE_REASONS, type PodFailureReason, type StatusReason } from './rollout.ts';

// ---------------------------------------------------------------------------------------------
// Deployment status (kubectl rollout status + early pod failure)

export interface DeploymentStatusOptions {
  /** Judge pods annotated with this rollout id; default: the Deployment template's rollout id. */
  rolloutId?: string;
  /** Also require this `pod-template-hash` label (the new ReplicaSet's), when known. */
  podTemplateHash?: string;
  /** CrashLoopBackOff counts once the container restarted this many times (default 2). */
  crashLoopMinRestarts?: number;
}

export const DEFAULT_CRASH_LOOP_MIN_RESTARTS = 2;

const status = (state: DeploymentStatus['state'], reason: StatusReason, message: string): DeploymentStatus => ({
  state,
  reason,
  message,
});

/**
 * `kubectl rollout status` (kubectl polymorphichelpers/rollout_status.go), in order:
 * 1. generation > observedGeneration → waiting (SpecUpdateNotObserved)
 * 2. Progressing condition reason ProgressDeadlineExceeded → failed
 * 3. spec.replicas set and updatedReplicas < spec.replicas → waiting (ReplicasUpdating)
 * 4. replicas > updatedReplicas → waiting (OldReplicasTerminating)
 * 5. availableReplicas < updatedReplicas → waiting (ReplicasBecomingAvailable)
 * 6. done (RolloutComplete)
 * Early failure turns a *waiting* answer of 3–5 into failed when a live pod of the new template has
 * a container waiting with a POD_FAILURE_REASONS reason (CrashLoopBackOff only after N restarts).
 * A missing Deployment is waiting (DeploymentMissing): whether that is a failure is the caller's call.
 */
export function deploymentStatus(
  deployment: V1Deployment | null | undefined,
  pods: readonly V1Pod[] = [],
  options: DeploymentStatusOptions = {},
): DeploymentStatus {
  if (!deployment) return status('waiting', 'DeploymentMissing', 'deployment not found');
  const name = deployment.metadata?.name ?? '';
  const generation = deployment.metadata?.generation ?? 0;
  const st = deployment.status ?? {};
  if (generation > (st.observedGeneration ?? 0)) {
    return status('waiting', 'SpecUpdateNotObserved', 'Waiting for deployment spec update to be observed...');
  }
  const progressing = st.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return status('failed', 'ProgressDeadlineExceeded', `deployment "${name}" exceeded its progress deadline`);
  }
  const specReplicas = deployment.spec?.replicas;
  const replicas = st.replicas ?? 0;
  const updated = st.updatedReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const prefix = `Waiting for deployment "${name}" rollout to finish: `;
  let waiting: DeploymentStatus | null = null;
  if (specReplicas !== undefined && updated < specReplicas) {
    waiting = status('waiting', 'ReplicasUpdating', `${prefix}${updated} out of ${specReplicas} new replicas have been updated...`);
  } else if (replicas > updated) {
    waiting = status('waiting', 'OldReplicasTerminating', `${prefix}${replicas - updated} old replicas are pending termination...`);
  } else if (available < updated) {
    waiting = status('waiting', 'ReplicasBecomingAvailable', `${prefix}${available} of ${updated} updated replicas are available...`);
  }
  if (!waiting) return status('done', 'RolloutComplete', `deployment "${name}" successfully rolled out`);
  const podFailure = findPodFailure(pods, {
    rolloutId: options.rolloutId ?? templateRolloutId(deployment),
    podTemplateHash: options.podTemplateHash,
    minRestarts: options.crashLoopMinRestarts ?? DEFAULT_CRASH_LOOP_MIN_RESTARTS,
  });
  return podFailure ?? waiting;
}

function findPodFailure(
  pods: readonly V1Pod[],
  opts: { rolloutId: string | undefined; podTemplateHash: string | undefined; minRestarts: number },
): DeploymentStatus | null {
  const candidates = pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .filter((p) => opts.rolloutId === undefined || p.metadata?.annotations?.[ANNOTATIONS.rolloutId] === opts.rolloutId)
    .filter((p) => opts.podTemplateHash === undefined || p.metadata?.labels?.['pod-template-hash'] === opts.podTemplateHash)
    .sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
  for (const pod of candidates) {
    const containers: V1ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const cs of containers) {
      const waiting = cs.state?.waiting;
      const reason = waiting?.reason as PodFailureReason | undefined;
      if (!reason || !POD_FAILURE_REASONS.includes(reason)) continue;
      if (reason === 'CrashLoopBackOff' && (cs.restartCount ?? 0) < opts.minRestarts) continue;
      const last = cs.lastState?.terminated;
      const parts = [
        `pod ${pod.metadata?.name ?? '?'} container ${cs.name}: ${reason}`,
        reason === 'CrashLoopBackOff' ? ` after ${cs.restartCount} restarts` : '',
        last ? ` (last exit: ${last.reason ?? 'exit code'} ${last.exitCode})` : '',
        waiting?.message ? `: ${waiting.message}` : '',
      ];
      return status('failed', reason, parts.join(''));
    }
  }
  return null;
}

/**
 * Measuring a rollout's cold start (issue #19) once its Deployment is done: each new pod's timeline
 * from the Pod object, the weights' load from its `vllm` container's log (the pod log API, with the
 * kubelet's timestamps), its zone from its node, and the model's recent load rates for SLOW_LOAD.
 * What it means is decided in the domain (cold-start.ts, rollout-step.ts recordColdStart).
 *
 * Telemetry never stops a rollout: a log or node that cannot be read leaves that figure null, with
 * a log line saying why.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { nodeZone, podColdStart, type PodColdStart } from '../domain/cold-start.ts';
import { ANNOTATIONS, CONTAINER_NAME } from '../domain/rendered-spec.ts';
import type { Rollout } from '../domain/rollout.ts';
import { asFerryError } from '../domain/errors.ts';
import type { ClusterClient } from '../ports/cluster.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { Logger } from '../ports/logger.ts';

/** New pods measured per rollout: a rollout is as slow as its slowest pod; a few tell it. */
export const MAX_COLD_START_PODS = 3;
/** Succeeded rollouts of the model whose rates make the median SLOW_LOAD compares with. */
export const RECENT_LOADS = 10;

export async function measureColdStart(
  r: Rollout,
  cluster: ClusterClient,
  pods: readonly V1Pod[],
  rollouts: Pick<RolloutState, 'recentLoadRates'>,
  log: Logger,
): Promise<{ pods: PodColdStart[]; recentRates: number[] }> {
  const mine = pods
    .filter((p) => p.metadata?.annotations?.[ANNOTATIONS.rolloutId] === r.id && !p.metadata?.deletionTimestamp && p.metadata?.name)
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!))
    .slice(0, MAX_COLD_START_PODS);
  const measured = await Promise.all(
    mine.map(async (p): Promise<PodColdStart> => {
      const [logText, zone] = await Promise.all([podLog(r, cluster, p.metadata!.name!, log), zoneOf(cluster, p.spec?.nodeName ?? null, log)]);
      return podColdStart(p, logText ?? undefined, zone);
    }),
  );
  let recentRates: number[] = [];
  try {
    recentRates = await rollouts.recentLoadRates(r.model, RECENT_LOADS);
  } catch (e) {
    log.warn(`cold start: could not read ${r.model}'s recent load rates; SLOW_LOAD not judged this time`, { error: asFerryError(e) });
  }
  return { pods: measured, recentRates };
}

async function podLog(r: Rollout, cluster: ClusterClient, pod: string, log: Logger): Promise<string | null> {
  if (!cluster.readPodLog) return null;
  try {
    return await cluster.readPodLog(r.target.namespace, pod, { container: CONTAINER_NAME, timestamps: true });
  } catch (e) {
    log.warn(`cold start: could not read the log of pod ${pod}; its load is not measured`, { error: asFerryError(e) });
    return null;
  }
}

async function zoneOf(cluster: ClusterClient, node: string | null, log: Logger): Promise<string | null> {
  if (!node) return null;
  try {
    // GKE (and the local node simulator) label each node with its own name as kubernetes.io/hostname.
    const [n] = await cluster.listNodes(`kubernetes.io/hostname=${node}`);
    return nodeZone(n);
  } catch (e) {
    log.warn(`cold start: could not read node ${node}'s zone`, { error: asFerryError(e) });
    return null;
  }
}

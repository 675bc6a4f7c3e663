/**
 * Capacity for a deploy to a cluster teardown touched: a deleted cluster is refused with a reason,
 * node pools teardown scaled to zero come back to what `scaledDownClusters` remembers, and the
 * reconciler goes on with pools GKE could not start at once (one operation per cluster).
 */
import { restorePlan } from '../domain/scaled-down-cluster.ts';
import { asFerryError } from '../domain/errors.ts';
import { nodePoolName, type ClusterCapacity } from '../ports/cluster-directory.ts';
import type { ScaledDownPools } from '../ports/teardown-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';

export type CapacityCheck = { ok: true; restored: RestoredPool[]; pending: string[] } | { ok: false; reason: 'CLUSTER_DELETED'; message: string };

export interface RestoredPool {
  pool: string;
  /** `resize`: nodesPerZone nodes in each zone; `autoscaling`: the autoscaler minimum back (per zone or in total, as `limits` says). */
  kind: 'resize' | 'autoscaling';
  zones: string[];
  /** resize: nodes per zone; autoscaling: the minimum put back. */
  nodeCount: number;
  limits: 'per-zone' | 'total';
  operation: string;
}

/**
 * Before a deploy to a GKE cluster: a deleted cluster is refused with a clear reason; node pools
 * teardown scaled to zero come back — to the size or autoscaler minimum remembered in
 * `scaledDownClusters` (a fixed pool at zero with nothing remembered gets `fallbackSize` nodes; an
 * autoscaled one is left to the autoscaler, which grows it for pending pods). Operations are started,
 * not waited for: the rollout's progress deadline is extended for node provisioning instead. GKE
 * runs one operation per cluster at a time, so a pool that meets CLUSTER_CONFLICT is `pending` and
 * stays remembered: the next deploy to the cluster starts it.
 */
export async function ensureClusterCapacity(
  cluster: string,
  directory: ClusterCapacity,
  memory: ScaledDownPools | null,
  opts: { fallbackSize?: number; now?: Date; onlyRemembered?: boolean } = {},
): Promise<CapacityCheck> {
  const c = await directory.get(cluster);
  if (!c) {
    return {
      ok: false,
      reason: 'CLUSTER_DELETED',
      message: `cluster ${cluster} does not exist (deleted, possibly by ferry teardown as idle); recreate it or deploy to another cluster`,
    };
  }
  const remembered = memory ? await memory.getScaledDown(cluster) : undefined;
  const restored: RestoredPool[] = [];
  const pending: string[] = [];
  // The reconciler only goes on with what the record names: a pool whose resize is still running
  // reads as zero and must not be sent a second, smaller resize.
  const pools = opts.onlyRemembered ? c.nodePools.filter((p) => remembered?.pools.some((r) => r.name === p.name)) : c.nodePools;
  // While the cluster is RECONCILING an operation is running (most likely an earlier restore): a pool
  // it is resizing still reads as zero, so no default size is guessed for it.
  const steps = restorePlan(pools, remembered, opts.fallbackSize ?? 1).filter(
    (st) => !(c.status === 'RECONCILING' && st.kind === 'resize' && st.source === 'default'),
  );
  for (const step of steps) {
    try {
      const op =
        step.kind === 'resize'
          ? await directory.setNodePoolSize(nodePoolName(cluster, step.pool), step.nodesPerZone)
          : await directory.setNodePoolAutoscaling(nodePoolName(cluster, step.pool), step.autoscaling);
      restored.push(
        step.kind === 'resize'
          ? { pool: step.pool, kind: 'resize', zones: step.zones, nodeCount: step.nodesPerZone, limits: 'per-zone', operation: op.name }
          : {
              pool: step.pool,
              kind: 'autoscaling',
              zones: step.zones,
              nodeCount: step.autoscaling.minNodeCount,
              limits: step.autoscaling.limits,
              operation: op.name,
            },
      );
    } catch (e) {
      if (asFerryError(e).code !== 'CLUSTER_CONFLICT') throw e;
      pending.push(step.pool);
    }
  }
  if (memory && remembered) {
    // Keep only what is still to bring back, flagged so the reconciler goes on with it; forget the
    // cluster once every pool is on its way.
    const left = remembered.pools.filter((p) => pending.includes(p.name));
    if (left.length === 0) await memory.clearScaledDown(remembered.cluster);
    else if (left.length !== remembered.pools.length || remembered.restoreRequestedAt === null) {
      await memory.saveScaledDown({ ...remembered, pools: left, restoreRequestedAt: remembered.restoreRequestedAt ?? (opts.now ?? new Date()).toISOString() });
    }
  } else if (memory && pending.length) {
    // Nothing remembered (fixed pools at zero get the fallback size): remember what is left to do.
    await memory.saveScaledDown({
      schemaVersion: 2,
      cluster,
      pools: c.nodePools
        .filter((p) => pending.includes(p.name))
        .map((p) => ({
          name: p.name,
          zones: [...p.zones],
          nodesPerZone: opts.fallbackSize ?? 1,
          nodeCount: (opts.fallbackSize ?? 1) * Math.max(1, p.zones.length),
          autoscaling: null,
        })),
      runId: 'deploy',
      at: (opts.now ?? new Date()).toISOString(),
      restoreRequestedAt: (opts.now ?? new Date()).toISOString(),
    });
  }
  return { ok: true, restored, pending };
}

/**
 * Reconciler step: for every cluster a deploy asked back whose pools could not all be started
 * (another GKE operation was running), try the rest again. A cluster that is gone is forgotten.
 */
export async function continueCapacityRestores(
  directory: ClusterCapacity,
  memory: ScaledDownPools,
  clock: Clock,
  log: Logger,
): Promise<{ clusters: number; restored: number; pending: number; failed: number }> {
  const out = { clusters: 0, restored: 0, pending: 0, failed: 0 };
  for (const rec of await memory.listRestoring()) {
    out.clusters++;
    try {
      const r = await ensureClusterCapacity(rec.cluster, directory, memory, { now: clock.now(), onlyRemembered: true });
      if (!r.ok) {
        await memory.clearScaledDown(rec.cluster);
        log.warn(`cluster ${rec.cluster} is gone; its node pools are no longer brought back`, { reason: r.reason });
        continue;
      }
      out.restored += r.restored.length;
      out.pending += r.pending.length;
      if (r.restored.length) log.info(`node pools of ${rec.cluster} brought back`, { restored: r.restored, pending: r.pending });
    } catch (e) {
      out.failed++;
      log.warn(`could not bring the node pools of ${rec.cluster} back yet`, { error: asFerryError(e) });
    }
  }
  return out;
}

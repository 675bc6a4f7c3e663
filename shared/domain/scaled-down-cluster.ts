/**
 * Bringing a cluster back after teardown scaled it to zero, pure: the remembered node pool sizes
 * (`scaledDownClusters/{clusterKey}`) and the restore plan a deploy carries out.
 */
import { z } from 'zod';
import { sameCluster } from './names.ts';
import type { InventoryNodePool } from './teardown-inventory.ts';

const IsoTime = z.iso.datetime();

// Bringing a cluster back (deploy after scale-to-zero)

/**
 * Firestore `scaledDownClusters/{id}`: what each node pool looked like before teardown scaled it to
 * zero, so a later deploy brings back the same size (fixed pools) or autoscaler minimum (autoscaled
 * pools) — not a guess. Written just before the first resize; pools are removed as they come back,
 * and the record with them.
 */
export const ScaledDownCluster = z.object({
  schemaVersion: z.literal(1),
  cluster: z.string().min(1),
  pools: z.array(
    z.object({
      name: z.string().min(1),
      nodeCount: z.int().min(0),
      autoscaling: z.object({ minNodeCount: z.int().min(0), maxNodeCount: z.int().min(0) }).nullable(),
    }),
  ),
  runId: z.string(),
  at: IsoTime,
  /**
   * Set when a deploy asked for the pools back and some could not be started yet (GKE runs one
   * operation per cluster at a time): the reconciler keeps bringing them back until none is left.
   */
  restoreRequestedAt: IsoTime.nullable(),
});
export type ScaledDownCluster = z.infer<typeof ScaledDownCluster>;

/**
 * The scaled-down record for `cluster` among `records`: the one with the same name, else the only
 * one that names the same cluster with the other spelling of its project (GKE accepts a project's
 * id or its number; teardown records the spelling GKE listing used, a deploy target may use the
 * other). Two candidates are ambiguous (two projects with a cluster of that name in that location):
 * none is returned rather than another project's sizes.
 */
export function findScaledDown(records: readonly ScaledDownCluster[], cluster: string): ScaledDownCluster | undefined {
  const exact = records.find((r) => r.cluster === cluster);
  if (exact) return exact;
  const same = records.filter((r) => sameCluster(r.cluster, cluster));
  return same.length === 1 ? same[0] : undefined;
}

/**
 * The record to keep before scaling `poolNames` of a cluster to zero. A pool already at zero keeps
 * what an earlier (interrupted) run remembered, so a retry never overwrites the real size with 0.
 * A restore a deploy asked for is over once teardown scales the cluster down again.
 */
export function rememberPools(
  prev: ScaledDownCluster | undefined,
  cluster: string,
  current: readonly InventoryNodePool[],
  poolNames: readonly string[],
  ctx: { runId: string; now: Date },
): ScaledDownCluster {
  const byName = new Map((prev?.pools ?? []).map((p) => [p.name, p]));
  for (const name of poolNames) {
    const p = current.find((x) => x.name === name);
    if (!p) continue;
    const up = p.nodeCount > 0 || (p.autoscaling?.minNodeCount ?? 0) > 0;
    if (up || !byName.has(name)) byName.set(name, { name, nodeCount: p.nodeCount, autoscaling: p.autoscaling ? { ...p.autoscaling } : null });
  }
  return {
    schemaVersion: 1,
    cluster,
    pools: [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    runId: ctx.runId,
    at: ctx.now.toISOString(),
    restoreRequestedAt: null,
  };
}

export type PoolRestore =
  | { kind: 'resize'; pool: string; nodeCount: number; source: 'remembered' | 'default' }
  | { kind: 'autoscaling'; pool: string; minNodeCount: number; maxNodeCount: number };

/**
 * What to do before applying to a cluster teardown may have scaled to zero, pure:
 * - a pool teardown remembered gets back its autoscaler minimum (autoscaled) or its size (fixed),
 *   whatever size is reported for it now: GKE reports no size per pool (the directory reads the
 *   instance groups, and guesses when it cannot), and the record exists because teardown took that
 *   pool down;
 * - a fixed-size pool at zero with nothing remembered gets `fallbackSize` nodes (pods could never
 *   run on it otherwise);
 * - an autoscaled pool with nothing remembered is left to the autoscaler (pending pods grow it).
 * Other pools (autoscaled ones at their minimum, fixed ones not at zero) get nothing.
 */
export function restorePlan(current: readonly InventoryNodePool[], remembered: ScaledDownCluster | undefined, fallbackSize = 1): PoolRestore[] {
  const out: PoolRestore[] = [];
  for (const p of current) {
    const r = remembered?.pools.find((x) => x.name === p.name);
    if (p.autoscaling) {
      const min = r?.autoscaling?.minNodeCount ?? 0;
      if (min > p.autoscaling.minNodeCount) {
        out.push({ kind: 'autoscaling', pool: p.name, minNodeCount: min, maxNodeCount: Math.max(min, p.autoscaling.maxNodeCount) });
      }
      continue;
    }
    if (r && r.autoscaling === null && r.nodeCount > 0) out.push({ kind: 'resize', pool: p.name, nodeCount: r.nodeCount, source: 'remembered' });
    else if (r?.autoscaling && r.autoscaling.minNodeCount > 0)
      out.push({ kind: 'resize', pool: p.name, nodeCount: r.autoscaling.minNodeCount, source: 'remembered' });
    else if (p.nodeCount === 0) out.push({ kind: 'resize', pool: p.name, nodeCount: fallbackSize, source: 'default' });
  }
  return out;
}

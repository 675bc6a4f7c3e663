/**
 * Bringing a cluster back after teardown scaled it to zero, pure: the remembered node pool sizes
 * (`scaledDownClusters/{clusterKey}`) and the restore plan a deploy carries out.
 */
import { z } from 'zod';
import { sameCluster } from './names.ts';
import { PoolAutoscaling, type InventoryNodePool } from './teardown-inventory.ts';

const IsoTime = z.iso.datetime();

// Bringing a cluster back (deploy after scale-to-zero)

const RememberedPool = z.object({
  name: z.string().min(1),
  /** The pool's zones when it was scaled down. */
  zones: z.array(z.string().min(1)),
  /**
   * Nodes per zone, what `setNodePoolSize` brings back (GKE sizes are per zone, docs/UPSTREAM.md
   * G7). null only in records written by schema version 1 (see `nodeCount`).
   */
  nodesPerZone: z.int().min(0).nullable(),
  /**
   * Nodes in the whole pool (shown to the user). In a version-1 record this is all there is: the
   * sum of the pool's instance groups' targetSize, zones not recorded (docs/UPSTREAM.md M1).
   */
  nodeCount: z.int().min(0),
  autoscaling: PoolAutoscaling.nullable(),
});
export type RememberedPool = z.infer<typeof RememberedPool>;

const Record2 = z.object({
  schemaVersion: z.literal(2),
  cluster: z.string().min(1),
  pools: z.array(RememberedPool),
  runId: z.string(),
  at: IsoTime,
  /**
   * Set when a deploy asked for the pools back and some could not be started yet (GKE runs one
   * operation per cluster at a time): the reconciler keeps bringing them back until none is left.
   */
  restoreRequestedAt: IsoTime.nullable(),
});

/**
 * Schema version 1 (before #16): `nodeCount` was the sum of `targetSize` over the pool's instance
 * groups (one per zone, both colours during a blue-green upgrade) and autoscaling held
 * `min/max_node_count` only (per zone; pools with total limits were read as 0/0).
 */
const Record1 = z.object({
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
  restoreRequestedAt: IsoTime.nullable(),
});
export type ScaledDownClusterV1 = z.infer<typeof Record1>;

/**
 * A version-1 record read as version 2, explicitly: zones unknown, `nodesPerZone` null (restorePlan
 * divides the total by the pool's zones then, as terraform-provider-google divides by the number
 * of instance groups), autoscaling limits per zone with no location policy (what version 1 read).
 */
export function upgradeScaledDown(r: ScaledDownClusterV1): ScaledDownCluster {
  return {
    ...r,
    schemaVersion: 2,
    pools: r.pools.map((p) => ({
      name: p.name,
      zones: [],
      nodesPerZone: null,
      nodeCount: p.nodeCount,
      autoscaling: p.autoscaling ? { limits: 'per-zone', ...p.autoscaling, locationPolicy: null } : null,
    })),
  };
}

/**
 * Firestore `scaledDownClusters/{id}`: what each node pool looked like before teardown scaled it to
 * zero — zones, nodes per zone and autoscaler limits — so a later deploy brings back the same size
 * (fixed pools) or autoscaler minimum (autoscaled pools), not a guess. Written just before the first
 * resize; pools are removed as they come back, and the record with them. Version-1 records are
 * read through `upgradeScaledDown` (and `ferry migrate` rewrites them).
 */
export const ScaledDownCluster = z.union([Record2, Record1.transform(upgradeScaledDown)]);
export type ScaledDownCluster = z.infer<typeof Record2>;
/** Only the current version (what is written). */
export const ScaledDownClusterV2 = Record2;

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
    if (up || !byName.has(name))
      byName.set(name, {
        name,
        zones: [...p.zones],
        nodesPerZone: p.nodesPerZone,
        nodeCount: p.nodeCount,
        autoscaling: p.autoscaling ? { ...p.autoscaling } : null,
      });
  }
  return {
    schemaVersion: 2,
    cluster,
    pools: [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    runId: ctx.runId,
    at: ctx.now.toISOString(),
    restoreRequestedAt: null,
  };
}

export type PoolRestore =
  | { kind: 'resize'; pool: string; nodesPerZone: number; zones: string[]; source: 'remembered' | 'default' }
  | { kind: 'autoscaling'; pool: string; zones: string[]; autoscaling: PoolAutoscaling };

/**
 * Nodes per zone to bring a fixed pool back to: the remembered per-zone size, or — for a version-1
 * record, which holds the instance groups' total only — that total divided by the pool's zones
 * now (one instance group per zone, G8), rounded up so a pool with nodes gets at least one per zone.
 */
export function rememberedPerZone(r: RememberedPool, zonesNow: readonly string[]): number {
  if (r.nodesPerZone !== null) return r.nodesPerZone;
  return Math.ceil(r.nodeCount / Math.max(1, zonesNow.length));
}

/** An autoscaler minimum per zone (for a pool that is fixed now): total limits spread over the zones. */
const minPerZone = (a: PoolAutoscaling, zones: readonly string[]): number =>
  a.limits === 'per-zone' ? a.minNodeCount : Math.ceil(a.minNodeCount / Math.max(1, zones.length));

/**
 * What to do before applying to a cluster teardown may have scaled to zero, pure:
 * - a pool teardown remembered gets back its autoscaler minimum (autoscaled) or its size per zone
 *   (fixed), whatever size is reported for it now: GKE reports no size per pool (the directory reads
 *   the instance groups, and guesses when it cannot), and the record exists because teardown took
 *   that pool down. The minimum goes back in the limits mode the pool uses now (per zone or total,
 *   never switched), with its current maximum and location policy — what teardown left unchanged;
 *   a pool whose mode changed since is left alone (someone reconfigured it);
 * - a fixed-size pool at zero with nothing remembered gets `fallbackSize` nodes per zone (pods
 *   could never run on it otherwise);
 * - an autoscaled pool with nothing remembered is left to the autoscaler (pending pods grow it).
 * Other pools (autoscaled ones at their minimum, fixed ones not at zero) get nothing.
 */
export function restorePlan(current: readonly InventoryNodePool[], remembered: ScaledDownCluster | undefined, fallbackSize = 1): PoolRestore[] {
  const out: PoolRestore[] = [];
  for (const p of current) {
    const r = remembered?.pools.find((x) => x.name === p.name);
    const zones = [...p.zones];
    if (p.autoscaling) {
      const was = r?.autoscaling;
      if (was && was.limits === p.autoscaling.limits && was.minNodeCount > p.autoscaling.minNodeCount) {
        const a = p.autoscaling;
        out.push({
          kind: 'autoscaling',
          pool: p.name,
          zones,
          autoscaling: { ...a, minNodeCount: was.minNodeCount, maxNodeCount: Math.max(was.minNodeCount, a.maxNodeCount) },
        });
      }
      continue;
    }
    const perZone = r ? (r.autoscaling === null ? rememberedPerZone(r, p.zones) : minPerZone(r.autoscaling, p.zones)) : 0;
    if (perZone > 0) out.push({ kind: 'resize', pool: p.name, nodesPerZone: perZone, zones, source: 'remembered' });
    else if (p.nodeCount === 0) out.push({ kind: 'resize', pool: p.name, nodesPerZone: fallbackSize, zones, source: 'default' });
  }
  return out;
}

/**
 * What teardown decides from, pure: the policy (idle TTLs, modes, limits, the protect label) and
 * the inventory of caches, ferry targets, managed clusters and in-flight rollouts it plans over.
 */
import { z } from 'zod';
import type { CacheState } from './cache.ts';

export const MANAGED_LABEL_KEY = 'managed-by';
export const MANAGED_LABEL_VALUE = 'ferry';
export const DEFAULT_PROTECT_LABEL = 'ferry-protect';

export const CLUSTER_TEARDOWN_MODES = ['scale-to-zero', 'delete'] as const;
export type ClusterTeardownMode = (typeof CLUSTER_TEARDOWN_MODES)[number];

export const TeardownPolicy = z.object({
  /** Idle time after which a resource of each kind is torn down. */
  idleTtlSeconds: z.object({
    cache: z.int().min(0),
    deployment: z.int().min(0),
    cluster: z.int().min(0),
  }),
  /** A resource carrying this label (any value but `false`) is never touched. */
  protectLabel: z.string().min(1),
  /** Plan only. */
  dryRun: z.boolean(),
  /** At most this many actions per run (the rest wait for the next run). */
  maxActions: z.int().min(0),
  /** What tearing down a cluster means. */
  clusterMode: z.enum(CLUSTER_TEARDOWN_MODES),
  /** Also scale idle ferry Deployments to zero (off by default). */
  scaleDeployments: z.boolean(),
});
export type TeardownPolicy = z.infer<typeof TeardownPolicy>;

export const DEFAULT_TEARDOWN_POLICY: TeardownPolicy = {
  idleTtlSeconds: { cache: 6 * 3600, deployment: 24 * 3600, cluster: 24 * 3600 },
  protectLabel: DEFAULT_PROTECT_LABEL,
  dryRun: false,
  maxActions: 10,
  clusterMode: 'scale-to-zero',
  scaleDeployments: false,
};

// ---------------------------------------------------------------------------------------------
// Inventory

export interface CacheRef {
  bucket: string;
  zone: string;
}

export interface InventoryCache extends CacheRef {
  /** Live state (lowercase); `absent` when the API no longer has it. */
  state: CacheState;
  /** ferry created it (its record says `createdBy.by === 'ferry'`). */
  managed: boolean;
  labels: Record<string, string>;
  /** From the cache record (rollouts and running Deployments touch it). */
  lastUsedAt: string | null;
  createdAt: string | null;
  /** Changes whenever the cache changes (state, update time): a re-read must see the same value. */
  version: string;
}

export interface InventoryTarget {
  key: string;
  cluster: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Replicas of the live Deployment (spec); 0 when scaled to zero or absent. */
  replicas: number;
  /** Last time the target was seen serving (replicas > 0 and, when readable, requests counted). */
  lastActiveAt: string | null;
  /**
   * Last change of its rollout state (a deploy, a rollback): dates a target that was never observed
   * serving. null when ferry holds no rollout state for it.
   */
  lastChangedAt: string | null;
  /** Caches its current Deployment reads through. */
  caches: CacheRef[];
  version: string;
}

/**
 * A node pool's autoscaler limits, in the mode the pool uses (cluster_service.proto
 * `NodePoolAutoscaling`, docs/UPSTREAM.md G7): `per-zone` — `min/max_node_count`, "for one
 * location"; `total` — `total_min/max_node_count`, for the whole pool. The two modes exclude each
 * other, so limits are always written back in the mode they were read in. `locationPolicy` is the
 * pool's `location_policy` (null: unspecified), sent back unchanged (SetNodePoolAutoscaling replaces
 * the whole autoscaling config).
 */
export const AUTOSCALING_LIMITS = ['per-zone', 'total'] as const;
export const LOCATION_POLICIES = ['BALANCED', 'ANY'] as const;
export const PoolAutoscaling = z.object({
  limits: z.enum(AUTOSCALING_LIMITS),
  minNodeCount: z.int().min(0),
  maxNodeCount: z.int().min(0),
  locationPolicy: z.enum(LOCATION_POLICIES).nullable(),
});
export type PoolAutoscaling = z.infer<typeof PoolAutoscaling>;

export interface InventoryNodePool {
  name: string;
  /** The zones of its nodes (`NodePool.locations`, else the cluster's), sorted. */
  zones: string[];
  /**
   * Nodes in one zone: what `setNodePoolSize` sets in every zone (G7). One instance group per zone
   * (G8); when zones differ (an autoscaled pool, a blue-green upgrade), the largest zone's count.
   */
  nodesPerZone: number;
  /** Nodes in the whole pool (every instance group's targetSize added up). */
  nodeCount: number;
  /** Autoscaler limits when autoscaling is on. */
  autoscaling: PoolAutoscaling | null;
}

/** `1 per zone × 3 zones (us-central1-a, us-central1-b, us-central1-c) = 3 nodes`, for messages. */
export function describePoolSize(p: Pick<InventoryNodePool, 'zones' | 'nodesPerZone' | 'nodeCount' | 'autoscaling'>): string {
  const zones = p.zones.length ? ` × ${p.zones.length} zone${p.zones.length === 1 ? '' : 's'} (${p.zones.join(', ')})` : '';
  const a = p.autoscaling;
  const auto = a
    ? `, autoscaling ${a.minNodeCount}–${a.maxNodeCount} ${a.limits === 'total' ? 'in total' : 'per zone'}${a.locationPolicy ? ` (${a.locationPolicy})` : ''}`
    : '';
  return `${p.nodesPerZone} per zone${zones} = ${p.nodeCount} node${p.nodeCount === 1 ? '' : 's'}${auto}`;
}

export const CLUSTER_STATUSES = ['PROVISIONING', 'RUNNING', 'RECONCILING', 'STOPPING', 'ERROR', 'DEGRADED', 'UNKNOWN'] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

export interface InventoryCluster {
  /** GKE resource name `projects/P/locations/L/clusters/C` (the target's `cluster`). */
  name: string;
  labels: Record<string, string>;
  status: ClusterStatus;
  nodePools: InventoryNodePool[];
  createdAt: string | null;
  /** Label fingerprint + status + pool sizes: a re-read must see the same value. */
  version: string;
}

export interface InventoryRollout {
  id: string;
  targetKey: string;
  cluster: string;
  caches: CacheRef[];
}

export interface TeardownInventory {
  caches: InventoryCache[];
  targets: InventoryTarget[];
  clusters: InventoryCluster[];
  /** Rollouts not in a terminal phase. */
  inFlight: InventoryRollout[];
}

/**
 * The GKE clusters ferry may tear down or bring back (google.container.v1.ClusterManager): list them with their labels, label
 * fingerprint, status and node pools; resize a node pool; delete a cluster. GKE answers resize and
 * delete with its own Operation (not an LRO): poll `getOperation` until DONE and check `error`.
 *
 * Errors are FerryErrors:
 *
 * | code                 | gRPC status        | meaning                                   |
 * |----------------------|--------------------|-------------------------------------------|
 * | CLUSTER_NOT_FOUND    | NOT_FOUND (5)      | no such cluster, node pool or operation   |
 * | CLUSTER_CONFLICT     | FAILED_PRECONDITION (9), ABORTED (10) | another operation is running on it |
 * | CLUSTER_FORBIDDEN    | PERMISSION_DENIED (7), UNAUTHENTICATED (16) | IAM              |
 * | CLUSTER_INVALID      | INVALID_ARGUMENT (3)| e.g. a negative node count               |
 * | CLUSTER_UNAVAILABLE (retryable) | UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL | try later |
 *
 * Adapter: shared/adapters/cluster-directory-gke.ts (`@google-cloud/container` ClusterManagerClient),
 * against GKE or — FERRY_GKE_API_ENDPOINT / FERRY_COMPUTE_API_ENDPOINT — the local GKE REST server
 * infra/local/gke-server.ts (there is no GKE emulator). Held to test/contract/cluster-directory.contract.ts
 * against both; shared/composition/cluster-directory.ts builds it from Settings.
 */
import type { ClusterStatus, InventoryNodePool, PoolAutoscaling } from '../domain/teardown-inventory.ts';
import type { ClusterErrorCode } from '../domain/reasons/errors.ts';

export const CLUSTER_DIRECTORY_ERROR_CODES = [
  'CLUSTER_NOT_FOUND',
  'CLUSTER_CONFLICT',
  'CLUSTER_FORBIDDEN',
  'CLUSTER_INVALID',
  'CLUSTER_UNAVAILABLE',
] as const satisfies readonly ClusterErrorCode[];
export type ClusterDirectoryErrorCode = (typeof CLUSTER_DIRECTORY_ERROR_CODES)[number];

export interface ManagedCluster {
  /** `projects/P/locations/L/clusters/C`. */
  name: string;
  location: string;
  labels: Record<string, string>;
  labelFingerprint: string;
  status: ClusterStatus;
  nodePools: InventoryNodePool[];
  /** RFC 3339. */
  createTime: string | null;
}

export const GKE_OPERATION_STATUSES = ['PENDING', 'RUNNING', 'DONE', 'ABORTING', 'UNKNOWN'] as const;
export type GkeOperationStatus = (typeof GKE_OPERATION_STATUSES)[number];

export interface GkeOperation {
  /** Full name `projects/P/locations/L/operations/OP` (what getOperation takes). */
  name: string;
  kind: 'set-node-pool-size' | 'delete-cluster' | 'other';
  /** The cluster or node pool it acts on. */
  target: string;
  status: GkeOperationStatus;
  /** Set when DONE and failed. */
  error: { code: string; message: string } | null;
}

export interface ClusterDirectory {
  /** Clusters in the project (all locations), optionally only those carrying `label=value`. */
  list(filter?: { label?: { key: string; value: string } }): Promise<ManagedCluster[]>;
  /** One cluster; null when it does not exist. */
  get(name: string): Promise<ManagedCluster | null>;
  /**
   * Resize `…/clusters/C/nodePools/NP` to `nodesPerZone` nodes in each of its zones
   * (`SetNodePoolSize.node_count` is per zone, docs/UPSTREAM.md G7; the autoscaler's minimum is
   * not changed).
   */
  setNodePoolSize(nodePool: string, nodesPerZone: number): Promise<GkeOperation>;
  /**
   * Set a node pool's autoscaler limits, in the mode given (per zone or total) with its location
   * policy: GKE replaces the whole autoscaling config (`min = 0` so it can shrink to nothing).
   */
  setNodePoolAutoscaling(nodePool: string, autoscaling: PoolAutoscaling): Promise<GkeOperation>;
  deleteCluster(name: string): Promise<GkeOperation>;
  getOperation(name: string): Promise<GkeOperation>;
}

/**
 * What a deploy needs to bring node pools back after teardown: read one cluster, resize a pool, set
 * its autoscaler bounds — no listing, no deleting (a narrower IAM role, `gke_capacity`).
 */
export type ClusterCapacity = Pick<ClusterDirectory, 'get' | 'setNodePoolSize' | 'setNodePoolAutoscaling'>;

/** `…/clusters/C` + pool → `…/clusters/C/nodePools/NP`. */
export const nodePoolName = (cluster: string, pool: string): string => `${cluster}/nodePools/${pool}`;
/** A version string for re-reads: fingerprint, status and pool sizes. */
export function clusterVersion(c: ManagedCluster): string {
  const pools = [...c.nodePools]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map(
      (p) =>
        `${p.name}=${p.nodesPerZone}x${p.zones.join('+')}=${p.nodeCount}${p.autoscaling ? `[${p.autoscaling.limits}:${p.autoscaling.minNodeCount}-${p.autoscaling.maxNodeCount}:${p.autoscaling.locationPolicy ?? ''}]` : ''}`,
    );
  return `${c.labelFingerprint}|${c.status}|${pools.join(',')}`;
}

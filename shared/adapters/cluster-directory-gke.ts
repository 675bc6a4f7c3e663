/**
 * ClusterDirectory on GKE (`@google-cloud/container` v1 ClusterManagerClient; the API is its
 * build/protos/google/container/v1/cluster_service.proto, see docs/UPSTREAM.md "GKE"). Resize
 * and delete return a GKE Operation (not an LRO): `getOperation` polls it by its full name
 * `projects/P/locations/L/operations/OP`. Enums come as strings or numbers: both are mapped.
 *
 * GKE's API has no current size per node pool. A pool's nodes are its managed instance groups
 * (`instanceGroupUrls`, one per zone), so its size is the sum of their `targetSize`, read from the
 * Compute Engine API (`compute.instanceGroupManagers.get`). When that cannot be read, the size is
 * a guess (see `nodePoolSize`); bringing pools back therefore relies on what teardown remembered,
 * never on the size reported now.
 */
import { FerryError } from '../domain/errors.ts';
import { CLUSTER_STATUSES, type ClusterStatus, type InventoryNodePool } from '../domain/teardown-inventory.ts';
import type { ClusterDirectory, ClusterDirectoryErrorCode, GkeOperation, GkeOperationStatus, ManagedCluster } from '../ports/cluster-directory.ts';

type Client = InstanceType<(typeof import('@google-cloud/container'))['v1']['ClusterManagerClient']>;

const CLUSTER_STATUS_BY_NUMBER = ['UNKNOWN', 'PROVISIONING', 'RUNNING', 'RECONCILING', 'STOPPING', 'ERROR', 'DEGRADED'] as const;
const OP_STATUS_BY_NUMBER = ['UNKNOWN', 'PENDING', 'RUNNING', 'DONE', 'ABORTING'] as const;

export function clusterStatusOf(s: unknown): ClusterStatus {
  if (typeof s === 'number') return CLUSTER_STATUS_BY_NUMBER[s] ?? 'UNKNOWN';
  const u = String(s ?? '').toUpperCase();
  return (CLUSTER_STATUSES as readonly string[]).includes(u) ? (u as ClusterStatus) : 'UNKNOWN';
}
export function operationStatusOf(s: unknown): GkeOperationStatus {
  if (typeof s === 'number') return OP_STATUS_BY_NUMBER[s] ?? 'UNKNOWN';
  const u = String(s ?? '').toUpperCase();
  return (['PENDING', 'RUNNING', 'DONE', 'ABORTING'] as const).find((x) => x === u) ?? 'UNKNOWN';
}

export function gkeError(e: unknown, what: string): FerryError {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  const map: Record<number, ClusterDirectoryErrorCode> = {
    3: 'CLUSTER_INVALID',
    5: 'CLUSTER_NOT_FOUND',
    7: 'CLUSTER_FORBIDDEN',
    16: 'CLUSTER_FORBIDDEN',
    9: 'CLUSTER_CONFLICT',
    10: 'CLUSTER_CONFLICT',
  };
  const c: ClusterDirectoryErrorCode = (typeof code === 'number' ? map[code] : undefined) ?? 'CLUSTER_UNAVAILABLE';
  return new FerryError(c, `GKE ${what}: ${message}`, {
    cause: e,
    retryable: c === 'CLUSTER_UNAVAILABLE',
    ...(c === 'CLUSTER_FORBIDDEN'
      ? {
          hint: 'The teardown service account needs the ferry GKE teardown role (container.clusters.list/get/update/delete, container.operations.get, compute.instanceGroupManagers.get).',
        }
      : {}),
  });
}

interface GkeOp {
  name?: string | null;
  location?: string | null;
  zone?: string | null;
  operationType?: unknown;
  status?: unknown;
  targetLink?: string | null;
  selfLink?: string | null;
  statusMessage?: string | null;
  error?: { code?: number | null; message?: string | null } | null;
}

/**
 * The canonical Compute Engine URL of an instance group manager named in a node pool's
 * `instanceGroupUrls`, or null for anything else (only such URLs are ever requested).
 */
export function instanceGroupManagerUrl(url: string): string | null {
  const m =
    /^https:\/\/(?:www|compute)\.googleapis\.com\/compute\/v1\/projects\/([a-z0-9][a-z0-9.:-]{0,62})\/zones\/([a-z]+-[a-z]+[0-9]+-[a-z])\/instanceGroupManagers\/([a-z][-a-z0-9]{0,62})$/.exec(
      url,
    );
  return m ? `https://compute.googleapis.com/compute/v1/projects/${m[1]}/zones/${m[2]}/instanceGroupManagers/${m[3]}` : null;
}

/**
 * A node pool's size: the instance groups' total when it could be read; otherwise a guess — 0 when
 * the cluster has no node at all, else the pool's initialNodeCount (at least 1), an upper guess, so
 * teardown may resize a pool to 0 again (harmless) but never skips one that has nodes.
 */
export function nodePoolSize(pool: { initialNodeCount?: number | null }, clusterNodeCount: number | null | undefined, groupsTotal: number | null): number {
  if (groupsTotal !== null) return groupsTotal;
  if (clusterNodeCount === 0) return 0;
  return Math.max(pool.initialNodeCount ?? 0, 1);
}

export interface GkeDirectoryOptions {
  /** Reads one instance group manager's targetSize (default: the Compute Engine API with ADC). */
  groupSize?: (url: string) => Promise<number>;
  /** A ClusterManagerClient (tests pass a stand-in); default: created on first use. */
  client?: Client;
}

export class GkeClusterDirectory implements ClusterDirectory {
  private client: Client | undefined;
  private readonly project: string;
  private readonly groupSize: (url: string) => Promise<number>;
  private auth: import('google-auth-library').GoogleAuth | undefined;
  constructor(project: string, opts: GkeDirectoryOptions = {}) {
    this.project = project;
    this.client = opts.client;
    this.groupSize = opts.groupSize ?? ((url) => this.readGroupSize(url));
  }

  /** compute.instanceGroupManagers.get → targetSize. */
  private async readGroupSize(url: string): Promise<number> {
    if (!this.auth) {
      const { GoogleAuth } = await import('google-auth-library');
      this.auth = new GoogleAuth({ scopes: 'https://www.googleapis.com/auth/cloud-platform' });
    }
    const http = await this.auth.getClient();
    const res = await http.request<{ targetSize?: unknown }>({ url, method: 'GET', timeout: 10_000 });
    const n = res.data.targetSize;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`no targetSize in ${url}`);
    return n;
  }

  /** Sum of the pool's instance groups' sizes; null when there are none or any cannot be read. */
  private async groupsTotal(urls: readonly string[] | null | undefined): Promise<number | null> {
    const canonical = (urls ?? []).map(instanceGroupManagerUrl);
    if (canonical.length === 0 || canonical.some((u) => u === null)) return null;
    try {
      const sizes = await Promise.all(canonical.map((u) => this.groupSize(u!)));
      return sizes.reduce((a, b) => a + b, 0);
    } catch {
      return null;
    }
  }

  private async gke(): Promise<Client> {
    if (!this.client) {
      const { v1 } = await import('@google-cloud/container');
      this.client = new v1.ClusterManagerClient();
    }
    return this.client;
  }
  async close(): Promise<void> {
    await this.client?.close().catch(() => undefined);
  }

  async list(filter?: { label?: { key: string; value: string } }): Promise<ManagedCluster[]> {
    const gke = await this.gke();
    try {
      const [res] = await gke.listClusters({ parent: `projects/${this.project}/locations/-` });
      const l = filter?.label;
      const views = await Promise.all((res.clusters ?? []).map((c) => this.view(c)));
      return views.filter((c) => !l || c.labels[l.key] === l.value).sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch (e) {
      throw gkeError(e, 'list clusters');
    }
  }

  async get(name: string): Promise<ManagedCluster | null> {
    const gke = await this.gke();
    try {
      const [c] = await gke.getCluster({ name });
      // Keep the caller's name: the cluster may live in another project than the one listed.
      return { ...(await this.view(c)), name };
    } catch (e) {
      if ((e as { code?: unknown }).code === 5) return null;
      throw gkeError(e, `get ${name}`);
    }
  }

  async setNodePoolSize(nodePool: string, nodeCount: number): Promise<GkeOperation> {
    const gke = await this.gke();
    try {
      const [op] = await gke.setNodePoolSize({ name: nodePool, nodeCount });
      return this.op(op as GkeOp, 'set-node-pool-size', nodePool);
    } catch (e) {
      throw gkeError(e, `resize ${nodePool}`);
    }
  }

  async setNodePoolAutoscaling(nodePool: string, bounds: { minNodeCount: number; maxNodeCount: number }): Promise<GkeOperation> {
    const gke = await this.gke();
    try {
      const [op] = await gke.setNodePoolAutoscaling({ name: nodePool, autoscaling: { enabled: true, ...bounds } });
      return this.op(op as GkeOp, 'other', nodePool);
    } catch (e) {
      throw gkeError(e, `set autoscaling of ${nodePool}`);
    }
  }

  async deleteCluster(name: string): Promise<GkeOperation> {
    const gke = await this.gke();
    try {
      const [op] = await gke.deleteCluster({ name });
      return this.op(op as GkeOp, 'delete-cluster', name);
    } catch (e) {
      throw gkeError(e, `delete ${name}`);
    }
  }

  async getOperation(name: string): Promise<GkeOperation> {
    const gke = await this.gke();
    try {
      const [op] = await gke.getOperation({ name });
      return this.op(op as GkeOp, 'other', '');
    } catch (e) {
      throw gkeError(e, `get operation ${name}`);
    }
  }

  private op(op: GkeOp, kind: GkeOperation['kind'], target: string): GkeOperation {
    const location = op.location || op.zone || '-';
    const short = op.name ?? '';
    // GetOperationRequest.name is projects/*/locations/*/operations/* (cluster_service.proto): the
    // operation lives in the project of the cluster it acts on, which may not be the directory's.
    const project = /^projects\/([^/]+)\//.exec(target)?.[1] ?? this.project;
    const name = short.startsWith('projects/') ? short : `projects/${project}/locations/${location}/operations/${short}`;
    const type = String(op.operationType ?? '');
    const k: GkeOperation['kind'] =
      kind !== 'other'
        ? kind
        : type === 'DELETE_CLUSTER' || op.operationType === 2
          ? 'delete-cluster'
          : // Operation.Type numbers from cluster_service.proto (@google-cloud/container 7.x,
            // build/protos/google/container/v1/cluster_service.proto): DELETE_CLUSTER = 2,
            // SET_NODE_POOL_SIZE = 14 (13 is the deprecated SET_MASTER_AUTH).
            type === 'SET_NODE_POOL_SIZE' || op.operationType === 14
            ? 'set-node-pool-size'
            : 'other';
    const err =
      op.error && (op.error.code || op.error.message)
        ? { code: String(op.error.code ?? 'UNKNOWN'), message: op.error.message ?? op.statusMessage ?? '' }
        : null;
    return { name, kind: k, target: target || op.targetLink || '', status: operationStatusOf(op.status), error: err };
  }

  private async view(c: {
    name?: string | null;
    location?: string | null;
    resourceLabels?: Record<string, string> | null;
    labelFingerprint?: string | null;
    status?: unknown;
    createTime?: string | null;
    currentNodeCount?: number | null;
    nodePools?: Array<{
      name?: string | null;
      initialNodeCount?: number | null;
      instanceGroupUrls?: string[] | null;
      autoscaling?: {
        enabled?: boolean | null;
        minNodeCount?: number | null;
        maxNodeCount?: number | null;
        totalMinNodeCount?: number | null;
        totalMaxNodeCount?: number | null;
      } | null;
    }> | null;
  }): Promise<ManagedCluster> {
    const location = c.location ?? '-';
    const totals = await Promise.all((c.nodePools ?? []).map((p) => this.groupsTotal(p.instanceGroupUrls)));
    const pools: InventoryNodePool[] = (c.nodePools ?? []).map((p, i) => ({
      name: p.name ?? '',
      nodeCount: nodePoolSize(p, c.currentNodeCount, totals[i] ?? null),
      autoscaling: p.autoscaling?.enabled
        ? {
            minNodeCount: p.autoscaling.minNodeCount ?? p.autoscaling.totalMinNodeCount ?? 0,
            maxNodeCount: p.autoscaling.maxNodeCount ?? p.autoscaling.totalMaxNodeCount ?? 0,
          }
        : null,
    }));
    return {
      name: `projects/${this.project}/locations/${location}/clusters/${c.name ?? ''}`,
      location,
      labels: { ...(c.resourceLabels ?? {}) },
      labelFingerprint: c.labelFingerprint ?? '',
      status: clusterStatusOf(c.status),
      nodePools: pools,
      createTime: c.createTime ?? null,
    };
  }
}

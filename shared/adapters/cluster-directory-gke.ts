/**
 * ClusterDirectory on GKE (`@google-cloud/container` v1 ClusterManagerClient; the API is its
 * build/protos/google/container/v1/cluster_service.proto, see docs/UPSTREAM.md "GKE"). Resize
 * and delete return a GKE Operation (not an LRO): `getOperation` polls it by its full name
 * `projects/P/locations/L/operations/OP`. Enums come as strings or numbers: both are mapped.
 *
 * GKE sizes are per zone (docs/UPSTREAM.md G7): `SetNodePoolSize.node_count` is applied in every
 * zone of the pool. GKE's API has no current size per node pool; a pool's nodes are its managed
 * instance groups (`instanceGroupUrls`, one per zone, G8), read from the Compute Engine API
 * (`compute.instanceGroupManagers.get` → `targetSize`). See `poolSize` for how per-zone sizes,
 * zones and the total come out of them. When they cannot be read, the size is a guess; bringing
 * pools back therefore relies on what teardown remembered, never on the size reported now.
 *
 * Endpoints: `apiEndpoint` / `computeEndpoint` (`http://host:port`, FERRY_GKE_API_ENDPOINT and
 * FERRY_COMPUTE_API_ENDPOINT) point the same ClusterManagerClient, in its REST transport
 * (`fallback: true`: HTTP/1.1 + JSON, google-gax fallbackRest.js), and the Compute reads at a local
 * server with no credentials (google-auth-library PassThroughClient), as STORAGE_EMULATOR_HOST does
 * for GCS. infra/local/gke-server.ts is that server.
 */
import { FerryError } from '../domain/errors.ts';
import { CLUSTER_STATUSES, type ClusterStatus, type InventoryNodePool, type PoolAutoscaling } from '../domain/teardown-inventory.ts';
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

/** The zone of a canonical instance group manager URL. */
const zoneOfGroup = (url: string): string => /\/zones\/([^/]+)\//.exec(url)?.[1] ?? '';

export interface PoolSize {
  zones: string[];
  nodesPerZone: number;
  nodeCount: number;
}

/**
 * A node pool's size from its instance groups' sizes (`groups`: zone and targetSize of each, null
 * when they could not be read) and its zones (`zones`: NodePool.locations, else the cluster's, G9):
 * - nodes per zone: per zone, the largest group's targetSize; then the largest zone. One group per
 *   zone normally (G8). During a blue-green upgrade a zone holds a blue and a green group
 *   (`instance_group_urls` lists both): terraform-provider-google divides the groups' total by
 *   their number (`flattenNodePool`, "They should all have the same size"), which halves the size
 *   while the green group is still empty; the largest group is the pool's size per zone then.
 *   Never the sum: a sum, sent back through setNodePoolSize, multiplies the pool by its zones (M1);
 * - total: every group's targetSize added up (the nodes that exist, both colours included);
 * - zones: the pool's, else the groups' zones.
 * Without readable groups it is a guess: 0 when the cluster has no node at all, else the pool's
 * initialNodeCount per zone (at least 1; terraform `initial_node_count` is per zone in multi-zone
 * pools), an upper guess, so teardown may resize a pool to 0 again (harmless) but never skips one
 * that has nodes.
 */
export function poolSize(
  pool: { initialNodeCount?: number | null },
  zones: readonly string[],
  clusterNodeCount: number | null | undefined,
  groups: ReadonlyArray<{ zone: string; targetSize: number }> | null,
): PoolSize {
  const z = [...new Set(zones.length ? zones : (groups ?? []).map((g) => g.zone))].filter(Boolean).sort();
  if (groups !== null) {
    const perZone = new Map<string, number>();
    for (const g of groups) perZone.set(g.zone, Math.max(perZone.get(g.zone) ?? 0, g.targetSize));
    return { zones: z, nodesPerZone: Math.max(0, ...perZone.values()), nodeCount: groups.reduce((a, g) => a + g.targetSize, 0) };
  }
  const per = clusterNodeCount === 0 ? 0 : Math.max(pool.initialNodeCount ?? 0, 1);
  return { zones: z, nodesPerZone: per, nodeCount: per * Math.max(1, z.length) };
}

/** The proto's `NodePoolAutoscaling` as the client returns it (gRPC: unset int32 = 0; REST: absent). */
export interface AutoscalingWire {
  enabled?: boolean | null;
  minNodeCount?: number | null;
  maxNodeCount?: number | null;
  totalMinNodeCount?: number | null;
  totalMaxNodeCount?: number | null;
  locationPolicy?: unknown;
}

/**
 * Which limits a pool uses (cluster_service.proto `NodePoolAutoscaling` #L5994-6037: the
 * `total_*_node_count` fields "are mutually exclusive with the *_node_count fields"): total when
 * either total field is non-zero, else per zone. An unset int32 reads as 0 over gRPC (G6) and is
 * absent over REST, so `??` cannot tell them apart (M2): both read as 0 here.
 */
export function autoscalingOf(a: AutoscalingWire | null | undefined): PoolAutoscaling | null {
  if (!a?.enabled) return null;
  const n = (x: number | null | undefined): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  const total = n(a.totalMinNodeCount) > 0 || n(a.totalMaxNodeCount) > 0;
  // LocationPolicy: LOCATION_POLICY_UNSPECIFIED = 0, BALANCED = 1, ANY = 2 (#L5997-6007).
  const p = a.locationPolicy;
  const locationPolicy = p === 'BALANCED' || p === 1 ? 'BALANCED' : p === 'ANY' || p === 2 ? 'ANY' : null;
  return total
    ? { limits: 'total', minNodeCount: n(a.totalMinNodeCount), maxNodeCount: n(a.totalMaxNodeCount), locationPolicy }
    : { limits: 'per-zone', minNodeCount: n(a.minNodeCount), maxNodeCount: n(a.maxNodeCount), locationPolicy };
}

/** A PoolAutoscaling as the NodePoolAutoscaling to send: only the fields of its mode (never both). */
export function autoscalingWire(a: PoolAutoscaling): {
  enabled: true;
  minNodeCount?: number;
  maxNodeCount?: number;
  totalMinNodeCount?: number;
  totalMaxNodeCount?: number;
  locationPolicy?: 'BALANCED' | 'ANY';
} {
  return {
    enabled: true,
    ...(a.limits === 'total'
      ? { totalMinNodeCount: a.minNodeCount, totalMaxNodeCount: a.maxNodeCount }
      : { minNodeCount: a.minNodeCount, maxNodeCount: a.maxNodeCount }),
    ...(a.locationPolicy ? { locationPolicy: a.locationPolicy } : {}),
  };
}

export interface GkeDirectoryOptions {
  /** Reads one instance group manager's targetSize (default: the Compute Engine API with ADC, or `computeEndpoint`). */
  groupSize?: (url: string) => Promise<number>;
  /** A ClusterManagerClient (tests pass a stand-in); default: created on first use. */
  client?: Client;
  /** `http://host:port` of a GKE API server (FERRY_GKE_API_ENDPOINT): REST transport, no credentials. */
  apiEndpoint?: string | undefined;
  /** `http://host:port` of a Compute Engine API server (FERRY_COMPUTE_API_ENDPOINT): no credentials. */
  computeEndpoint?: string | undefined;
}

/** `http://host:port` → its parts; anything else is refused (the settings parser checks it first). */
export function parseEndpoint(url: string): { protocol: 'http' | 'https'; host: string; port: number } {
  const u = new URL(url);
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname.replace(/\/$/, '') !== '' || u.search)
    throw new FerryError('CLUSTER_INVALID', `not an API endpoint (http://host:port): ${url}`);
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  return { protocol, host: u.hostname, port: u.port ? Number(u.port) : protocol === 'http' ? 80 : 443 };
}

export class GkeClusterDirectory implements ClusterDirectory {
  private client: Client | undefined;
  private readonly project: string;
  private readonly groupSize: (url: string) => Promise<number>;
  private readonly apiEndpoint: string | undefined;
  private readonly computeEndpoint: string | undefined;
  private auth: import('google-auth-library').GoogleAuth | undefined;
  constructor(project: string, opts: GkeDirectoryOptions = {}) {
    this.project = project;
    this.client = opts.client;
    this.apiEndpoint = opts.apiEndpoint;
    this.computeEndpoint = opts.computeEndpoint;
    this.groupSize = opts.groupSize ?? ((url) => this.readGroupSize(url));
  }

  /** compute.instanceGroupManagers.get → targetSize (at `computeEndpoint` when set, without credentials). */
  private async readGroupSize(url: string): Promise<number> {
    let data: { targetSize?: unknown };
    if (this.computeEndpoint) {
      const local = this.computeEndpoint.replace(/\/$/, '') + new URL(url).pathname;
      const res = await fetch(local, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`GET ${local}: HTTP ${res.status}`);
      data = (await res.json()) as { targetSize?: unknown };
    } else {
      if (!this.auth) {
        const { GoogleAuth } = await import('google-auth-library');
        this.auth = new GoogleAuth({ scopes: 'https://www.googleapis.com/auth/cloud-platform' });
      }
      const http = await this.auth.getClient();
      data = (await http.request<{ targetSize?: unknown }>({ url, method: 'GET', timeout: 10_000 })).data;
    }
    // InstanceGroupManager.targetSize is an int32 (compute v1), a JSON number.
    const n = data.targetSize;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`no targetSize in ${url}`);
    return n;
  }

  /** Zone and targetSize of each of the pool's instance groups; null when there are none or any cannot be read. */
  private async groups(urls: readonly string[] | null | undefined): Promise<Array<{ zone: string; targetSize: number }> | null> {
    const canonical = (urls ?? []).map(instanceGroupManagerUrl);
    if (canonical.length === 0 || canonical.some((u) => u === null)) return null;
    try {
      return await Promise.all(canonical.map(async (u) => ({ zone: zoneOfGroup(u!), targetSize: await this.groupSize(u!) })));
    } catch {
      return null;
    }
  }

  private async gke(): Promise<Client> {
    if (!this.client) {
      const { v1 } = await import('@google-cloud/container');
      if (this.apiEndpoint) {
        // The REST transport against a local server: google-gax fallback.js createStub takes
        // `protocol`, `servicePath`/`apiEndpoint` and `port`; PassThroughClient sends no credentials.
        const { PassThroughClient } = await import('google-auth-library');
        const e = parseEndpoint(this.apiEndpoint);
        this.client = new v1.ClusterManagerClient({
          fallback: true,
          protocol: e.protocol,
          apiEndpoint: e.host,
          port: e.port,
          authClient: new PassThroughClient(),
        });
      } else this.client = new v1.ClusterManagerClient();
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

  async setNodePoolSize(nodePool: string, nodesPerZone: number): Promise<GkeOperation> {
    const gke = await this.gke();
    try {
      // SetNodePoolSizeRequest.node_count: "The desired node count for the pool", per zone (G7).
      const [op] = await gke.setNodePoolSize({ name: nodePool, nodeCount: nodesPerZone });
      return this.op(op as GkeOp, 'set-node-pool-size', nodePool);
    } catch (e) {
      throw gkeError(e, `resize ${nodePool}`);
    }
  }

  async setNodePoolAutoscaling(nodePool: string, autoscaling: PoolAutoscaling): Promise<GkeOperation> {
    const gke = await this.gke();
    try {
      // The whole NodePoolAutoscaling is replaced: send the mode's limits and the location policy.
      const [op] = await gke.setNodePoolAutoscaling({ name: nodePool, autoscaling: autoscalingWire(autoscaling) });
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
    locations?: string[] | null;
    resourceLabels?: Record<string, string> | null;
    labelFingerprint?: string | null;
    status?: unknown;
    createTime?: string | null;
    currentNodeCount?: number | null;
    nodePools?: Array<{
      name?: string | null;
      locations?: string[] | null;
      initialNodeCount?: number | null;
      instanceGroupUrls?: string[] | null;
      autoscaling?: AutoscalingWire | null;
    }> | null;
  }): Promise<ManagedCluster> {
    const location = c.location ?? '-';
    const groups = await Promise.all((c.nodePools ?? []).map((p) => this.groups(p.instanceGroupUrls)));
    const pools: InventoryNodePool[] = (c.nodePools ?? []).map((p, i) => ({
      name: p.name ?? '',
      // NodePool.locations; when empty the cluster's locations apply (G9), else the groups' zones.
      ...poolSize(
        p,
        p.locations?.length ? p.locations : c.locations?.length ? c.locations : (p.instanceGroupUrls ?? []).map(zoneOfGroup),
        c.currentNodeCount,
        groups[i] ?? null,
      ),
      autoscaling: autoscalingOf(p.autoscaling),
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

/**
 * A local GKE and Compute Engine server that speaks Google's wire format, for the calls ferry
 * makes: the production adapter (shared/adapters/cluster-directory-gke.ts) reaches it through the
 * real `@google-cloud/container` ClusterManagerClient in its REST transport
 * (FERRY_GKE_API_ENDPOINT) and reads instance group sizes from it (FERRY_COMPUTE_API_ENDPOINT).
 * There is no GKE emulator; this is the smallest server that behaves as the protos say.
 *
 * Wire format (docs/CONFORMANCE.md "GKE/Compute" lists each fact with its source):
 * - paths: the `google.api.http` annotations of cluster_service.proto (@google-cloud/container
 *   7.2.0): GET `/v1/{parent=projects/*\/locations/*}/clusters` (ListClusters, `-` = every
 *   location), GET `/v1/{name=projects/*\/locations/*\/clusters/*}` (GetCluster), POST
 *   `…/nodePools/*}:setSize` and `…:setAutoscaling` (body `*`), DELETE `…/clusters/*}`
 *   (DeleteCluster), GET `/v1/{name=projects/*\/locations/*\/operations/*}` (GetOperation);
 * - bodies: proto3 JSON of the request and response messages, checked against the package's own
 *   protos.json by ProtoJson (proto-json.ts) both ways; unset scalars are left out (omitDefaults);
 * - errors: `{"error": {"code": <HTTP status>, "message", "status": "<google.rpc.Code name>"}}` with
 *   the HTTP status google/rpc/code.proto maps each code to (google-gax googleError.js
 *   `parseHttpError` reads `status` first);
 * - GKE `Operation`s (not LROs): PENDING for `pendingMs`, RUNNING until `durationMs`, then DONE —
 *   with `error` (google.rpc.Status) when failNextOperation asked for it, and the change applied
 *   only when it succeeds. One operation per cluster at a time: another mutating call meanwhile
 *   gets FAILED_PRECONDITION. The cluster is RECONCILING (STOPPING for a delete) meanwhile;
 * - node pools have zones (`locations`; a regional cluster's default is its three zones) and one
 *   managed instance group per zone, each with its own `targetSize`, served as Compute v1
 *   `instanceGroupManagers.get` JSON at `/compute/v1/projects/P/zones/Z/instanceGroupManagers/N`;
 *   `setSize` sets every zone's group to `node_count` (per zone); autoscaling is per location
 *   (`min/max_node_count`) or total (`total_min/max_node_count`, exclusive with the former), with
 *   `location_policy`. When an autoscaling change is DONE the pool is brought within its new limits
 *   at once (the cluster autoscaler's work, immediate here).
 *
 * Test hooks (in process: `server.state`; over HTTP: POST /ferry-admin/{seed,labels,fail,fail-operation}).
 * Alone: ./node_modules/.bin/node infra/local/gke-server.ts [--port N] [--project P]
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ProtoJson, omitDefaults } from './proto-json.ts';
import { bodyText, runAlone } from './loopback-server.ts';
import type { Clock } from '../../shared/ports/clock.ts';
import { systemClock } from '../../shared/ports/clock.ts';

const PROTOS = fileURLToPath(new URL('../../node_modules/@google-cloud/container/build/protos/protos.json', import.meta.url));
let protoJson: ProtoJson | undefined;
/** The container protos (loaded once). */
export const containerProtos = (): ProtoJson => (protoJson ??= new ProtoJson(PROTOS));
const V1 = 'google.container.v1';

/** google.rpc.Code names and their HTTP status (google-gax build/protos/google/rpc/code.proto, "HTTP Mapping"). */
export const RPC_HTTP = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  NOT_FOUND: 404,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;
export type RpcStatus = keyof typeof RPC_HTTP;
/** google.rpc.Code numbers (code.proto). */
const RPC_CODE: Record<RpcStatus, number> = {
  INVALID_ARGUMENT: 3,
  FAILED_PRECONDITION: 9,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  UNAUTHENTICATED: 16,
  ABORTED: 10,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
};

class ApiError extends Error {
  readonly status: RpcStatus;
  constructor(status: RpcStatus, message: string) {
    super(message);
    this.status = status;
  }
}

export const GKE_METHODS = ['list', 'get', 'setNodePoolSize', 'setNodePoolAutoscaling', 'deleteCluster', 'getOperation', 'getInstanceGroupManager'] as const;
export type GkeMethod = (typeof GKE_METHODS)[number];

const Zone = z.string().regex(/^[a-z]+-[a-z]+[0-9]+-[a-z]$/, 'a zone');
/** A pool to seed: `nodeCount` nodes in each of its zones (default: the cluster's). */
export const SeedPool = z.strictObject({
  name: z.string().regex(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/, 'a node pool name'),
  nodeCount: z.int().min(0),
  zones: z.array(Zone).min(1).optional(),
  autoscaling: z
    .strictObject({
      minNodeCount: z.int().min(0),
      maxNodeCount: z.int().min(0),
      limits: z.enum(['per-zone', 'total']).optional(),
      locationPolicy: z.enum(['BALANCED', 'ANY']).nullable().optional(),
    })
    .nullable(),
});
export type SeedPool = z.input<typeof SeedPool>;
export const SeedCluster = z.strictObject({
  location: z.string().regex(/^[a-z]+-[a-z]+[0-9]+(-[a-z])?$/, 'a GKE region or zone'),
  name: z.string().regex(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/, 'a GKE cluster name'),
  /** The cluster's zones (default: the zone of a zonal cluster; a region's -a, -b and -c). */
  zones: z.array(Zone).min(1).optional(),
  labels: z.record(z.string().min(1), z.string()).optional(),
  nodePools: z.array(SeedPool).optional(),
  createTime: z.iso.datetime().optional(),
});
export type SeedCluster = z.input<typeof SeedCluster>;

interface Autoscaling {
  minNodeCount: number;
  maxNodeCount: number;
  totalMinNodeCount: number;
  totalMaxNodeCount: number;
  locationPolicy: 'BALANCED' | 'ANY' | null;
}
interface Pool {
  name: string;
  zones: string[];
  initialNodeCount: number;
  autoscaling: Autoscaling | null;
  /** zone → its instance group (name, targetSize). */
  groups: Map<string, { name: string; targetSize: number }>;
}
interface Cluster {
  name: string;
  location: string;
  zones: string[];
  labels: Record<string, string>;
  createTime: string;
  pools: Pool[];
  deleted: boolean;
}
interface Op {
  short: string;
  full: string;
  type: 'SET_NODE_POOL_SIZE' | 'UPDATE_CLUSTER' | 'DELETE_CLUSTER';
  location: string;
  cluster: string;
  targetLink: string;
  startedAt: number;
  settled: boolean;
  error: { code: number; message: string } | null;
  apply: () => void;
}

const fingerprint = (labels: Record<string, string>): string =>
  createHash('sha256')
    .update(JSON.stringify(Object.entries(labels).sort()))
    .digest('hex')
    .slice(0, 16);

export interface GkeStateOptions {
  clock?: Clock;
  project?: string;
  /** Names spelled `projects/<number>/…` reach the same clusters. */
  projectNumber?: string;
  pendingMs?: number;
  durationMs?: number;
}

/** The server's state and its test hooks. */
export class GkeState {
  readonly project: string;
  readonly projectNumber: string | undefined;
  private readonly clock: Clock;
  private readonly pendingMs: number;
  private readonly durationMs: number;
  private readonly clusters = new Map<string, Cluster>();
  private readonly ops = new Map<string, Op>();
  private failures: Array<{ method: GkeMethod; status: RpcStatus }> = [];
  private opFailures: Array<{ method: GkeMethod; message: string }> = [];
  /** Every API call, in order (method and resource name). */
  readonly calls: Array<{ method: GkeMethod; name: string }> = [];

  constructor(opts: GkeStateOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.project = opts.project ?? 'demo-ferry';
    this.projectNumber = opts.projectNumber;
    this.pendingMs = opts.pendingMs ?? 500;
    this.durationMs = opts.durationMs ?? 2000;
  }

  // ---- test hooks
  /** Adds (or replaces) a cluster; returns its name. */
  seed(input: SeedCluster): string {
    const c = SeedCluster.parse(input);
    const name = `projects/${this.project}/locations/${c.location}/clusters/${c.name}`;
    const zonal = /-[a-z]$/.test(c.location);
    const zones = [...(c.zones ?? (zonal ? [c.location] : ['a', 'b', 'c'].map((s) => `${c.location}-${s}`)))].sort();
    const pools = (c.nodePools ?? []).map((p): Pool => {
      const pz = [...(p.zones ?? zones)].sort();
      const a = p.autoscaling;
      const total = a?.limits === 'total';
      return {
        name: p.name,
        zones: pz,
        initialNodeCount: p.nodeCount,
        autoscaling: a
          ? {
              minNodeCount: total ? 0 : a.minNodeCount,
              maxNodeCount: total ? 0 : a.maxNodeCount,
              totalMinNodeCount: total ? a.minNodeCount : 0,
              totalMaxNodeCount: total ? a.maxNodeCount : 0,
              locationPolicy: a.locationPolicy ?? null,
            }
          : null,
        groups: new Map(pz.map((zone) => [zone, { name: `gke-${c.name}-${p.name}-${randomBytes(4).toString('hex')}-grp`, targetSize: p.nodeCount }])),
      };
    });
    this.clusters.set(name, {
      name,
      location: c.location,
      zones,
      labels: { ...(c.labels ?? {}) },
      createTime: c.createTime ?? this.clock.now().toISOString(),
      pools,
      deleted: false,
    });
    return name;
  }
  setLabels(name: string, labels: Record<string, string>): void {
    const c = this.clusters.get(this.canonical(name));
    if (c) c.labels = { ...labels };
  }
  /** The next call of `method` answers with `status`. */
  failNext(method: GkeMethod, status: RpcStatus): void {
    this.failures.push({ method, status });
  }
  /** The next operation `method` starts ends DONE with an error (and changes nothing). */
  failNextOperation(method: 'setNodePoolSize' | 'setNodePoolAutoscaling' | 'deleteCluster', message = 'injected failure'): void {
    this.opFailures.push({ method, message });
  }

  // ---- the API (JSON in, JSON out)
  enter(method: GkeMethod, name: string): void {
    this.settle();
    this.calls.push({ method, name });
    const i = this.failures.findIndex((f) => f.method === method);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw new ApiError(f!.status, `injected ${f!.status} on ${method}`);
    }
  }

  listClusters(project: string, location: string): unknown {
    this.checkProject(project);
    const clusters = [...this.clusters.values()]
      .filter((c) => !c.deleted && (location === '-' || c.location === location))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((c) => this.clusterJson(c));
    return omitDefaults({ clusters });
  }

  getCluster(name: string): unknown {
    return this.clusterJson(this.cluster(name));
  }

  setSize(poolName: string, nodeCount: number): unknown {
    if (!Number.isInteger(nodeCount) || nodeCount < 0) throw new ApiError('INVALID_ARGUMENT', `node_count must be ≥ 0, got ${nodeCount}`);
    const { cluster, pool } = this.pool(poolName);
    // SetNodePoolSize: "The new size will be used for all replicas" (per zone).
    return this.start('setNodePoolSize', 'SET_NODE_POOL_SIZE', cluster, poolName, () => {
      for (const g of pool.groups.values()) g.targetSize = nodeCount;
    });
  }

  setAutoscaling(poolName: string, a: Record<string, unknown>): unknown {
    const n = (k: string): number => (typeof a[k] === 'number' ? (a[k] as number) : 0);
    const next: Autoscaling = {
      minNodeCount: n('minNodeCount'),
      maxNodeCount: n('maxNodeCount'),
      totalMinNodeCount: n('totalMinNodeCount'),
      totalMaxNodeCount: n('totalMaxNodeCount'),
      locationPolicy: a['locationPolicy'] === 'BALANCED' || a['locationPolicy'] === 'ANY' ? a['locationPolicy'] : null,
    };
    const perZone = next.minNodeCount > 0 || next.maxNodeCount > 0;
    const total = next.totalMinNodeCount > 0 || next.totalMaxNodeCount > 0;
    if (a['enabled'] === true) {
      // NodePoolAutoscaling: "The total_*_node_count fields are mutually exclusive with the *_node_count fields."
      if (perZone && total) throw new ApiError('INVALID_ARGUMENT', 'total_min/max_node_count and min/max_node_count are mutually exclusive');
      if (next.minNodeCount > next.maxNodeCount || next.totalMinNodeCount > next.totalMaxNodeCount || (!perZone && !total))
        throw new ApiError('INVALID_ARGUMENT', 'autoscaling needs max_node_count ≥ min_node_count (or total_max_node_count ≥ total_min_node_count), max > 0');
    }
    const { cluster, pool } = this.pool(poolName);
    return this.start('setNodePoolAutoscaling', 'UPDATE_CLUSTER', cluster, poolName, () => {
      pool.autoscaling = a['enabled'] === true ? next : null;
      if (!pool.autoscaling) return;
      const groups = [...pool.groups.values()];
      if (!total) {
        for (const g of groups) g.targetSize = Math.min(Math.max(g.targetSize, next.minNodeCount), next.maxNodeCount);
        return;
      }
      // Total limits: add to the smallest zone, take from the largest, until the total is within them.
      const sum = (): number => groups.reduce((x, g) => x + g.targetSize, 0);
      while (sum() < next.totalMinNodeCount) groups.reduce((m, g) => (g.targetSize < m.targetSize ? g : m)).targetSize++;
      while (sum() > next.totalMaxNodeCount) groups.reduce((m, g) => (g.targetSize > m.targetSize ? g : m)).targetSize--;
    });
  }

  deleteCluster(name: string): unknown {
    const cluster = this.cluster(name);
    return this.start('deleteCluster', 'DELETE_CLUSTER', cluster, name, () => {
      cluster.deleted = true;
    });
  }

  getOperation(name: string): unknown {
    const m = /^projects\/([^/]+)\/locations\/([^/]+)\/operations\/([^/]+)$/.exec(name);
    if (!m) throw new ApiError('INVALID_ARGUMENT', `not an operation name: ${name}`);
    this.checkProject(m[1]!);
    const op = [...this.ops.values()].find((o) => o.short === m[3] && o.location === m[2]);
    if (!op) throw new ApiError('NOT_FOUND', `operation ${name} not found`);
    return this.opJson(op);
  }

  /** Compute v1 instanceGroupManagers.get. */
  instanceGroupManager(project: string, zone: string, name: string): unknown {
    this.checkProject(project);
    for (const c of this.clusters.values()) {
      if (c.deleted) continue;
      for (const p of c.pools) {
        const g = p.groups.get(zone);
        if (g?.name === name) {
          const self = `https://www.googleapis.com/compute/v1/projects/${this.project}/zones/${zone}/instanceGroupManagers/${name}`;
          return {
            kind: 'compute#instanceGroupManager',
            id: String(BigInt(`0x${createHash('sha256').update(self).digest('hex').slice(0, 15)}`)),
            name,
            zone: `https://www.googleapis.com/compute/v1/projects/${this.project}/zones/${zone}`,
            baseInstanceName: name.replace(/-grp$/, ''),
            instanceGroup: `https://www.googleapis.com/compute/v1/projects/${this.project}/zones/${zone}/instanceGroups/${name}`,
            targetSize: g.targetSize,
            creationTimestamp: c.createTime,
            selfLink: self,
          };
        }
      }
    }
    throw new ApiError('NOT_FOUND', `The resource 'projects/${project}/zones/${zone}/instanceGroupManagers/${name}' was not found`);
  }

  // ---- internals
  private settle(): void {
    const now = this.clock.now().getTime();
    for (const op of this.ops.values()) {
      if (!op.settled && now >= op.startedAt + this.durationMs) {
        op.settled = true;
        if (!op.error) op.apply();
      }
    }
  }
  private checkProject(p: string): void {
    if (p !== this.project && p !== this.projectNumber) throw new ApiError('PERMISSION_DENIED', `project ${p} is not served here`);
  }
  private canonical(name: string): string {
    const n = this.projectNumber;
    return n && name.startsWith(`projects/${n}/`) ? `projects/${this.project}/${name.slice(`projects/${n}/`.length)}` : name;
  }
  private cluster(name: string): Cluster {
    const m = /^projects\/([^/]+)\/locations\/[^/]+\/clusters\/[^/]+$/.exec(name);
    if (!m) throw new ApiError('INVALID_ARGUMENT', `not a cluster name: ${name}`);
    this.checkProject(m[1]!);
    const c = this.clusters.get(this.canonical(name));
    if (!c || c.deleted) throw new ApiError('NOT_FOUND', `Not found: ${name}.`);
    return c;
  }
  private pool(name: string): { cluster: Cluster; pool: Pool } {
    const m = /^(projects\/[^/]+\/locations\/[^/]+\/clusters\/[^/]+)\/nodePools\/([^/]+)$/.exec(name);
    if (!m) throw new ApiError('INVALID_ARGUMENT', `not a node pool name: ${name}`);
    const cluster = this.cluster(m[1]!);
    const pool = cluster.pools.find((p) => p.name === m[2]);
    if (!pool) throw new ApiError('NOT_FOUND', `Not found: ${name}.`);
    return { cluster, pool };
  }
  private running(cluster: string): Op | undefined {
    return [...this.ops.values()].find((o) => o.cluster === cluster && !o.settled);
  }
  private start(method: GkeMethod, type: Op['type'], cluster: Cluster, target: string, apply: () => void): unknown {
    const busy = this.running(cluster.name);
    if (busy) throw new ApiError('FAILED_PRECONDITION', `Cluster is running incompatible operation ${busy.short}.`);
    const short = `operation-${this.clock.now().getTime()}-${randomBytes(4).toString('hex')}`;
    const i = this.opFailures.findIndex((f) => f.method === method);
    const failure = i >= 0 ? this.opFailures.splice(i, 1)[0]! : null;
    const op: Op = {
      short,
      full: `projects/${this.project}/locations/${cluster.location}/operations/${short}`,
      type,
      location: cluster.location,
      cluster: cluster.name,
      targetLink: `https://container.googleapis.com/v1/${target}`,
      startedAt: this.clock.now().getTime(),
      settled: false,
      error: failure ? { code: RPC_CODE.INTERNAL, message: failure.message } : null,
      apply,
    };
    this.ops.set(op.full, op);
    return this.opJson(op);
  }
  private opJson(op: Op): unknown {
    const elapsed = this.clock.now().getTime() - op.startedAt;
    const status = op.settled ? 'DONE' : elapsed < this.pendingMs ? 'PENDING' : 'RUNNING';
    return omitDefaults({
      name: op.short,
      zone: op.location,
      operationType: op.type,
      status,
      selfLink: `https://container.googleapis.com/v1/${op.full}`,
      targetLink: op.targetLink,
      location: op.location,
      startTime: new Date(op.startedAt).toISOString(),
      endTime: op.settled ? new Date(op.startedAt + this.durationMs).toISOString() : '',
      statusMessage: op.settled && op.error ? op.error.message : '',
      error: op.settled && op.error ? op.error : null,
    });
  }
  private clusterJson(c: Cluster): unknown {
    const op = this.running(c.name);
    const status = op ? (op.type === 'DELETE_CLUSTER' ? 'STOPPING' : 'RECONCILING') : 'RUNNING';
    const igm = (zone: string, name: string) => `https://www.googleapis.com/compute/v1/projects/${this.project}/zones/${zone}/instanceGroupManagers/${name}`;
    return omitDefaults({
      name: c.name.split('/').pop(),
      location: c.location,
      locations: c.zones,
      zone: c.location,
      resourceLabels: c.labels,
      labelFingerprint: fingerprint(c.labels),
      status,
      createTime: c.createTime,
      selfLink: `https://container.googleapis.com/v1/${c.name}`,
      currentNodeCount: c.pools.reduce((x, p) => x + [...p.groups.values()].reduce((y, g) => y + g.targetSize, 0), 0),
      nodePools: c.pools.map((p) => ({
        name: p.name,
        locations: p.zones,
        initialNodeCount: p.initialNodeCount,
        instanceGroupUrls: [...p.groups.entries()].map(([zone, g]) => igm(zone, g.name)),
        autoscaling: p.autoscaling ? { enabled: true, ...p.autoscaling } : null,
        status: 'RUNNING',
        selfLink: `https://container.googleapis.com/v1/${c.name}/nodePools/${p.name}`,
      })),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface GkeServer {
  /** `http://127.0.0.1:PORT`: FERRY_GKE_API_ENDPOINT and FERRY_COMPUTE_API_ENDPOINT. */
  endpoint: string;
  state: GkeState;
  stop(): Promise<void>;
}

const Admin = {
  labels: z.strictObject({ name: z.string().min(1), labels: z.record(z.string().min(1), z.string()) }),
  fail: z.strictObject({ method: z.enum(GKE_METHODS), status: z.enum(Object.keys(RPC_HTTP) as [RpcStatus, ...RpcStatus[]]) }),
  failOperation: z.strictObject({ method: z.enum(['setNodePoolSize', 'setNodePoolAutoscaling', 'deleteCluster']), message: z.string().optional() }),
};

function readJson(text: string): Record<string, unknown> {
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ApiError('INVALID_ARGUMENT', 'Invalid JSON payload received.');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError('INVALID_ARGUMENT', 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

function admin<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new ApiError('INVALID_ARGUMENT', z.prettifyError(r.error));
  return r.data;
}

/**
 * A request body, checked against its request message (unknown fields are refused, as Google
 * does), enums read as names (a client may send numbers: the container client sets
 * `numericEnums`, cluster_manager_client.js).
 */
function request(type: string, body: Record<string, unknown>): Record<string, unknown> {
  try {
    containerProtos().check(`${V1}.${type}`, body);
  } catch (e) {
    throw new ApiError('INVALID_ARGUMENT', `Invalid JSON payload received. ${(e as Error).message}`);
  }
  return containerProtos().mapEnums(`${V1}.${type}`, body, 'name') as Record<string, unknown>;
}

async function route(s: GkeState, method: string, path: string, text: string, numericEnums: boolean): Promise<unknown> {
  /**
   * An answer, checked against its response message (a shape the protos do not have is this
   * server's bug), with enums as numbers when the client asked `$alt=json;enum-encoding=int`
   * (google-gax fallbackRest.js `encodeRequest` adds it when `numericEnums` is on).
   */
  const answer = (type: string, json: unknown): unknown => {
    containerProtos().check(`${V1}.${type}`, json);
    return numericEnums ? containerProtos().mapEnums(`${V1}.${type}`, json, 'number') : json;
  };
  let m: RegExpExecArray | null;
  // Compute Engine v1: instanceGroupManagers.get.
  if (method === 'GET' && (m = /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/instanceGroupManagers\/([^/]+)$/.exec(path))) {
    s.enter('getInstanceGroupManager', path);
    return s.instanceGroupManager(m[1]!, m[2]!, m[3]!);
  }
  if (method === 'POST' && path.startsWith('/ferry-admin/')) {
    const body = readJson(text);
    switch (path) {
      case '/ferry-admin/seed':
        return { name: s.seed(admin(SeedCluster, body)) };
      case '/ferry-admin/labels': {
        const b = admin(Admin.labels, body);
        s.setLabels(b.name, b.labels);
        return {};
      }
      case '/ferry-admin/fail': {
        const b = admin(Admin.fail, body);
        s.failNext(b.method, b.status);
        return {};
      }
      case '/ferry-admin/fail-operation': {
        const b = admin(Admin.failOperation, body);
        s.failNextOperation(b.method, b.message);
        return {};
      }
    }
  }
  if (method === 'GET' && (m = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/clusters$/.exec(path))) {
    s.enter('list', path);
    return answer('ListClustersResponse', s.listClusters(m[1]!, m[2]!));
  }
  if ((m = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/clusters\/[^/:]+)$/.exec(path))) {
    if (method === 'GET') {
      s.enter('get', m[1]!);
      return answer('Cluster', s.getCluster(m[1]!));
    }
    if (method === 'DELETE') {
      s.enter('deleteCluster', m[1]!);
      return answer('Operation', s.deleteCluster(m[1]!));
    }
  }
  if (method === 'POST' && (m = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/clusters\/[^/]+\/nodePools\/[^/:]+):(setSize|setAutoscaling)$/.exec(path))) {
    const name = m[1]!;
    if (m[2] === 'setSize') {
      s.enter('setNodePoolSize', name);
      const b = request('SetNodePoolSizeRequest', readJson(text));
      return answer('Operation', s.setSize(name, typeof b['nodeCount'] === 'number' ? b['nodeCount'] : 0));
    }
    s.enter('setNodePoolAutoscaling', name);
    const b = request('SetNodePoolAutoscalingRequest', readJson(text));
    return answer('Operation', s.setAutoscaling(name, (b['autoscaling'] as Record<string, unknown> | undefined) ?? {}));
  }
  if (method === 'GET' && (m = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/operations\/[^/]+)$/.exec(path))) {
    s.enter('getOperation', m[1]!);
    return answer('Operation', s.getOperation(m[1]!));
  }
  throw new ApiError('NOT_FOUND', `no such method: ${method} ${path}`);
}

export async function startGkeServer(opts: GkeStateOptions & { port?: number; seed?: SeedCluster[] } = {}): Promise<GkeServer> {
  const state = new GkeState(opts);
  for (const c of opts.seed ?? []) state.seed(c);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      let status = 200;
      let payload: unknown;
      try {
        const url = new URL(req.url ?? '/', 'http://x');
        const numericEnums = /enum-encoding=int/.test(url.searchParams.get('$alt') ?? '');
        payload = await route(state, req.method ?? 'GET', url.pathname, await bodyText(req), numericEnums);
      } catch (e) {
        const s: RpcStatus = e instanceof ApiError ? e.status : 'INTERNAL';
        status = RPC_HTTP[s];
        payload = { error: { code: status, message: e instanceof Error ? e.message : String(e), status: s } };
      }
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(payload));
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    state,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

await runAlone(
  import.meta.url,
  async (arg) => {
    const srv = await startGkeServer({ port: Number(arg('--port') ?? 0), project: arg('--project') ?? 'demo-ferry' });
    return { host: srv.endpoint, stop: srv.stop };
  },
  (endpoint) => `GKE + Compute API server on ${endpoint} (FERRY_GKE_API_ENDPOINT=${endpoint} FERRY_COMPUTE_API_ENDPOINT=${endpoint})`,
);

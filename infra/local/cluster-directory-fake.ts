/**
 * A stateful fake of the GKE cluster directory (there is no GKE emulator), behind the same
 * ClusterDirectory port as the real adapter and held to test/contract/cluster-directory.contract.ts.
 * Time comes from a Clock, evaluated at each call, so tests move a manual clock instead of sleeping.
 * As GKE does (google.container.v1 in @google-cloud/container build/protos/google/container/v1/
 * cluster_service.proto: `Operation`, `Cluster.Status`; docs/UPSTREAM.md):
 *
 * - setNodePoolSize / setNodePoolAutoscaling / deleteCluster return an Operation that is PENDING for
 *   `pendingMs`, RUNNING until `durationMs`, then DONE; the change lands when it is DONE. Meanwhile
 *   the cluster is RECONCILING (resize) or STOPPING (delete), and another operation on the same
 *   cluster fails with CLUSTER_CONFLICT (GKE: FAILED_PRECONDITION "operation in progress").
 * - a deleted cluster is gone (get → null, operations on it → CLUSTER_NOT_FOUND).
 * - labels carry a fingerprint that changes with them.
 * - a name may spell the project by id or, given `projectNumber`, by number; `get` answers with the
 *   caller's spelling (as the GKE adapter does).
 *
 * Test hooks beyond the port: `seed` (add or replace a cluster), `setLabels`, `failNext`, `calls`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/ports/clock.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import type { ClusterDirectory, ClusterDirectoryErrorCode, GkeOperation, ManagedCluster } from '../../shared/ports/cluster-directory.ts';
import type { InventoryNodePool, PoolAutoscaling } from '../../shared/domain/teardown-inventory.ts';
import { FerryError } from '../../shared/domain/errors.ts';

export interface FakeClusterDirectoryOptions {
  clock?: Clock;
  /** The project whose clusters it holds (default `demo-ferry`). */
  project?: string;
  /** The project's number: names spelled `projects/<number>/…` reach the same clusters. */
  projectNumber?: string;
  pendingMs?: number;
  durationMs?: number;
}

/**
 * A pool to seed: `nodeCount` nodes in each of its `zones` (GKE sizes are per zone; default: one
 * zone, `<location>-a` for a region); autoscaling limits per zone unless `limits: 'total'`.
 */
export interface SeedPool {
  name: string;
  nodeCount: number;
  zones?: string[];
  autoscaling: { minNodeCount: number; maxNodeCount: number; limits?: PoolAutoscaling['limits']; locationPolicy?: PoolAutoscaling['locationPolicy'] } | null;
}

export interface SeedCluster {
  location: string;
  name: string;
  labels?: Record<string, string>;
  nodePools?: SeedPool[];
  createTime?: string;
}

export function seedPool(location: string, p: SeedPool): InventoryNodePool {
  const zones = [...(p.zones ?? [/-[a-z]$/.test(location) ? location : `${location}-a`])].sort();
  return {
    name: p.name,
    zones,
    nodesPerZone: p.nodeCount,
    nodeCount: p.nodeCount * zones.length,
    autoscaling: p.autoscaling ? { limits: 'per-zone', locationPolicy: null, ...p.autoscaling } : null,
  };
}

interface Entry {
  name: string;
  location: string;
  labels: Record<string, string>;
  nodePools: InventoryNodePool[];
  createTime: string;
  deleted: boolean;
}
interface Op {
  name: string;
  kind: GkeOperation['kind'];
  target: string;
  cluster: string;
  startedAt: number;
  applied: boolean;
  apply: () => void;
}

const CLUSTER_RE = /^projects\/([^/]+)\/locations\/([^/]+)\/clusters\/([^/]+)$/;
const POOL_RE = /^(projects\/[^/]+\/locations\/[^/]+\/clusters\/[^/]+)\/nodePools\/([^/]+)$/;
const fingerprint = (labels: Record<string, string>): string =>
  createHash('sha256')
    .update(JSON.stringify(Object.entries(labels).sort()))
    .digest('hex')
    .slice(0, 16);

export const fakeClusterError = (code: ClusterDirectoryErrorCode, message: string): FerryError =>
  new FerryError(code, message, { retryable: code === 'CLUSTER_UNAVAILABLE' });

export class FakeClusterDirectory implements ClusterDirectory {
  private readonly clock: Clock;
  readonly project: string;
  readonly projectNumber: string | undefined;
  private readonly pendingMs: number;
  private readonly durationMs: number;
  private readonly clusters = new Map<string, Entry>();
  private readonly ops = new Map<string, Op>();
  private failures: Array<{ method: string; code: ClusterDirectoryErrorCode }> = [];
  /** Every port call, in order (method and resource name). */
  readonly calls: Array<{ method: string; name: string }> = [];

  constructor(opts: FakeClusterDirectoryOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.project = opts.project ?? 'demo-ferry';
    this.projectNumber = opts.projectNumber;
    this.pendingMs = opts.pendingMs ?? 500;
    this.durationMs = opts.durationMs ?? 2000;
  }

  // ---- test hooks
  seed(c: SeedCluster): ManagedCluster {
    const name = `projects/${this.project}/locations/${c.location}/clusters/${c.name}`;
    this.clusters.set(name, {
      name,
      location: c.location,
      labels: { ...(c.labels ?? {}) },
      nodePools: (c.nodePools ?? []).map((p) => seedPool(c.location, p)),
      createTime: c.createTime ?? this.clock.now().toISOString(),
      deleted: false,
    });
    return this.view(this.clusters.get(name)!);
  }
  setLabels(name: string, labels: Record<string, string>): void {
    const e = this.clusters.get(name);
    if (e) e.labels = { ...labels };
  }
  /** The next call of `method` fails with `code`. */
  failNext(method: keyof ClusterDirectory, code: ClusterDirectoryErrorCode): void {
    this.failures.push({ method, code });
  }
  reset(): void {
    this.clusters.clear();
    this.ops.clear();
    this.failures = [];
    this.calls.length = 0;
  }

  // ---- port
  async list(filter?: { label?: { key: string; value: string } }): Promise<ManagedCluster[]> {
    this.enter('list', `projects/${this.project}/locations/-`);
    const l = filter?.label;
    return [...this.clusters.values()]
      .filter((e) => !e.deleted && (!l || e.labels[l.key] === l.value))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((e) => this.view(e));
  }

  async get(name: string): Promise<ManagedCluster | null> {
    this.enter('get', name);
    const e = this.clusters.get(this.canonical(name));
    return e && !e.deleted ? { ...this.view(e), name } : null;
  }

  async setNodePoolSize(nodePool: string, nodesPerZone: number): Promise<GkeOperation> {
    this.enter('setNodePoolSize', nodePool);
    if (!Number.isInteger(nodesPerZone) || nodesPerZone < 0)
      throw fakeClusterError('CLUSTER_INVALID', `node count must be a whole number ≥ 0, got ${nodesPerZone}`);
    const { entry, pool } = this.pool(nodePool);
    return this.start('set-node-pool-size', nodePool, entry, () => {
      // SetNodePoolSize.node_count is per zone (cluster_service.proto #L473-475).
      pool.nodesPerZone = nodesPerZone;
      pool.nodeCount = nodesPerZone * pool.zones.length;
    });
  }

  async setNodePoolAutoscaling(nodePool: string, a: PoolAutoscaling): Promise<GkeOperation> {
    this.enter('setNodePoolAutoscaling', nodePool);
    if (a.minNodeCount < 0 || a.maxNodeCount < a.minNodeCount)
      throw fakeClusterError('CLUSTER_INVALID', `bad autoscaling bounds ${a.minNodeCount}-${a.maxNodeCount}`);
    const { entry, pool } = this.pool(nodePool);
    return this.start('other', nodePool, entry, () => {
      pool.autoscaling = { ...a };
      const zones = Math.max(1, pool.zones.length);
      const [min, max] = a.limits === 'per-zone' ? [a.minNodeCount, a.maxNodeCount] : [Math.ceil(a.minNodeCount / zones), Math.floor(a.maxNodeCount / zones)];
      pool.nodesPerZone = Math.min(Math.max(pool.nodesPerZone, min), Math.max(min, max));
      pool.nodeCount = pool.nodesPerZone * pool.zones.length;
    });
  }

  async deleteCluster(name: string): Promise<GkeOperation> {
    this.enter('deleteCluster', name);
    const entry = this.cluster(name);
    return this.start('delete-cluster', name, entry, () => {
      entry.deleted = true;
    });
  }

  async getOperation(name: string): Promise<GkeOperation> {
    this.enter('getOperation', name);
    const op = this.ops.get(name);
    if (!op) throw fakeClusterError('CLUSTER_NOT_FOUND', `operation ${name} not found`);
    return this.opView(op);
  }

  // ---- internals
  private enter(method: string, name: string): void {
    this.settle();
    this.calls.push({ method, name });
    const i = this.failures.findIndex((f) => f.method === method);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw fakeClusterError(f!.code, `injected ${f!.code} on ${method}`);
    }
  }
  private settle(): void {
    const now = this.clock.now().getTime();
    for (const op of this.ops.values()) {
      if (!op.applied && now >= op.startedAt + this.durationMs) {
        op.applied = true;
        op.apply();
      }
    }
  }
  /** `projects/<number>/…` → `projects/<id>/…` (GKE accepts either). */
  private canonical(name: string): string {
    const n = this.projectNumber;
    return n && name.startsWith(`projects/${n}/`) ? `projects/${this.project}/${name.slice(`projects/${n}/`.length)}` : name;
  }
  private cluster(name: string): Entry {
    if (!CLUSTER_RE.test(name)) throw fakeClusterError('CLUSTER_INVALID', `not a cluster name: ${name}`);
    const e = this.clusters.get(this.canonical(name));
    if (!e || e.deleted) throw fakeClusterError('CLUSTER_NOT_FOUND', `cluster ${name} not found`);
    return e;
  }
  private pool(nodePool: string): { entry: Entry; pool: InventoryNodePool } {
    const m = POOL_RE.exec(nodePool);
    if (!m) throw fakeClusterError('CLUSTER_INVALID', `not a node pool name: ${nodePool}`);
    const entry = this.cluster(m[1]!);
    const pool = entry.nodePools.find((p) => p.name === m[2]);
    if (!pool) throw fakeClusterError('CLUSTER_NOT_FOUND', `node pool ${nodePool} not found`);
    return { entry, pool };
  }
  private running(cluster: string): Op | undefined {
    return [...this.ops.values()].find((o) => o.cluster === cluster && !o.applied);
  }
  private start(kind: GkeOperation['kind'], target: string, entry: Entry, apply: () => void): GkeOperation {
    const busy = this.running(entry.name);
    if (busy) throw fakeClusterError('CLUSTER_CONFLICT', `cluster ${entry.name} is running operation ${busy.name}; try again when it is done`);
    const name = `projects/${this.project}/locations/${entry.location}/operations/operation-${this.clock.now().getTime()}-${randomBytes(4).toString('hex')}`;
    const op: Op = { name, kind, target, cluster: entry.name, startedAt: this.clock.now().getTime(), applied: false, apply };
    this.ops.set(name, op);
    return this.opView(op);
  }
  private opView(op: Op): GkeOperation {
    const elapsed = this.clock.now().getTime() - op.startedAt;
    const status = op.applied ? 'DONE' : elapsed < this.pendingMs ? 'PENDING' : 'RUNNING';
    return { name: op.name, kind: op.kind, target: op.target, status, error: null };
  }
  private view(e: Entry): ManagedCluster {
    const op = this.running(e.name);
    return {
      name: e.name,
      location: e.location,
      labels: { ...e.labels },
      labelFingerprint: fingerprint(e.labels),
      status: op ? (op.kind === 'delete-cluster' ? 'STOPPING' : 'RECONCILING') : 'RUNNING',
      nodePools: e.nodePools.map((p) => ({ ...p, zones: [...p.zones], autoscaling: p.autoscaling ? { ...p.autoscaling } : null })),
      createTime: e.createTime,
    };
  }
}

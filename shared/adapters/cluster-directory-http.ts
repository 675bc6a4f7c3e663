/**
 * ClusterDirectory over loopback HTTP: the client half of the local stack's GKE cluster directory
 * fake (infra/local/cluster-directory-server.ts serves a FakeClusterDirectory). There is no GKE
 * emulator; through this the functions host, the CLI and the tests share one fake, as they would
 * share the one real API. `FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST=127.0.0.1:PORT` selects it.
 *
 * Protocol (JSON both ways): `POST /v1/<method>` with `{name}`, `{nodePool, nodeCount}`,
 * `{nodePool, bounds}` or `{filter}` → 200 `{"result": …}`, or an error status with
 * `{"error": {"code": "CLUSTER_…", "message"}}`. Answers are parsed, not trusted.
 * Test hooks: `POST /fake/seed {location, name, labels?, nodePools?, createTime?}`,
 * `POST /fake/setLabels {name, labels}`, `POST /fake/fail {method, code}` (no reset: the stack's fake
 * is shared by every test of a run; each seeds clusters of its own).
 */
import { z } from 'zod';
import { FerryError } from '../domain/errors.ts';
import { CLUSTER_STATUSES, PoolAutoscaling } from '../domain/teardown-inventory.ts';
import {
  CLUSTER_DIRECTORY_ERROR_CODES,
  GKE_OPERATION_STATUSES,
  type ClusterDirectory,
  type ClusterDirectoryErrorCode,
  type GkeOperation,
  type ManagedCluster,
} from '../ports/cluster-directory.ts';
import { loopbackJson } from './loopback-json.ts';

export const NodePoolWire = z.strictObject({
  name: z.string().min(1),
  zones: z.array(z.string()),
  nodesPerZone: z.int().min(0),
  nodeCount: z.int().min(0),
  autoscaling: PoolAutoscaling.nullable(),
});

const ManagedClusterWire = z.strictObject({
  name: z.string().min(1),
  location: z.string().min(1),
  labels: z.record(z.string(), z.string()),
  labelFingerprint: z.string(),
  status: z.enum(CLUSTER_STATUSES),
  nodePools: z.array(NodePoolWire),
  createTime: z.string().nullable(),
});

const GkeOperationWire = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['set-node-pool-size', 'delete-cluster', 'other']),
  target: z.string(),
  status: z.enum(GKE_OPERATION_STATUSES),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
});

const ErrorWire = z.object({ error: z.object({ code: z.string().optional(), message: z.string().optional() }) });

const isDirectoryCode = (c: unknown): c is ClusterDirectoryErrorCode => (CLUSTER_DIRECTORY_ERROR_CODES as readonly unknown[]).includes(c);

const directoryError = (code: ClusterDirectoryErrorCode, message: string, cause?: unknown): FerryError =>
  new FerryError(code, message, { retryable: code === 'CLUSTER_UNAVAILABLE', ...(cause === undefined ? {} : { cause }) });

async function call<T>(host: string, path: string, body: unknown, result: z.ZodType<T>, fetchImpl: typeof fetch): Promise<T> {
  const reply = await loopbackJson('cluster directory fake', host, path, body, fetchImpl, (m, cause) => directoryError('CLUSTER_UNAVAILABLE', m, cause));
  if (!reply.ok) {
    const err = ErrorWire.safeParse(reply.payload);
    const code = err.success && isDirectoryCode(err.data.error.code) ? err.data.error.code : 'CLUSTER_UNAVAILABLE';
    throw directoryError(code, (err.success ? err.data.error.message : undefined) ?? `cluster directory fake answered HTTP ${reply.status}`);
  }
  const ok = z.object({ result: result }).safeParse(reply.payload);
  if (!ok.success) {
    throw directoryError('CLUSTER_UNAVAILABLE', `cluster directory fake answered ${path} with an unexpected shape: ${z.prettifyError(ok.error)}`);
  }
  return ok.data.result;
}

export class HttpClusterDirectory implements ClusterDirectory {
  private readonly host: string;
  private readonly fetchImpl: typeof fetch;
  constructor(host: string, fetchImpl: typeof fetch = fetch) {
    this.host = host;
    this.fetchImpl = fetchImpl;
  }
  private post<T>(method: string, body: Record<string, unknown>, result: z.ZodType<T>): Promise<T> {
    return call(this.host, `/v1/${method}`, body, result, this.fetchImpl);
  }
  list(filter?: { label?: { key: string; value: string } }): Promise<ManagedCluster[]> {
    return this.post('list', filter ? { filter } : {}, z.array(ManagedClusterWire));
  }
  get(name: string): Promise<ManagedCluster | null> {
    return this.post('get', { name }, ManagedClusterWire.nullable());
  }
  setNodePoolSize(nodePool: string, nodeCount: number): Promise<GkeOperation> {
    return this.post('setNodePoolSize', { nodePool, nodeCount }, GkeOperationWire);
  }
  setNodePoolAutoscaling(nodePool: string, bounds: PoolAutoscaling): Promise<GkeOperation> {
    return this.post('setNodePoolAutoscaling', { nodePool, bounds }, GkeOperationWire);
  }
  deleteCluster(name: string): Promise<GkeOperation> {
    return this.post('deleteCluster', { name }, GkeOperationWire);
  }
  getOperation(name: string): Promise<GkeOperation> {
    return this.post('getOperation', { name }, GkeOperationWire);
  }
  /** Nothing to release (one fetch per call); here so callers close every directory alike. */
  async close(): Promise<void> {}
}

/** The fake's test hooks, over the same loopback connection. */
export function clusterDirectoryFakeAdmin(host: string, fetchImpl: typeof fetch = fetch) {
  const hook = <T>(path: string, body: Record<string, unknown>, result: z.ZodType<T>): Promise<T> => call(host, `/fake/${path}`, body, result, fetchImpl);
  return {
    seed: (c: {
      location: string;
      name: string;
      labels?: Record<string, string>;
      nodePools?: Array<{
        name: string;
        nodeCount: number;
        zones?: string[];
        autoscaling: (Omit<PoolAutoscaling, 'limits' | 'locationPolicy'> & Partial<PoolAutoscaling>) | null;
      }>;
      createTime?: string;
    }) => hook('seed', c, ManagedClusterWire),
    setLabels: (name: string, labels: Record<string, string>) => hook('setLabels', { name, labels }, z.null()),
    failNext: (method: keyof ClusterDirectory, code: ClusterDirectoryErrorCode) => hook('fail', { method, code }, z.null()),
  };
}

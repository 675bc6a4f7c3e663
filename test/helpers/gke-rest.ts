/**
 * The production GKE adapter (GkeClusterDirectory: the real `@google-cloud/container` client, REST
 * transport) against an in-process local GKE + Compute REST server (infra/local/gke-server.ts) on
 * a test's clock, with the server's test hooks at hand: what unit tests of teardown and deploy use
 * instead of an in-process fake. Servers started here stop when the test file ends.
 */
import { after } from 'node:test';
import { GkeClusterDirectory } from '../../shared/adapters/cluster-directory-gke.ts';
import type { ClusterDirectoryErrorCode } from '../../shared/ports/cluster-directory.ts';
import { startGkeServer, type GkeMethod, type GkeServer, type GkeStateOptions, type RpcStatus, type SeedCluster } from '../../infra/local/gke-server.ts';

/** The google.rpc status the server answers with for a ferry error code (gkeError maps it back). */
const STATUS: Record<ClusterDirectoryErrorCode, RpcStatus> = {
  CLUSTER_NOT_FOUND: 'NOT_FOUND',
  CLUSTER_CONFLICT: 'FAILED_PRECONDITION',
  CLUSTER_FORBIDDEN: 'PERMISSION_DENIED',
  CLUSTER_INVALID: 'INVALID_ARGUMENT',
  // INTERNAL, not UNAVAILABLE: the client retries UNAVAILABLE on idempotent calls by itself.
  CLUSTER_UNAVAILABLE: 'INTERNAL',
};

export interface GkeRest extends GkeClusterDirectory {
  server: GkeServer;
  /**
   * Adds a cluster (pools: `nodeCount` per zone). Without `zones`, a regional cluster here has its
   * nodes in one zone (`<region>-a`, as `--node-locations` allows): tests that are about zones say
   * which.
   */
  seed(c: SeedCluster): string;
  setLabels(name: string, labels: Record<string, string>): void;
  failNext(method: GkeMethod, code: ClusterDirectoryErrorCode): void;
  /** The GKE API calls so far (instance group reads left out). */
  readonly calls: Array<{ method: GkeMethod; name: string }>;
}

const started: Array<{ dir: GkeClusterDirectory; server: GkeServer }> = [];
// Registered when a test file imports this (top level: the file's own after hook).
after(async () => {
  for (const s of started.splice(0)) {
    await s.dir.close();
    await s.server.stop();
  }
});

export async function gkeRest(opts: GkeStateOptions = {}): Promise<GkeRest> {
  const server = await startGkeServer({ project: 'demo-ferry', ...opts });
  const dir = new GkeClusterDirectory(server.state.project, { apiEndpoint: server.endpoint, computeEndpoint: server.endpoint });
  started.push({ dir, server });
  const rest = Object.assign(dir, {
    server,
    seed: (c: SeedCluster) => server.state.seed({ ...c, zones: c.zones ?? [/-[a-z]$/.test(c.location) ? c.location : `${c.location}-a`] }),
    setLabels: (n: string, l: Record<string, string>) => server.state.setLabels(n, l),
    failNext: (m: GkeMethod, code: ClusterDirectoryErrorCode) => server.state.failNext(m, STATUS[code]),
  });
  // A getter (Object.assign would copy today's calls once).
  Object.defineProperty(rest, 'calls', { get: () => server.state.calls.filter((c) => c.method !== 'getInstanceGroupManager') });
  return rest as GkeRest;
}

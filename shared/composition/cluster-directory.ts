/**
 * Builds the GKE cluster directory from configuration: GKE (its SDK loads on first use) — at
 * FERRY_GKE_API_ENDPOINT / FERRY_COMPUTE_API_ENDPOINT when set (the local stack's REST server, same
 * client, no credentials) — or none when FERRY_TEARDOWN_CLUSTERS=off.
 */
import type { ClusterCapacity, ClusterDirectory } from '../ports/cluster-directory.ts';
import { GkeClusterDirectory } from '../adapters/cluster-directory-gke.ts';

export interface DirectoryWiring {
  mode: 'gke' | 'off';
  project: string;
  /** `http://host:port` of a GKE API server (FERRY_GKE_API_ENDPOINT): used instead of GKE. */
  apiEndpoint?: string | undefined;
  /** `http://host:port` of a Compute Engine API server (FERRY_COMPUTE_API_ENDPOINT). */
  computeEndpoint?: string | undefined;
}

/** The ClusterDirectory for this configuration: GKE in `project` (or its stand-in), or none (`off`). */
export function clusterDirectory(opts: DirectoryWiring): (ClusterDirectory & { close(): Promise<void> }) | null {
  if (opts.mode === 'off') return null;
  return new GkeClusterDirectory(opts.project, { apiEndpoint: opts.apiEndpoint, computeEndpoint: opts.computeEndpoint });
}

/** The deploy side (onDeployRequest, reconcileRollouts): bring pools back, never list or delete. */
export function capacityDirectory(opts: DirectoryWiring): ClusterCapacity | null {
  return clusterDirectory(opts);
}

/**
 * Builds the GKE cluster directory from configuration: the local stack's fake over loopback when
 * FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST is set, else GKE (its SDK loads on first use), or none when
 * FERRY_TEARDOWN_CLUSTERS=off.
 */
import type { ClusterCapacity, ClusterDirectory } from '../ports/cluster-directory.ts';
import { GkeClusterDirectory } from '../adapters/cluster-directory-gke.ts';
import { HttpClusterDirectory } from '../adapters/cluster-directory-http.ts';

export interface DirectoryWiring {
  mode: 'gke' | 'off';
  project: string;
  /** `127.0.0.1:PORT` of the local stack's fake (FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST): used instead of GKE. */
  emulatorHost?: string | undefined;
}

/** The ClusterDirectory for this configuration: GKE in `project`, the local stack's fake, or none (`off`). */
export function clusterDirectory(opts: DirectoryWiring): (ClusterDirectory & { close(): Promise<void> }) | null {
  if (opts.mode === 'off') return null;
  return opts.emulatorHost ? new HttpClusterDirectory(opts.emulatorHost) : new GkeClusterDirectory(opts.project);
}

/** The deploy side (onDeployRequest, reconcileRollouts): bring pools back, never list or delete. */
export function capacityDirectory(opts: DirectoryWiring): ClusterCapacity | null {
  return clusterDirectory(opts);
}

/**
 * ZoneDirectory: which zones of a target's cluster can run an accelerator.
 * - `local`: the Node objects of the local apiserver (the simulated GKE nodes), by their
 *   `cloud.google.com/gke-accelerator` and `topology.kubernetes.io/zone` labels, through the kube
 *   adapter (ClusterClient.listNodes).
 * - GKE: the cluster's node pools (`@google-cloud/container` listNodePools) whose
 *   `config.accelerators[].acceleratorType` or `config.labels['cloud.google.com/gke-accelerator']`
 *   is the accelerator (TPUs: the `gke-tpu-accelerator` label or the ct5lp-/ct6e- machine type), and their `locations` (or the cluster's when a pool has none). Node pools,
 *   not nodes: a pool scaled to zero (autoscaling from 0) still hosts the pods once they exist.
 */
import { FerryError } from '../domain/errors.ts';
import { ACCELERATOR_NODE_LABEL } from '../domain/rendered-spec.ts';
import { ZONE_NODE_LABEL } from '../domain/cache.ts';
import type { ClusterProvider } from '../ports/cluster.ts';
import type { ZoneDirectory } from '../ports/zones.ts';

const FAILURE_DOMAIN_ZONE = 'failure-domain.beta.kubernetes.io/zone';
/** TPU nodes carry their type in this label instead of ACCELERATOR_NODE_LABEL (cloud.google.com/kubernetes-engine/docs/concepts/plan-tpus). */
const TPU_NODE_LABEL = 'cloud.google.com/gke-tpu-accelerator';
/** TPU node pools have no `accelerators` config: their machine type family says what they are. */
const TPU_MACHINE_PREFIX: Readonly<Record<string, string>> = { 'tpu-v5-lite-podslice': 'ct5lp-', 'tpu-v6e-slice': 'ct6e-' };
const isTpu = (accelerator: string): boolean => accelerator.startsWith('tpu-');
const sorted = (zones: Iterable<string>): string[] => [...new Set(zones)].filter(Boolean).sort();

export function zoneDirectory(opts: { clusters: ClusterProvider }): ZoneDirectory {
  return {
    async acceleratorZones(cluster: string, accelerator: string): Promise<string[]> {
      if (cluster === 'local') {
        const client = await opts.clusters.get(cluster);
        const nodes = await client.listNodes(`${isTpu(accelerator) ? TPU_NODE_LABEL : ACCELERATOR_NODE_LABEL}=${accelerator}`);
        return sorted(
          nodes.filter((n) => !n.spec?.unschedulable).map((n) => n.metadata?.labels?.[ZONE_NODE_LABEL] ?? n.metadata?.labels?.[FAILURE_DOMAIN_ZONE] ?? ''),
        );
      }
      return gkeAcceleratorZones(cluster, accelerator);
    },
  };
}

async function gkeAcceleratorZones(cluster: string, accelerator: string): Promise<string[]> {
  const { v1 } = await import('@google-cloud/container');
  const gke = new v1.ClusterManagerClient();
  const wrap = (e: unknown, what: string): FerryError => {
    const code = (e as { code?: number }).code;
    const message = e instanceof Error ? e.message : String(e);
    if (code === 5) return new FerryError('CLUSTER_DELETED', `GKE cluster ${cluster} does not exist (${what})`, { cause: e });
    if (code === 7 || code === 16)
      return new FerryError('CLUSTER_FORBIDDEN', `not allowed to ${what} of ${cluster}: ${message}`, {
        cause: e,
        hint: 'Grant roles/container.viewer (or container.developer).',
      });
    return new FerryError('CLUSTER_UNAVAILABLE', `GKE ${what} of ${cluster} failed: ${message}`, { cause: e, retryable: true });
  };
  try {
    let pools;
    try {
      [{ nodePools: pools }] = await gke.listNodePools({ parent: cluster });
    } catch (e) {
      throw wrap(e, 'list node pools');
    }
    const hosting = (pools ?? []).filter(
      (p) =>
        (p.config?.accelerators ?? []).some((a) => a.acceleratorType === accelerator) ||
        p.config?.labels?.[ACCELERATOR_NODE_LABEL] === accelerator ||
        p.config?.labels?.[TPU_NODE_LABEL] === accelerator ||
        (TPU_MACHINE_PREFIX[accelerator] !== undefined && (p.config?.machineType ?? '').startsWith(TPU_MACHINE_PREFIX[accelerator])),
    );
    if (hosting.length === 0) return [];
    let clusterZones: string[] | undefined;
    const zones: string[] = [];
    for (const p of hosting) {
      if (p.locations?.length) {
        zones.push(...p.locations);
        continue;
      }
      if (!clusterZones) {
        try {
          const [info] = await gke.getCluster({ name: cluster });
          clusterZones = info.locations?.length ? info.locations : info.location && /-[a-z]$/.test(info.location) ? [info.location] : [];
        } catch (e) {
          throw wrap(e, 'read the cluster');
        }
      }
      zones.push(...clusterZones);
    }
    return sorted(zones);
  } finally {
    await gke.close().catch(() => undefined);
  }
}

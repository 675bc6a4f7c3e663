/**
 * Names and keys, one vocabulary for every module: model and version names, targets and their
 * key, cluster names. Pure.
 *
 * Naming choices (documented because other modules depend on them):
 * - model / version: `NAME_RE` from upload.ts (1–63 chars of `A-Z a-z 0-9 . _ -`, starting with a
 *   letter or digit), case preserved because GCS paths are case-sensitive. The same rule as uploads,
 *   so every uploaded version is deployable. `version: "latest"` is a keyword (newest valid version),
 *   resolved by the app layer before rendering; upload.ts refuses a version literally named latest.
 * - target.namespace: DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63).
 * - target.name: DNS-1035 label (`[a-z]([-a-z0-9]*[a-z0-9])?`, ≤ 63) — stricter than a Deployment
 *   needs, because ferry creates a Service of the same name and Service names must be DNS-1035.
 * - target.cluster: `local` or `projects/<project id or number>/locations/<region|zone>/clusters/<name>`.
 */
import { z } from 'zod';
import { NAME_RE } from './upload.ts';

/** Version keyword: the newest valid version of the model at the time the rollout starts. */
export const LATEST = 'latest';

// ---------------------------------------------------------------------------------------------
// Names

export const DNS1123_LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS1035_LABEL_RE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** GCP project id (6–30, starts with a letter) or project number. Domain-scoped ids are not supported. */
const PROJECT_RE = '(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})';
/** Region (`us-central1`) or zone (`europe-west4-a`). */
const LOCATION_RE = '[a-z]+-[a-z]+[0-9]+(?:-[a-z])?';
/** GKE cluster name: 1–40 chars, lowercase letters, digits and hyphens, starting with a letter. */
const GKE_CLUSTER_NAME_RE = '[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?';
export const GKE_CLUSTER_RE = new RegExp(
  `^projects/(${PROJECT_RE})/locations/(${LOCATION_RE})/clusters/(${GKE_CLUSTER_NAME_RE})$`,
);
export const LOCAL_CLUSTER = 'local';

export const ModelRef = z
  .string()
  .regex(NAME_RE, 'model names are 1-63 chars of A-Z a-z 0-9 . _ - starting with a letter or digit');
export const VersionRef = z
  .string()
  .regex(NAME_RE, 'versions are "latest" or 1-63 chars of A-Z a-z 0-9 . _ - starting with a letter or digit');

export const ClusterName = z
  .string()
  .refine(
    (c) => c === LOCAL_CLUSTER || GKE_CLUSTER_RE.test(c),
    'cluster must be "local" or a GKE resource name projects/P/locations/L/clusters/C',
  );

export const Target = z
  .object({
    cluster: ClusterName,
    namespace: z
      .string()
      .regex(DNS1123_LABEL_RE, 'namespace must be a DNS-1123 label (lowercase a-z 0-9 -, at most 63 chars)'),
    name: z
      .string()
      .regex(
        DNS1035_LABEL_RE,
        'name must be a DNS-1035 label (lowercase a-z 0-9 -, starts with a letter, at most 63 chars): it names a Deployment and a Service',
      ),
  })
  .strict();
export type Target = z.infer<typeof Target>;

export type ParsedCluster =
  | { kind: 'local' }
  | { kind: 'gke'; project: string; location: string; name: string };

/** Splits a validated cluster name; throws nothing, returns null for an invalid one. */
export function parseClusterName(cluster: string): ParsedCluster | null {
  if (cluster === LOCAL_CLUSTER) return { kind: 'local' };
  const m = GKE_CLUSTER_RE.exec(cluster);
  if (!m) return null;
  return { kind: 'gke', project: m[1]!, location: m[2]!, name: m[3]! };
}

/**
 * Whether two cluster names can denote the same cluster. GKE accepts a project's id or its number
 * in a resource name, and ferry cannot map one to the other offline, so a numbered project matches
 * any project with the same location and cluster name. Teardown uses this to find what runs on a
 * cluster: erring towards "same" only ever keeps a cluster up.
 */
export function sameCluster(a: string, b: string): boolean {
  if (a === b) return true;
  // Loosely split (names come from GKE as well as from requests): projects/P/locations/L/clusters/C.
  const split = (c: string) => /^projects\/([^/]+)\/locations\/([^/]+)\/clusters\/([^/]+)$/.exec(c);
  const pa = split(a);
  const pb = split(b);
  if (!pa || !pb || pa[2] !== pb[2] || pa[3] !== pb[3]) return false;
  const numbered = (p: string) => /^[0-9]+$/.test(p);
  return pa[1] === pb[1] || numbered(pa[1]!) || numbered(pb[1]!);
}

/**
 * A stable, Firestore-safe document id for a target: `<cluster>~<namespace>~<name>`, where a GKE
 * cluster becomes `<project>.<location>.<cluster>` and the local one `local`. Injective for valid
 * targets: none of the parts can contain `~` or `.` (and only GKE clusters contain `.`). No `/`,
 * never `.`/`..`, never `__…__`.
 */
export function targetKey(target: Target): string {
  const c = parseClusterName(target.cluster);
  if (!c) throw new TypeError(`invalid cluster ${JSON.stringify(target.cluster)}`);
  const cluster = c.kind === 'local' ? LOCAL_CLUSTER : `${c.project}.${c.location}.${c.name}`;
  return `${cluster}~${target.namespace}~${target.name}`;
}

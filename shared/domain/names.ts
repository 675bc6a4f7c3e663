/**
 * Names and keys, one vocabulary for every module: model and version names, targets and their
 * key, cluster names and keys, zones, cache ids. Pure. Every Firestore document id ferry derives
 * from a name is built here and nowhere else (shared/adapters/firestore-migrations.ts moves
 * documents stored under an older spelling).
 *
 * Naming choices (documented because other modules depend on them):
 * - model / version: `NAME_RE` (1–63 chars of `A-Z a-z 0-9 . _ -`, starting with a letter or
 *   digit), case preserved because GCS paths are case-sensitive. Uploads and deploy requests use the
 *   same rule, so every uploaded version is deployable. `version: "latest"` is a keyword (newest
 *   valid version) in requests, resolved by the app layer before rendering; an upload may not name a
 *   version latest (`VersionName`).
 * - target.namespace: DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63).
 * - target.name: DNS-1035 label (`[a-z]([-a-z0-9]*[a-z0-9])?`, ≤ 63) — stricter than a Deployment
 *   needs, because ferry creates a Service of the same name and Service names must be DNS-1035.
 * - target.cluster: `local` or `projects/<project id or number>/locations/<region|zone>/clusters/<name>`.
 */
import { z } from 'zod';

/** Version keyword: the newest valid version of the model at the time the rollout starts. */
export const LATEST = 'latest';

/** Model and version names: safe in GCS paths, Firestore ids, Kubernetes label values and URLs. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const ModelName = z.string().regex(NAME_RE, 'model names are 1-63 chars of A-Z a-z 0-9 . _ - starting with a letter or digit');
/** The name of an uploaded version ("latest" is reserved). */
export const VersionName = z
  .string()
  .regex(NAME_RE, 'version names are 1-63 chars of A-Z a-z 0-9 . _ - starting with a letter or digit')
  .refine((v) => v !== LATEST, '"latest" is reserved (it means the newest valid version)');

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
export const GKE_CLUSTER_RE = new RegExp(`^projects/(${PROJECT_RE})/locations/(${LOCATION_RE})/clusters/(${GKE_CLUSTER_NAME_RE})$`);
export const LOCAL_CLUSTER = 'local';

/** A version as a request names it: a version name or "latest". */
export const VersionRef = z.string().regex(NAME_RE, 'versions are "latest" or 1-63 chars of A-Z a-z 0-9 . _ - starting with a letter or digit');

export const ClusterName = z
  .string()
  .refine((c) => c === LOCAL_CLUSTER || GKE_CLUSTER_RE.test(c), 'cluster must be "local" or a GKE resource name projects/P/locations/L/clusters/C');

export const Target = z
  .object({
    cluster: ClusterName,
    namespace: z.string().regex(DNS1123_LABEL_RE, 'namespace must be a DNS-1123 label (lowercase a-z 0-9 -, at most 63 chars)'),
    name: z
      .string()
      .regex(
        DNS1035_LABEL_RE,
        'name must be a DNS-1035 label (lowercase a-z 0-9 -, starts with a letter, at most 63 chars): it names a Deployment and a Service',
      ),
  })
  .strict();
export type Target = z.infer<typeof Target>;

export type ParsedCluster = { kind: 'local' } | { kind: 'gke'; project: string; location: string; name: string };

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
 * A cluster's key: the one spelling of a cluster inside Firestore document ids (`targets`,
 * `targetActivity`, `scaledDownClusters`). `local`, or `<project>.<location>.<cluster>` for a GKE
 * cluster (document ids cannot hold `/`). Null for a name that is neither (never for a valid
 * Target's cluster). Injective: no part of a GKE name can contain `.`, and `local` has none.
 */
export function clusterKey(cluster: string): string | null {
  const c = parseClusterName(cluster);
  if (!c) return null;
  return c.kind === 'local' ? LOCAL_CLUSTER : `${c.project}.${c.location}.${c.name}`;
}

/**
 * A stable, Firestore-safe document id for a target: `<clusterKey>~<namespace>~<name>`. Injective
 * for valid targets: none of the parts can contain `~`. No `/`, never `.`/`..`, never `__…__`.
 * The only key of a target: `targets/{key}`, `targetActivity/{key}`, `Rollout.targetKey`, cache
 * records' users and the autodeploy targets a validation claim still has to publish.
 */
export function targetKey(target: Pick<Target, 'cluster' | 'namespace' | 'name'>): string {
  const cluster = clusterKey(target.cluster);
  if (cluster === null) throw new TypeError(`invalid cluster ${JSON.stringify(target.cluster)}`);
  return `${cluster}~${target.namespace}~${target.name}`;
}

// ---------------------------------------------------------------------------------------------
// Zones and caches

/** A Compute Engine zone, e.g. `us-central1-a`. */
export const ZONE_RE = /^[a-z]+-[a-z]+[0-9]+-[a-z]$/;

/**
 * The id of an Anywhere Cache in ferry's own vocabulary: `<bucket>~<zone>`, the document id of its
 * record (`caches/{id}`) and how messages name it. (The API's resource name is
 * cache.ts cacheResourceName.)
 */
export const cacheId = (bucket: string, zone: string): string => `${bucket}~${zone}`;

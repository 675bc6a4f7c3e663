/**
 * Anywhere Cache rules, pure: which zones a bucket can be cached in, which zones a rollout caches
 * (and which one it pins its pods to), what to do with one zone's cache given what the API shows,
 * and the Firestore record `caches/{bucket}~{zone}` that tracks a cache and who relies on it.
 *
 * Zone ↔ bucket location (cloud.google.com/storage/docs/anywhere-cache: "the cache must be created in
 * a zone within the location of your bucket"; the dual- and multi-region rows are ferry's reading of
 * that sentence, not an upstream list: see docs/UPSTREAM.md). The table used:
 *
 * | bucket location                         | regions whose zones may hold a cache            |
 * |-----------------------------------------|--------------------------------------------------|
 * | region, e.g. `US-CENTRAL1`              | that region                                      |
 * | configurable dual-region (dataLocations)| the two `dataLocations`                          |
 * | `NAM4`                                  | us-central1, us-east1                            |
 * | `EUR4`                                  | europe-north1, europe-west4                      |
 * | `ASIA1`                                 | asia-northeast1, asia-northeast2                 |
 * | `US`                                    | every `us-*` region                              |
 * | `EU`                                    | every `europe-*` region except europe-west2 (London) and europe-west6 (Zurich), which are outside the EU |
 * | `ASIA`                                  | every `asia-*` region                            |
 * | anything else (a location ferry does not know) | undecided: allowed with a warning; the API has the last word |
 *
 * Anywhere Cache is not offered in every zone of those regions: a zone that passes this check can
 * still be refused by the API (INVALID_ARGUMENT), which ferry records as a failed cache and the
 * rollout goes on without it, with a warning.
 *
 * Cache states are compared case-insensitively (storage_control.proto in @google-cloud/storage-control
 * 0.8.2 documents `RUNNING, CREATING, DISABLED and PAUSED`; either case is accepted):
 * everything here is lowercase.
 */
import { z } from 'zod';
import { CACHE_ADMISSION_POLICIES, type CacheOptions } from './deploy-request.ts';
import { ZONE_RE } from './names.ts';
import type { CacheRecord } from './cache-record.ts';

// ---------------------------------------------------------------------------------------------
// States

/** States the Anywhere Cache API reports (lowercased). */
export const CACHE_API_STATES = ['creating', 'running', 'paused', 'disabled'] as const;
export type CacheApiState = (typeof CACHE_API_STATES)[number];
/**
 * What ferry knows of a zone's cache: an API state, or `absent` (no cache), `failed` (creating it
 * failed for good, e.g. the zone is not supported), `unknown` (the API could not be asked).
 */
export const CACHE_STATES = [...CACHE_API_STATES, 'absent', 'failed', 'unknown'] as const;
export const CacheState = z.enum(CACHE_STATES);
export type CacheState = z.infer<typeof CacheState>;

/** `RUNNING`, `running`, `Running` → `running`; anything unrecognised → `unknown`. */
export function normalizeCacheState(raw: string | null | undefined): CacheState {
  const s = (raw ?? '').trim().toLowerCase();
  return (CACHE_API_STATES as readonly string[]).includes(s) ? (s as CacheApiState) : 'unknown';
}

export type CacheAdmissionPolicy = (typeof CACHE_ADMISSION_POLICIES)[number];
/** Defaults of the API: TTL 24 h, admit on first miss. */
export const DEFAULT_CACHE_TTL_SECONDS = 86_400;
export const DEFAULT_ADMISSION_POLICY: CacheAdmissionPolicy = 'admit-on-first-miss';
/** How long a rollout waits for its caches to run when the request does not say (cache.maxWaitSeconds). */
export const DEFAULT_CACHE_MAX_WAIT_SECONDS = 600;
/** A disabled cache can be resumed for this long; then the service deletes it. */
export const DISABLED_GRACE_SECONDS = 3600;
/** A cache whose creation failed is not tried again for this long (no create storm every tick). */
export const FAILED_RETRY_SECONDS = 600;
/** lastUsedAt is refreshed for a running Deployment at most this often. */
export const LAST_USED_RESOLUTION_SECONDS = 60;
/** The node label that carries a node's zone (GKE sets it; so does the local simulator). */
export const ZONE_NODE_LABEL = 'topology.kubernetes.io/zone';

/** The API's resource name; the project segment is `_` (the bucket names the project). */
export const cacheResourceName = (bucket: string, zone: string): string => `projects/_/buckets/${bucket}/anywhereCaches/${zone}`;
/** Firestore id of a cache record: `<bucket>~<zone>` (neither part can contain `~` or `/`). */

// ---------------------------------------------------------------------------------------------
// Zones and bucket locations

export const LOCATION_TYPES = ['region', 'dual-region', 'multi-region'] as const;
export const BucketLocation = z.object({
  /** As GCS reports it, uppercase: `US-CENTRAL1`, `NAM4`, `US`. */
  location: z.string().min(1),
  locationType: z.enum(LOCATION_TYPES),
  /** Regions of a configurable dual-region (customPlacementConfig.dataLocations), uppercase. */
  dataLocations: z.array(z.string()).optional(),
});
export type BucketLocation = z.infer<typeof BucketLocation>;

export const PREDEFINED_DUAL_REGIONS: Readonly<Record<string, readonly string[]>> = {
  NAM4: ['us-central1', 'us-east1'],
  EUR4: ['europe-north1', 'europe-west4'],
  ASIA1: ['asia-northeast1', 'asia-northeast2'],
};
export const MULTI_REGIONS: Readonly<Record<string, { prefix: string; except: readonly string[] }>> = {
  US: { prefix: 'us-', except: [] },
  EU: { prefix: 'europe-', except: ['europe-west2', 'europe-west6'] },
  ASIA: { prefix: 'asia-', except: [] },
};
const REGION_RE = /^[a-z]+-[a-z]+[0-9]+$/;

/** `us-central1-a` → `us-central1`; null when it is not a zone name. */
export function regionOfZone(zone: string): string | null {
  return ZONE_RE.test(zone) ? zone.slice(0, zone.lastIndexOf('-')) : null;
}

/**
 * A location as GCS reports it (location + locationType, maybe dataLocations), made whole: the type
 * is inferred when absent (a region name, a predefined dual-region, else a multi-region).
 */
export function bucketLocation(location: string, locationType?: string | null, dataLocations?: readonly string[] | null): BucketLocation {
  const loc = location.trim().toUpperCase();
  const given = (locationType ?? '').trim().toLowerCase();
  const type: BucketLocation['locationType'] = (LOCATION_TYPES as readonly string[]).includes(given)
    ? (given as BucketLocation['locationType'])
    : REGION_RE.test(loc.toLowerCase())
      ? 'region'
      : loc in PREDEFINED_DUAL_REGIONS || (dataLocations?.length ?? 0) > 0
        ? 'dual-region'
        : 'multi-region';
  return { location: loc, locationType: type, ...(dataLocations && dataLocations.length ? { dataLocations: dataLocations.map((d) => d.toUpperCase()) } : {}) };
}

export type ZoneVerdict = { ok: true } | { ok: false; reason: string } | { ok: 'unknown'; reason: string };

/** Which regions a location covers, in words, and a predicate; null when ferry does not know it. */
function locationRule(loc: BucketLocation): { allows: (region: string) => boolean; describe: string } | null {
  const name = loc.location.toLowerCase();
  if (loc.locationType === 'region') return { allows: (r) => r === name, describe: `a region: only ${name}-* zones` };
  if (loc.locationType === 'dual-region') {
    const regions = loc.dataLocations?.length ? loc.dataLocations.map((d) => d.toLowerCase()) : PREDEFINED_DUAL_REGIONS[loc.location];
    if (!regions) return null;
    return { allows: (r) => regions.includes(r), describe: `a dual-region: zones of ${regions.join(' and ')}` };
  }
  const multi = MULTI_REGIONS[loc.location];
  if (!multi) return null;
  const except = multi.except.length ? ` except ${multi.except.join(', ')}` : '';
  return { allows: (r) => r.startsWith(multi.prefix) && !multi.except.includes(r), describe: `a multi-region: zones of ${multi.prefix}* regions${except}` };
}

/** Can `bucket` (at `loc`) have an Anywhere Cache in `zone`? */
export function zoneInBucketLocation(zone: string, bucket: string, loc: BucketLocation): ZoneVerdict {
  const region = regionOfZone(zone);
  if (!region) return { ok: false, reason: `${JSON.stringify(zone)} is not a zone name (zones look like us-central1-a)` };
  const rule = locationRule(loc);
  if (!rule)
    return {
      ok: 'unknown',
      reason: `ferry does not know which regions ${loc.locationType} ${loc.location} covers; the API decides whether ${zone} can cache gs://${bucket}`,
    };
  if (rule.allows(region)) return { ok: true };
  return {
    ok: false,
    reason: `zone ${zone} cannot cache gs://${bucket}: the bucket is in ${loc.location} (${rule.describe}); a cache must be in a zone inside the bucket's location`,
  };
}

// ---------------------------------------------------------------------------------------------
// The rollout's cache plan (stored on the rollout)

export const CACHE_PLAN_MODES = ['all-zones', 'pin-one-zone'] as const;
export const CacheObservation = z.object({
  zone: z.string(),
  state: CacheState,
  message: z.string().optional(),
});
export type CacheObservation = z.infer<typeof CacheObservation>;

export const RolloutCachePlan = z.object({
  bucket: z.string(),
  mode: z.enum(CACHE_PLAN_MODES),
  /** The zones whose caches must run before applying (one for pin-one-zone). */
  zones: z.array(z.string().regex(ZONE_RE)).min(1),
  /** pin-one-zone: the zone the pods are pinned to (`topology.kubernetes.io/zone` node selector). */
  pinnedZone: z.string().nullable(),
  /** Wished TTL / admission policy; null = whatever the cache has (API default when creating). */
  ttlSeconds: z.int().nullable(),
  admissionPolicy: z.enum(CACHE_ADMISSION_POLICIES).nullable(),
  maxWaitSeconds: z.int().min(0),
  /** The caches' states as last observed in the caching phase. */
  observed: z.array(CacheObservation),
  /** What the plan or the caching phase had to give up on (zones dropped, caches not ready, …). */
  warnings: z.array(z.string()),
});
export type RolloutCachePlan = z.infer<typeof RolloutCachePlan>;

export interface PlanCacheInput {
  cache: CacheOptions;
  bucket: string;
  location: BucketLocation;
  accelerator: string;
  cluster: string;
  /** Zones whose nodes (node pools) can host the accelerator; null when they could not be listed. */
  hostZones: readonly string[] | null;
  /** Zones that have a RUNNING cache of the bucket now (for pin-one-zone). */
  runningZones: readonly string[];
  defaultMaxWaitSeconds?: number;
}

export type PlanCacheResult =
  | { ok: true; plan: RolloutCachePlan; nodeSelectorExtra: Record<string, string>; warnings: string[] }
  | { ok: false; reason: 'CACHE_ZONE_OUTSIDE_BUCKET_LOCATION' | 'CACHE_NO_ZONES'; message: string };

const uniq = (xs: readonly string[]): string[] => [...new Set(xs)];

/**
 * Which zones a rollout caches. Zones come from the request (`cache.zones`) or else from the zones
 * that can host the accelerator; zones outside the bucket's location are refused when the request
 * names them, dropped with a warning when they come from the cluster. pin-one-zone keeps one zone:
 * the first candidate that already has a RUNNING cache, else the first candidate, and pins the pods
 * to it. Call only with a mode other than `off`.
 */
export function planCache(input: PlanCacheInput): PlanCacheResult {
  const { cache, bucket, location } = input;
  if (cache.mode === 'off') throw new TypeError('planCache: cache mode is off');
  const warnings: string[] = [];
  const host = input.hostZones === null ? null : uniq(input.hostZones).sort();
  let candidates: string[];
  if (cache.zones) {
    const requested = uniq(cache.zones);
    for (const zone of requested) {
      const v = zoneInBucketLocation(zone, bucket, location);
      if (v.ok === false) return { ok: false, reason: 'CACHE_ZONE_OUTSIDE_BUCKET_LOCATION', message: v.reason };
      if (v.ok === 'unknown') warnings.push(v.reason);
    }
    candidates = requested;
    if (host !== null) {
      const idle = requested.filter((z) => !host.includes(z));
      if (idle.length) {
        warnings.push(
          `no ${input.accelerator} nodes in ${idle.join(', ')} (nodes are in ${host.join(', ') || 'no zone'}): a cache there serves no pod of this target`,
        );
      }
      const useful = requested.filter((z) => host.includes(z));
      if (cache.mode === 'pin-one-zone' && useful.length) candidates = useful;
    }
  } else {
    if (!host || host.length === 0) {
      return {
        ok: false,
        reason: 'CACHE_NO_ZONES',
        message: `no node pool of cluster ${input.cluster} can host ${input.accelerator}, so there is no zone to cache gs://${bucket} in; name the zones in cache.zones or set cache.mode to off`,
      };
    }
    candidates = [];
    const outside: string[] = [];
    for (const zone of host) {
      const v = zoneInBucketLocation(zone, bucket, location);
      if (v.ok === false) outside.push(zone);
      else {
        if (v.ok === 'unknown') warnings.push(v.reason);
        candidates.push(zone);
      }
    }
    if (candidates.length === 0) {
      const rule = zoneInBucketLocation(host[0]!, bucket, location);
      return {
        ok: false,
        reason: 'CACHE_ZONE_OUTSIDE_BUCKET_LOCATION',
        message:
          `the ${input.accelerator} nodes of cluster ${input.cluster} are in ${host.join(', ')}, none of them inside the location of gs://${bucket}: ${rule.ok === false ? rule.reason : ''}`.trim(),
      };
    }
    if (outside.length) warnings.push(`not caching ${outside.join(', ')}: outside the location of gs://${bucket} (${location.location})`);
  }
  let zones = candidates;
  let pinnedZone: string | null = null;
  if (cache.mode === 'pin-one-zone') {
    pinnedZone = candidates.find((z) => input.runningZones.includes(z)) ?? candidates[0]!;
    zones = [pinnedZone];
  }
  const plan: RolloutCachePlan = {
    bucket,
    mode: cache.mode,
    zones,
    pinnedZone,
    ttlSeconds: cache.ttlSeconds ?? null,
    admissionPolicy: cache.admissionPolicy ?? null,
    maxWaitSeconds: cache.maxWaitSeconds ?? input.defaultMaxWaitSeconds ?? DEFAULT_CACHE_MAX_WAIT_SECONDS,
    observed: [],
    warnings,
  };
  return { ok: true, plan, nodeSelectorExtra: pinnedZone ? { [ZONE_NODE_LABEL]: pinnedZone } : {}, warnings };
}

// ---------------------------------------------------------------------------------------------
// One zone's cache: what the API shows, what to do

/** A cache as the API shows it (the CacheControl port's view). */
export interface LiveCache {
  name: string;
  bucket: string;
  zone: string;
  state: CacheState;
  /** The state string as the API sent it. */
  rawState: string;
  ttlSeconds: number | null;
  admissionPolicy: string | null;
  pendingUpdate: boolean;
  createTime?: string | undefined;
  updateTime?: string | undefined;
}

export interface DesiredCache {
  ttlSeconds: number | null;
  admissionPolicy: string | null;
}

export type CacheDecision =
  | { kind: 'create' }
  | { kind: 'resume' }
  | { kind: 'update'; ttlSeconds: number | null; admissionPolicy: string | null }
  | { kind: 'wait'; why: string }
  | { kind: 'none' };

/**
 * Create if absent, resume if paused or disabled, update TTL / admission policy when they differ
 * from the wish (not while an update is pending), else wait (creating) or nothing (running).
 * A cache whose creation failed is not created again within FAILED_RETRY_SECONDS.
 */
export function decideCacheAction(desired: DesiredCache, live: LiveCache | null, record: CacheRecord | undefined, now: Date): CacheDecision {
  if (!live) {
    const failedAt = record?.state === 'failed' ? record.lastError?.at : undefined;
    if (failedAt && (now.getTime() - Date.parse(failedAt)) / 1000 < FAILED_RETRY_SECONDS) {
      return { kind: 'wait', why: `creating it failed at ${failedAt}: ${record?.lastError?.message ?? ''}` };
    }
    return { kind: 'create' };
  }
  switch (live.state) {
    case 'paused':
    case 'disabled':
      return { kind: 'resume' };
    case 'creating':
      return { kind: 'wait', why: 'the cache is being created' };
    case 'running': {
      const ttl = desired.ttlSeconds !== null && desired.ttlSeconds !== live.ttlSeconds ? desired.ttlSeconds : null;
      const policy = desired.admissionPolicy !== null && desired.admissionPolicy !== live.admissionPolicy ? desired.admissionPolicy : null;
      if (ttl === null && policy === null) return { kind: 'none' };
      if (live.pendingUpdate) return { kind: 'wait', why: 'an update of the cache is still pending' };
      return { kind: 'update', ttlSeconds: ttl, admissionPolicy: policy };
    }
    default:
      return { kind: 'wait', why: `the cache is ${live.rawState || 'in an unknown state'}` };
  }
}

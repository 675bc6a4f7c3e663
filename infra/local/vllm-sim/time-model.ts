/**
 * The serving stand-in's time model and the zonal cache's contents (pure; docs/serving-sim.md "Time").
 *
 * A weight load reads every byte of every listed shard either from the bucket or from the Anywhere
 * (Rapid) Cache in the pod's zone. What each read is served from follows Google's rules for that cache:
 *  - only reads from a VM in the cache's zone are served by, and ingested into, that cache; data is
 *    ingested on a cache miss (docs.cloud.google.com/storage/docs/rapid/rapid-cache "How does it
 *    work?"; docs/UPSTREAM.md S12);
 *  - the admission policy decides, per miss, whether the missed data is inserted: `admit-on-first-miss`
 *    (default) inserts it at the first miss, `admit-on-second-miss` only at the second
 *    (@google-cloud/storage-control 0.8.2 build/protos/google/storage/control/v2/storage_control.proto
 *    #L982-986, AnywhereCache.admission_policy = 9;
 *    gcloud storage buckets anywhere-caches create --admission-policy; UPSTREAM S12);
 *  - `ttl` is "how long a cache entry can live" (same proto #L976-980, AnywhereCache.ttl = 3): an entry
 *    older than the cache's TTL is gone and the next read misses again (UPSTREAM S14);
 *  - the cache is strongly consistent: a new generation of an object is a different entry.
 *
 * Rates (bytes/s), each configurable on the stack (ServingSimOptions):
 *  - from the bucket: DEFAULT_BUCKET_BYTES_PER_SECOND, 1.1 GiB/s, the Run:ai streamer's GCS rate on an
 *    L4 node as issue #18 states it (UPSTREAM V21 says what that figure does and does not rest on);
 *  - from the cache: the cache's bandwidth limit, which "starts at 100 Gbps and scales at the rate of
 *    20 Gbps per 1 TiB of stored data" (rapid-cache "Cache size and bandwidth limit autoscaling";
 *    UPSTREAM S13), shared by the loads that read from it at once, and capped by what one pod can take
 *    (`cacheClientBytesPerSecond`, unlimited by default: the VM's NIC is not modelled).
 */

export const GiB = 2 ** 30;
export const TiB = 2 ** 40;

/** Run:ai streamer from GCS on an L4 node (issue #18's figure; UPSTREAM V21). */
export const DEFAULT_BUCKET_BYTES_PER_SECOND = 1.1 * GiB;
/** Rapid Cache bandwidth limit: 100 Gbps to start … (rapid-cache docs; UPSTREAM S13). */
export const CACHE_BASE_BITS_PER_SECOND = 100e9;
/** … plus 20 Gbps per TiB of data stored in the cache. */
export const CACHE_BITS_PER_SECOND_PER_TIB = 20e9;

export const ADMISSION_POLICIES = ['admit-on-first-miss', 'admit-on-second-miss'] as const;
export type AdmissionPolicy = (typeof ADMISSION_POLICIES)[number];

/** The cache's bandwidth limit (bytes/s) when it stores `storedBytes`. */
export function cacheBandwidthLimit(storedBytes: number): number {
  return (CACHE_BASE_BITS_PER_SECOND + (CACHE_BITS_PER_SECOND_PER_TIB * Math.max(0, storedBytes)) / TiB) / 8;
}

/** The rate one load gets from the cache: its share of the cache's limit, capped by the client. */
export function cacheRateForLoad(storedBytes: number, concurrentLoads: number, clientCap: number = Infinity): number {
  return Math.min(cacheBandwidthLimit(storedBytes) / Math.max(1, concurrentLoads), clientCap);
}

/** Whether a miss inserts the missed data, given how many misses of it the cache saw before this one. */
export function admitsOnMiss(policy: string, missesBefore: number): boolean {
  // An unknown policy string cannot reach here through the API (the server validates it); read it as the default.
  return policy === 'admit-on-second-miss' ? missesBefore >= 1 : true;
}

export interface ObjectRead {
  name: string;
  /** The object's generation (the cache is consistent: another generation is another entry). */
  generation: string;
  bytes: number;
}

export interface ReadOutcome {
  name: string;
  bytes: number;
  source: 'cache' | 'bucket';
  /** The miss inserted the object (it will be served from the cache next time). */
  ingested: boolean;
}

/** What one cache holds: objects ingested (with when), and the misses not yet admitted. */
export class CacheContents {
  private readonly entries = new Map<string, { bytes: number; ingestedAt: number }>();
  private readonly misses = new Map<string, number>();

  private static key(o: Pick<ObjectRead, 'name' | 'generation'>): string {
    return `${o.name}#${o.generation}`;
  }

  private expire(nowMs: number, ttlSeconds: number): void {
    for (const [k, e] of this.entries) if (nowMs - e.ingestedAt >= ttlSeconds * 1000) this.entries.delete(k);
  }

  /** Serves one read of a whole object: a hit, or a miss that the policy may admit. */
  read(o: ObjectRead, policy: string, nowMs: number, ttlSeconds: number): ReadOutcome {
    this.expire(nowMs, ttlSeconds);
    const k = CacheContents.key(o);
    if (this.entries.has(k)) return { name: o.name, bytes: o.bytes, source: 'cache', ingested: false };
    const before = this.misses.get(k) ?? 0;
    if (admitsOnMiss(policy, before)) {
      this.entries.set(k, { bytes: o.bytes, ingestedAt: nowMs });
      this.misses.delete(k);
      return { name: o.name, bytes: o.bytes, source: 'bucket', ingested: true };
    }
    this.misses.set(k, before + 1);
    return { name: o.name, bytes: o.bytes, source: 'bucket', ingested: false };
  }

  storedBytes(nowMs: number, ttlSeconds: number): number {
    this.expire(nowMs, ttlSeconds);
    let n = 0;
    for (const e of this.entries.values()) n += e.bytes;
    return n;
  }
}

export interface LoadSplit {
  cacheBytes: number;
  bucketBytes: number;
}

/** Sums a load's reads by source. */
export function splitBySource(reads: readonly Pick<ReadOutcome, 'bytes' | 'source'>[]): LoadSplit {
  let cacheBytes = 0;
  let bucketBytes = 0;
  for (const r of reads) {
    if (r.source === 'cache') cacheBytes += r.bytes;
    else bucketBytes += r.bytes;
  }
  return { cacheBytes, bucketBytes };
}

/** Modelled seconds of a load: bucket bytes at the bucket's rate plus cache bytes at the cache's. */
export function modelledLoadSeconds(split: LoadSplit, rates: { bucketBytesPerSecond: number; cacheBytesPerSecond: number }): number {
  const fromBucket = split.bucketBytes / rates.bucketBytesPerSecond;
  const fromCache = split.cacheBytes === 0 ? 0 : split.cacheBytes / rates.cacheBytesPerSecond;
  return fromBucket + fromCache;
}

/** The stack's settings of the time model, from its environment (docs/serving-sim.md "Time"). */
export const SERVING_RATE_ENV = {
  bucket: 'FERRY_SIM_BUCKET_BYTES_PER_SECOND',
  cacheClient: 'FERRY_SIM_CACHE_CLIENT_BYTES_PER_SECOND',
} as const;

/**
 * Reads FERRY_SIM_BUCKET_BYTES_PER_SECOND and FERRY_SIM_CACHE_CLIENT_BYTES_PER_SECOND: a positive
 * number of bytes/s, with an optional binary suffix (`1.1Gi`, `800Mi`). Unset: the default. A value
 * that is not one is an error naming the variable (the stack refuses to start with it).
 */
export function servingRatesFromEnv(env: Record<string, string | undefined>): { bytesPerSecond?: number; cacheClientBytesPerSecond?: number } {
  const parse = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    const m = /^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti)?\s*$/.exec(raw);
    const mult = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 } as const;
    const v = m ? Number(m[1]) * (m[2] ? mult[m[2] as keyof typeof mult] : 1) : NaN;
    if (!(v > 0) || !Number.isFinite(v))
      throw new Error(`${name} must be a positive number of bytes per second (e.g. 1.1Gi or 1181116006), got ${JSON.stringify(raw)}`);
    return v;
  };
  const bytesPerSecond = parse(SERVING_RATE_ENV.bucket);
  const cacheClientBytesPerSecond = parse(SERVING_RATE_ENV.cacheClient);
  return { ...(bytesPerSecond !== undefined ? { bytesPerSecond } : {}), ...(cacheClientBytesPerSecond !== undefined ? { cacheClientBytesPerSecond } : {}) };
}

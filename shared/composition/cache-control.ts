/**
 * Builds the Anywhere Cache dependencies from configuration: the production Storage Control adapter
 * always (its SDK is loaded on first use, so functions that never touch a cache do not pay for it),
 * pointed at FERRY_STORAGE_CONTROL_API_ENDPOINT when set (the local stack's wire-protocol server),
 * else at the real API; Firestore records; zones from the cluster; the bucket location from
 * FERRY_BUCKET_LOCATION or the bucket's metadata.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { Storage } from '@google-cloud/storage';
import type { CacheControl } from '../ports/cache-control.ts';
import type { ClusterProvider } from '../ports/cluster.ts';
import type { CacheDeps } from '../ports/caches.ts';
import { FirestoreCacheRecords } from '../adapters/firestore-caches.ts';
import { zoneDirectory } from '../adapters/cluster-zones.ts';
import { bucketInfo } from '../adapters/bucket-info.ts';

export interface CacheWiringConfig {
  FERRY_STORAGE_CONTROL_API_ENDPOINT?: string | undefined;
  FERRY_BUCKET_LOCATION?: string | undefined;
  FERRY_CACHE_MAX_WAIT_SECONDS?: number | undefined;
}

/** The CacheControl for this configuration. */
export function cacheControl(cfg: Pick<CacheWiringConfig, 'FERRY_STORAGE_CONTROL_API_ENDPOINT'>, projectId?: string): CacheControl {
  let real: Promise<CacheControl> | undefined;
  const endpoint = cfg.FERRY_STORAGE_CONTROL_API_ENDPOINT;
  const load = (): Promise<CacheControl> =>
    (real ??= import('../adapters/storage-control.ts').then(
      (m) => new m.StorageControlCacheControl({ ...(projectId ? { projectId } : {}), ...(endpoint ? { apiEndpoint: endpoint } : {}) }),
    ));
  return {
    get: async (b, z) => (await load()).get(b, z),
    list: async (b) => (await load()).list(b),
    create: async (b, z, s) => (await load()).create(b, z, s),
    update: async (b, z, s) => (await load()).update(b, z, s),
    resume: async (b, z) => (await load()).resume(b, z),
    pause: async (b, z) => (await load()).pause(b, z),
    disable: async (b, z) => (await load()).disable(b, z),
    getOperation: async (n, k) => (await load()).getOperation(n, k),
  };
}

export function cacheDeps(opts: {
  config: CacheWiringConfig;
  db: Firestore;
  clusters: ClusterProvider;
  storage: () => Storage;
  projectId?: string;
}): CacheDeps {
  return {
    control: cacheControl(opts.config, opts.projectId),
    records: new FirestoreCacheRecords(opts.db),
    zones: zoneDirectory({ clusters: opts.clusters }),
    buckets: bucketInfo({ fixedLocation: opts.config.FERRY_BUCKET_LOCATION, storage: opts.storage }),
    defaultMaxWaitSeconds: opts.config.FERRY_CACHE_MAX_WAIT_SECONDS,
  };
}

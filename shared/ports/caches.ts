/**
 * What the Anywhere Cache use cases (shared/app/caches.ts) need, as one bundle: the cache API, the
 * stored records, and where caches may live. Built by shared/composition/cache-control.ts.
 */
import type { CacheControl } from './cache-control.ts';
import type { CacheRecords } from './cache-records.ts';
import type { BucketInfo, ZoneDirectory } from './zones.ts';

export interface CacheDeps {
  control: CacheControl;
  records: CacheRecords;
  zones: ZoneDirectory;
  buckets: BucketInfo;
  /** cache.maxWaitSeconds when a request does not say (default DEFAULT_CACHE_MAX_WAIT_SECONDS). */
  defaultMaxWaitSeconds?: number | undefined;
}

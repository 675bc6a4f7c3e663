/**
 * BucketInfo: a bucket's location. From the bucket's metadata (`location`, `locationType`,
 * `customPlacementConfig.dataLocations`) through `@google-cloud/storage`, or from configuration
 * (`FERRY_BUCKET_LOCATION`) where metadata cannot be read: the Storage emulator does not serve bucket
 * metadata, so the local stack sets FERRY_BUCKET_LOCATION=US-CENTRAL1.
 */
import type { Storage } from '@google-cloud/storage';
import { FerryError } from '../domain/errors.ts';
import { bucketLocation, type BucketLocation } from '../domain/cache.ts';
import type { BucketInfo } from '../ports/zones.ts';

export interface BucketInfoOptions {
  /** A fixed location for every bucket (e.g. `US-CENTRAL1`); when set, no metadata is read. */
  fixedLocation?: string | undefined;
  /** Builds the Storage client when metadata must be read. */
  storage?: () => Storage;
}

export function bucketInfo(opts: BucketInfoOptions): BucketInfo {
  const cache = new Map<string, BucketLocation>();
  return {
    async location(bucket: string): Promise<BucketLocation> {
      if (opts.fixedLocation) return bucketLocation(opts.fixedLocation);
      const known = cache.get(bucket);
      if (known) return known;
      if (!opts.storage)
        throw new FerryError('BUCKET_LOCATION_UNKNOWN', `no way to learn the location of gs://${bucket}`, {
          hint: 'Set FERRY_BUCKET_LOCATION (e.g. US-CENTRAL1).',
        });
      let meta: { location?: string; locationType?: string; customPlacementConfig?: { dataLocations?: string[] } };
      try {
        [meta] = await opts.storage().bucket(bucket).getMetadata();
      } catch (e) {
        const code = (e as { code?: number }).code;
        const message = e instanceof Error ? e.message : String(e);
        if (code === 404) throw new FerryError('BUCKET_NOT_FOUND', `bucket gs://${bucket} does not exist`, { cause: e });
        if (code === 401 || code === 403) {
          throw new FerryError('STORAGE_FORBIDDEN', `not allowed to read the metadata of gs://${bucket}: ${message}`, {
            cause: e,
            hint: "Grant ferry's service account storage.buckets.get (e.g. roles/storage.admin on the bucket, which Anywhere Cache needs anyway).",
          });
        }
        throw new FerryError('STORAGE_UNAVAILABLE', `reading the metadata of gs://${bucket} failed: ${message}`, {
          cause: e,
          retryable: true,
          hint: 'Locally the Storage emulator has no bucket metadata: set FERRY_BUCKET_LOCATION.',
        });
      }
      if (!meta.location) throw new FerryError('BUCKET_LOCATION_UNKNOWN', `gs://${bucket} reports no location`, { hint: 'Set FERRY_BUCKET_LOCATION.' });
      const loc = bucketLocation(meta.location, meta.locationType, meta.customPlacementConfig?.dataLocations);
      cache.set(bucket, loc);
      return loc;
    },
  };
}

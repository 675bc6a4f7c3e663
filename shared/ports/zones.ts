/** Where things are: the zones a target's cluster can run an accelerator in, and a bucket's location. */
import type { BucketLocation } from '../domain/cache.ts';

export interface ZoneDirectory {
  /**
   * Zones with nodes (GKE: node pools, including ones scaled to zero) that can host `accelerator`
   * (`cloud.google.com/gke-accelerator` value) in `cluster` (`local` or a GKE resource name).
   * Sorted, distinct; empty when none can.
   */
  acceleratorZones(cluster: string, accelerator: string): Promise<string[]>;
}

export interface BucketInfo {
  /** The bucket's location (GCS bucket metadata, or configuration where there is none). */
  location(bucket: string): Promise<BucketLocation>;
}

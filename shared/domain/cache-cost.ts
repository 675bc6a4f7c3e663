/**
 * An estimated cost per day of an Anywhere Cache (renamed Rapid Cache in Google's docs), from the
 * documented SKU prices. Pure.
 *
 * Source: https://cloud.google.com/storage/pricing, as transcribed on 2026-09-20 with every price
 * found verbatim in the page (api-evangelist/gcp-cloud-storage@013caa28c7a3b15d2c48095b6ddefabad6011feb:
 * plans/gcp-cloud-storage-plans-pricing.yml): "Rapid Cache storage (region)" $0.0001233 per GiB-hour
 * and "Rapid Cache ingest" $0.0032 per GiB, both the representative us-central1 rows. No other
 * region's rate was found, so no number is given for caches elsewhere (they are labelled instead).
 */
export const CACHE_PRICE_SOURCE = 'https://cloud.google.com/storage/pricing (Rapid Cache, formerly Anywhere Cache; us-central1 rows)';
export const CACHE_STORAGE_USD_PER_GIB_HOUR = 0.0001233;
export const CACHE_INGEST_USD_PER_GIB = 0.0032;
/** Regions whose rate the source documents. */
export const CACHE_PRICED_REGIONS = ['us-central1'] as const;

export type CacheCost = { kind: 'estimate'; usdPerDay: number; ingestUsd: number; gib: number } | { kind: 'none'; why: string };

/** The zone's region: `us-central1-a` → `us-central1`. */
export const regionOfZone = (zone: string): string => zone.replace(/-[a-z]$/, '');

/**
 * Storage cost per day for `bytes` held in a cache in `zone` (and the one-off ingest of filling it).
 * Only a running cache stores data; an unpriced region or unknown size gives no number.
 */
export function estimateCacheCost(input: { zone: string; state: string; bytes: number | null }): CacheCost {
  if (input.state !== 'running') return { kind: 'none', why: `not running (${input.state}): no storage billed` };
  const region = regionOfZone(input.zone);
  if (!(CACHE_PRICED_REGIONS as readonly string[]).includes(region)) return { kind: 'none', why: `no documented rate found for ${region}` };
  if (input.bytes === null) return { kind: 'none', why: 'size unknown (no validated version relies on it)' };
  const gib = input.bytes / 2 ** 30;
  return { kind: 'estimate', gib, usdPerDay: gib * CACHE_STORAGE_USD_PER_GIB_HOUR * 24, ingestUsd: gib * CACHE_INGEST_USD_PER_GIB };
}

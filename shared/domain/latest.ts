/**
 * What `latest` means: the valid version whose upload completed last — the highest object
 * generation of its validated content (VersionDoc.observedGeneration, the generation of the last
 * file finalized) — not the one whose validation happened to finish last. GCS generations grow with
 * time, so a v2 uploaded after v1 stays latest even if v1's validation finishes later (issue #23).
 * Ties (never for distinct uploads) go to the version name, compared as text.
 */
const gen = (s: string | undefined): bigint => (s !== undefined && /^\d+$/.test(s) ? BigInt(s) : 0n);

export interface UploadPoint {
  version: string;
  /** Highest object generation of the content (digits); absent for documents written before it was kept. */
  generation?: string | undefined;
}

/** > 0 when a was uploaded after b. */
export function compareUploads(a: UploadPoint, b: UploadPoint): number {
  const ga = gen(a.generation);
  const gb = gen(b.generation);
  if (ga !== gb) return ga > gb ? 1 : -1;
  return a.version < b.version ? -1 : a.version > b.version ? 1 : 0;
}

/** The latest of some valid versions (undefined for none). */
export function pickLatest<T extends { version: string; observedGeneration: string }>(valid: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const v of valid) {
    if (!best || compareUploads({ version: v.version, generation: v.observedGeneration }, { version: best.version, generation: best.observedGeneration }) > 0)
      best = v;
  }
  return best;
}

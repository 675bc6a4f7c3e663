/**
 * Use case: `ferry verify` (issue #20) — are the bytes of a version the bytes uploaded?
 *
 * Without `full`: one listing, plus one read of `ferry.manifest.json` when there is one; the
 * listing's sizes and CRC32Cs are compared with the manifest (as validation does).
 * With `full`: every byte of every file is read — parallel ranged reads of `chunkBytes`, at most
 * `concurrency` in flight, pinned to the listed generation — and hashed in order per file (CRC32C,
 * shared/domain/crc32c.ts, and sha256). Each file's hashes are compared with what GCS stored
 * (`crc32c` in the listing), with the manifest's, and with the sha256 a Hugging Face blob is named
 * by (`expectedSha256`, from the local listing). Every mismatch is a finding naming the file.
 */
import { createHash, type Hash } from 'node:crypto';
import { FerryError } from '../domain/errors.ts';
import { Crc32c } from '../domain/crc32c.ts';
import { error, type Finding } from '../domain/findings.ts';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, compareWithManifest, parseManifest, type Manifest } from '../domain/manifest.ts';
import { normalizePrefix } from '../domain/checkpoint.ts';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.ts';

export const DEFAULT_VERIFY_CHUNK_BYTES = 8 * 1024 * 1024;
export const DEFAULT_VERIFY_CONCURRENCY = 8;

export interface VerifyProgress {
  doneBytes: number;
  totalBytes: number;
  doneFiles: number;
  totalFiles: number;
}

export interface VerifyOptions {
  /** Read every byte (default: listing and manifest only). */
  full?: boolean;
  /** Ranged reads in flight (default 8). */
  concurrency?: number;
  /** Bytes per ranged read (default 8 MiB). */
  chunkBytes?: number;
  /** sha256 a file must have, by relative name (Hugging Face blobs named by it). */
  expectedSha256?: ReadonlyMap<string, string>;
  onProgress?: (p: VerifyProgress) => void;
}

export interface VerifiedFile {
  name: string;
  size: number;
  generation: string;
  /** What GCS stored (absent for local files). */
  storedCrc32c?: string;
  /** Computed from the bytes read (with `full`). */
  crc32c?: string;
  sha256?: string;
  /** What the computed hashes were compared with: `gcs`, `manifest`, `hf-blob-name`. */
  comparedWith: string[];
}

export interface VerifyReport {
  ok: boolean;
  location: string;
  full: boolean;
  manifest: 'present' | 'absent' | 'invalid';
  files: VerifiedFile[];
  errors: Finding[];
  bytesRead: number;
  requests: number;
}

export async function verifyCheckpoint(store: ObjectStore, prefix: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const p = normalizePrefix(prefix);
  const before = store.stats();
  const listing = (await store.list(p)).filter((o) => o.name !== p && !o.name.endsWith('/')).sort((a, b) => (a.name < b.name ? -1 : 1));
  const rel = (o: ObjectInfo) => o.name.slice(p.length);
  const errors: Finding[] = [];

  let manifest: Manifest | undefined;
  let manifestState: VerifyReport['manifest'] = 'absent';
  const mObj = listing.find((o) => rel(o) === MANIFEST_FILE);
  if (mObj) {
    const parsed =
      mObj.size > MAX_MANIFEST_BYTES
        ? ({ ok: false, message: `${mObj.size} bytes, above ${MAX_MANIFEST_BYTES}` } as const)
        : parseManifest(await store.read(mObj.name, 0, mObj.size, mObj.generation));
    if (parsed.ok) {
      manifest = parsed.manifest;
      manifestState = 'present';
      errors.push(
        ...compareWithManifest(
          listing.map((o) => ({ name: rel(o), size: o.size, crc32c: o.crc32c })),
          manifest,
        ),
      );
    } else {
      manifestState = 'invalid';
      errors.push(error('FERRY_MANIFEST_INVALID', MANIFEST_FILE, `${MANIFEST_FILE}: ${parsed.message}`));
    }
  }
  const inManifest = new Map((manifest?.files ?? []).map((f) => [f.name, f]));

  const files: VerifiedFile[] = listing.map((o) => ({
    name: rel(o),
    size: o.size,
    generation: o.generation,
    ...(o.crc32c ? { storedCrc32c: o.crc32c } : {}),
    comparedWith: [],
  }));

  if (opts.full) {
    const hashed = await hashAll(store, listing, opts);
    for (const [i, f] of files.entries()) {
      const h = hashed[i]!;
      f.crc32c = h.crc32c;
      f.sha256 = h.sha256;
      if (f.storedCrc32c !== undefined) {
        f.comparedWith.push('gcs');
        if (f.storedCrc32c !== h.crc32c) {
          errors.push(error('CRC32C_MISMATCH', f.name, `${f.name}: the bytes read have CRC32C ${h.crc32c}; Cloud Storage stored ${f.storedCrc32c}`));
        }
      }
      const m = inManifest.get(f.name);
      if (m) {
        f.comparedWith.push('manifest');
        if (m.crc32c !== h.crc32c)
          errors.push(error('CRC32C_MISMATCH', f.name, `${f.name}: the bytes read have CRC32C ${h.crc32c}; ${MANIFEST_FILE} recorded ${m.crc32c}`));
        if (m.sha256 !== undefined && m.sha256 !== h.sha256) {
          errors.push(error('SHA256_MISMATCH', f.name, `${f.name}: the bytes read have sha256 ${h.sha256}; ${MANIFEST_FILE} recorded ${m.sha256}`));
        }
      }
      const hf = opts.expectedSha256?.get(f.name);
      if (hf !== undefined) {
        f.comparedWith.push('hf-blob-name');
        if (hf !== h.sha256)
          errors.push(error('SHA256_MISMATCH', f.name, `${f.name}: the bytes read have sha256 ${h.sha256}; its Hugging Face blob is named ${hf}`));
      }
    }
  }
  const after = store.stats();
  return {
    ok: errors.length === 0,
    location: `${store.location.replace(/\/+$/, '')}/${p}`,
    full: opts.full === true,
    manifest: manifestState,
    files,
    errors,
    bytesRead: after.bytesRead - before.bytesRead,
    requests: after.requests - before.requests,
  };
}

/**
 * Every byte of every object, hashed in order per object. Chunks are dispatched in (object, offset)
 * order to `concurrency` workers; a chunk that arrives before its predecessor waits in a small
 * per-object buffer (at most `concurrency` chunks are ever held), so memory stays bounded.
 */
async function hashAll(store: ObjectStore, objects: readonly ObjectInfo[], opts: VerifyOptions): Promise<Array<{ crc32c: string; sha256: string }>> {
  const chunk = Math.max(64 * 1024, Math.floor(opts.chunkBytes ?? DEFAULT_VERIFY_CHUNK_BYTES));
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_VERIFY_CONCURRENCY));
  const totalBytes = objects.reduce((a, o) => a + o.size, 0);
  const state = objects.map(() => ({ crc: new Crc32c(), sha: createHash('sha256') as Hash, next: 0, pending: new Map<number, Uint8Array>(), done: false }));
  const jobs: Array<{ i: number; start: number; end: number }> = [];
  for (const [i, o] of objects.entries()) for (let s = 0; s < o.size; s += chunk) jobs.push({ i, start: s, end: Math.min(o.size, s + chunk) });
  let doneBytes = 0;
  let doneFiles = objects.filter((o) => o.size === 0).length;
  const progress = () => opts.onProgress?.({ doneBytes, totalBytes, doneFiles, totalFiles: objects.length });
  progress();
  let nextJob = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && nextJob < jobs.length) {
      const job = jobs[nextJob++]!;
      const o = objects[job.i]!;
      let bytes: Uint8Array;
      try {
        bytes = await store.read(o.name, job.start, job.end, o.generation);
      } catch (e) {
        failed = true;
        throw e;
      }
      if (bytes.length !== job.end - job.start) {
        failed = true;
        throw new FerryError('OBJECT_CHANGED', `${o.name} returned ${bytes.length} bytes for [${job.start}, ${job.end}); it is shorter than its listing says`, {
          hint: 'The object changed while it was being read; run ferry verify again.',
        });
      }
      const st = state[job.i]!;
      st.pending.set(job.start, bytes);
      for (let b = st.pending.get(st.next); b !== undefined; b = st.pending.get(st.next)) {
        st.pending.delete(st.next);
        st.crc.update(b);
        st.sha.update(b);
        st.next += b.length;
        doneBytes += b.length;
      }
      if (st.next === o.size && !st.done) {
        st.done = true;
        doneFiles++;
      }
      progress();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, jobs.length)) }, worker));
  return state.map((s) => ({ crc32c: s.crc.base64(), sha256: s.sha.digest('hex') }));
}

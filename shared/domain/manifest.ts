/**
 * `ferry.manifest.json` (issue #20): what `ferry upload` wrote, file by file, as the very last
 * object of a version — so that validation can tell the bytes in the bucket are the bytes uploaded,
 * from the listing alone (size and CRC32C come with every object of a listing: zero extra reads).
 *
 * Completion. Every object `ferry upload` writes carries the custom metadata
 * `ferry-upload: manifest-last` (UPLOAD_MARKER). A listing in which some object carries it, but that
 * has no manifest yet, is not complete: the manifest's own finalize event is the one that completes
 * it, so a ferry upload is validated once, with its manifest. A listing with no marker (another
 * tool uploaded it) completes as before, by config.json and the weights, and validates with
 * "no manifest".
 *
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { error, type Finding } from './findings.ts';
import type { ObjectInfo } from './object-info.ts';

export const MANIFEST_FILE = 'ferry.manifest.json';
export const MANIFEST_API_VERSION = 'ferry/manifest/v1';
/** Custom metadata `ferry upload` puts on every object it writes (see the module comment). */
export const UPLOAD_MARKER = { key: 'ferry-upload', value: 'manifest-last' } as const;
/**
 * A manifest larger than this is refused from its listed size, before any byte is read
 * (FERRY_MANIFEST_INVALID): a parse holds several times its size (issue #23; the function has 512
 * MiB). An entry is ~190 bytes as `ferry upload` writes it (with a sha256), so this is ~40,000
 * files, 4× MAX_SHARDS (checkpoint.ts) — measured in BENCHMARKS.md "Peak memory of the largest
 * legal headers".
 */
export const MAX_MANIFEST_BYTES = 8_000_000;

const Base64Crc32c = z.string().regex(/^[A-Za-z0-9+/]{6}==$/, 'a CRC32C in base64 (4 bytes, as GCS reports it)');
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lowercase hex');

export const ManifestEntry = z.strictObject({
  /** Relative to the version prefix, `/`-separated. */
  name: z.string().min(1).max(1024),
  size: z.number().int().nonnegative(),
  crc32c: Base64Crc32c,
  sha256: Sha256Hex.optional(),
});
export type ManifestEntry = z.infer<typeof ManifestEntry>;

export const Manifest = z.strictObject({
  apiVersion: z.literal(MANIFEST_API_VERSION),
  tool: z.strictObject({ name: z.literal('ferry'), version: z.string().min(1).max(64) }),
  /** Who uploaded: the account or user name ferry knew (free text, ≤ 256 characters). */
  uploader: z.string().max(256),
  createdAt: z.iso.datetime(),
  files: z.array(ManifestEntry).max(1_000_000),
});
export type Manifest = z.infer<typeof Manifest>;

export type ManifestParse = { ok: true; manifest: Manifest } | { ok: false; message: string };

/** Strict: JSON, then the schema (unknown keys refused), then names unique. */
export function parseManifest(bytes: Uint8Array | string): ManifestParse {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return { ok: false, message: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  const p = Manifest.safeParse(raw);
  if (!p.success) {
    const i = p.error.issues[0]!;
    return { ok: false, message: `${i.path.join('.') || '(top)'}: ${i.message}` };
  }
  const seen = new Set<string>();
  for (const f of p.data.files) {
    if (seen.has(f.name)) return { ok: false, message: `files: ${f.name} is listed twice` };
    if (f.name === MANIFEST_FILE) return { ok: false, message: `files: the manifest lists itself` };
    seen.add(f.name);
  }
  return { ok: true, manifest: p.data };
}

export function buildManifest(input: { files: readonly ManifestEntry[]; toolVersion: string; uploader: string; createdAt: Date }): Manifest {
  const files = [...input.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return Manifest.parse({
    apiVersion: MANIFEST_API_VERSION,
    tool: { name: 'ferry', version: input.toolVersion },
    uploader: input.uploader.slice(0, 256),
    createdAt: input.createdAt.toISOString(),
    files: files.map((f) => ({ name: f.name, size: f.size, crc32c: f.crc32c, ...(f.sha256 ? { sha256: f.sha256 } : {}) })),
  });
}

/** A listed file, relative to the version prefix, as far as the manifest check needs it. */
export interface ListedFile {
  name: string;
  size: number;
  crc32c?: string | undefined;
}

/**
 * The listing against the manifest: each file's size, and its CRC32C where the listing has one (GCS
 * always does; a local folder does not). The manifest itself is not compared. One finding per file,
 * naming it: MANIFEST_MISMATCH, NOT_IN_MANIFEST (added after upload), MANIFEST_FILE_MISSING
 * (deleted after upload). All are errors: the version is invalid.
 */
export function compareWithManifest(listed: readonly ListedFile[], manifest: Manifest): Finding[] {
  const out: Finding[] = [];
  const want = new Map(manifest.files.map((f) => [f.name, f]));
  for (const f of listed) {
    if (f.name === MANIFEST_FILE) continue;
    const m = want.get(f.name);
    if (!m) {
      out.push(error('NOT_IN_MANIFEST', f.name, `${f.name} (${f.size} bytes) is not in ${MANIFEST_FILE}: it was added after the upload finished`));
      continue;
    }
    want.delete(f.name);
    if (m.size !== f.size) {
      out.push(error('MANIFEST_MISMATCH', f.name, `${f.name} holds ${f.size} bytes; ${MANIFEST_FILE} recorded ${m.size}`));
    } else if (f.crc32c !== undefined && f.crc32c !== m.crc32c) {
      out.push(
        error(
          'MANIFEST_MISMATCH',
          f.name,
          `${f.name} has CRC32C ${f.crc32c} in the bucket; ${MANIFEST_FILE} recorded ${m.crc32c} (same size: its bytes were changed)`,
        ),
      );
    }
  }
  for (const m of want.values()) out.push(error('MANIFEST_FILE_MISSING', m.name, `${m.name} is in ${MANIFEST_FILE} (${m.size} bytes) but not in the version`));
  return out;
}

/** Whether an object carries the marker `ferry upload` puts on every object it writes. */
export const hasUploadMarker = (o: Pick<ObjectInfo, 'metadata'>): boolean => o.metadata?.[UPLOAD_MARKER.key] === UPLOAD_MARKER.value;

/**
 * The manifest's part of the upload-complete gate (see the module comment), for a listing the
 * checkpoint gate found complete: `undefined` when nothing more is awaited, else the object missing.
 */
export function awaitedManifest(listing: readonly ObjectInfo[], prefix: string): string | undefined {
  if (listing.some((o) => o.name === prefix + MANIFEST_FILE)) return undefined;
  return listing.some(hasUploadMarker) ? MANIFEST_FILE : undefined;
}

/**
 * A Hugging Face cache blob named by its sha256: huggingface_hub names a blob by the file's etag
 * (huggingface/huggingface_hub@v1.28.0:src/huggingface_hub/file_download.py#L1173 `blob_path =
 * os.path.join(storage_folder, "blobs", etag)`), which for LFS files (every large file) is the
 * sha256 of the content (#L856-L857 "identified by their git-sha or sha256, depending on whether
 * they're LFS files or not"; #L1877 `etag = entry.lfs_sha256`; #L75 `REGEX_SHA256 =
 * ^[0-9a-f]{64}$`). A 40-hex name is a git blob sha1 and is not checked.
 */
export function hfBlobSha256(blobFileName: string): string | undefined {
  return /^[0-9a-f]{64}$/.test(blobFileName) ? blobFileName : undefined;
}

/**
 * Content identity (issue #20): the set of (object, generation). Compared right before a rollout
 * applies and on every reconcile tick for served versions. `validated` is what the version recorded
 * (names relative to the prefix), `listing` what the bucket holds now (full names).
 */
export interface ContentDiff {
  changed: string[];
  added: string[];
  removed: string[];
}

export function diffContent(validated: ReadonlyArray<{ name: string; generation: string }>, listing: readonly ObjectInfo[], prefix: string): ContentDiff {
  const was = new Map(validated.map((f) => [f.name, f.generation]));
  const out: ContentDiff = { changed: [], added: [], removed: [] };
  for (const o of listing) {
    const name = o.name.slice(prefix.length);
    const g = was.get(name);
    if (g === undefined) out.added.push(name);
    else if (g !== o.generation) out.changed.push(name);
    was.delete(name);
  }
  out.removed.push(...was.keys());
  for (const l of [out.changed, out.added, out.removed]) l.sort();
  return out;
}

export const contentIsSame = (d: ContentDiff): boolean => d.changed.length + d.added.length + d.removed.length === 0;

export function describeContentDiff(d: ContentDiff): string {
  const part = (what: string, l: string[]) => (l.length ? `${what} ${l.slice(0, 5).join(', ')}${l.length > 5 ? ` (+${l.length - 5} more)` : ''}` : '');
  return [part('overwritten:', d.changed), part('added:', d.added), part('deleted:', d.removed)].filter(Boolean).join('; ');
}

/** sha256 in hex of bytes (for small things like the manifest in tests; big files are streamed by adapters). */
export const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

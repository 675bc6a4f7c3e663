/**
 * Uploads a local checkpoint's files so that ferry's upload-complete gate opens exactly once,
 * at the end: every other file first (shards in parallel), then the index, then config.json.
 * The files come listed (shared/adapters/local-dir.ts `listLocalFiles`): a symlink's bytes are
 * read from its target and uploaded under the link's name.
 *
 * With `manifest` (what `ferry upload` does), every object carries ferry's upload marker and
 * `ferry.manifest.json` is written after config.json, as the very last object: each file's name,
 * size, the CRC32C the bucket stored and the sha256 when it is known. The marker tells the
 * upload-complete gate to wait for the manifest (shared/domain/manifest.ts).
 */
import { FerryError } from '../domain/errors.ts';
import { CONFIG_FILE, INDEX_FILE, SINGLE_FILE } from '../domain/upload.ts';
import { MANIFEST_FILE, UPLOAD_MARKER, buildManifest, type ManifestEntry } from '../domain/manifest.ts';
import type { SourceFile, Uploader } from '../ports/uploader.ts';

/** One file finished. */
export interface UploadProgress {
  file: string;
  bytes: number;
  doneFiles: number;
  totalFiles: number;
  doneBytes: number;
  totalBytes: number;
}

export interface UploadCheckpointOptions {
  concurrency?: number;
  /** A file starts uploading (again after a failed attempt is not reported here: see onFileBytes). */
  onFileStart?: (file: string, size: number) => void;
  /** Bytes of `file` sent so far in its current attempt (0 when an attempt starts). */
  onFileBytes?: (file: string, sent: number) => void;
  /** A file is uploaded. */
  onProgress?: (p: UploadProgress) => void;
  /** Write ferry.manifest.json last (needs an uploader with writeObject), naming the tool version and uploader. */
  manifest?: { toolVersion: string; uploader: string; now: () => Date };
}

/**
 * Refuses a listing with no safetensors file before anything is sent: uploading a folder that has
 * no weights (the wrong folder, or a download that did not happen) must not end in "uploaded".
 */
export function assertHasCheckpointFiles(files: readonly SourceFile[], where: string): void {
  if (files.some((f) => f.name.endsWith('.safetensors'))) return;
  const seen = files.length
    ? `it holds ${files.length} file(s): ${files
        .slice(0, 5)
        .map((f) => f.name)
        .join(', ')}${files.length > 5 ? ', …' : ''}`
    : 'it is empty';
  throw new FerryError(
    'NO_CHECKPOINT_FILES',
    `no checkpoint file in ${where} (${seen}); expected ${SINGLE_FILE}, or sharded *.safetensors with ${INDEX_FILE}, beside ${CONFIG_FILE}`,
    {
      hint: 'Point ferry at the folder that holds the weights: for a Hugging Face cache that is …/models--<org>--<name>/snapshots/<revision>/.',
    },
  );
}

export async function uploadCheckpointFiles(
  allFiles: readonly SourceFile[],
  prefix: string,
  uploader: Uploader,
  opts: UploadCheckpointOptions = {},
): Promise<{ files: number; bytes: number; manifest?: { generation: string; files: number } }> {
  // An earlier upload's manifest in the folder (a folder copied back from a bucket) is not sent:
  // the manifest of this upload is written last, from what this upload stored.
  const files = opts.manifest ? allFiles.filter((f) => f.name !== MANIFEST_FILE) : allFiles;
  const writeObject = uploader.writeObject?.bind(uploader);
  if (opts.manifest && !writeObject) throw new FerryError('INTERNAL', 'this uploader cannot write the manifest');
  const metadata = opts.manifest ? { [UPLOAD_MARKER.key]: UPLOAD_MARKER.value } : undefined;
  const entries: ManifestEntry[] = [];
  const byName = new Map(files.map((f) => [f.name, f]));
  const totalBytes = files.reduce((a, f) => a + f.size, 0);
  const last = [INDEX_FILE, CONFIG_FILE].filter((f) => byName.has(f));
  const first = files.filter((f) => !last.includes(f.name)).sort((a, b) => b.size - a.size);
  let doneFiles = 0;
  let doneBytes = 0;
  const one = async (f: SourceFile) => {
    opts.onFileStart?.(f.name, f.size);
    const onBytes = opts.onFileBytes;
    const { size, crc32c } = await uploader.upload(f.path, prefix + f.name, {
      ...(onBytes ? { onProgress: (sent: number) => onBytes(f.name, sent) } : {}),
      ...(metadata ? { metadata } : {}),
    });
    if (opts.manifest) {
      if (!crc32c) throw new FerryError('INTERNAL', `the uploader returned no CRC32C for ${f.name}`);
      entries.push({ name: f.name, size, crc32c, ...(f.sha256 ? { sha256: f.sha256 } : {}) });
    }
    doneFiles++;
    doneBytes += size;
    opts.onProgress?.({ file: f.name, bytes: size, doneFiles, totalFiles: files.length, doneBytes, totalBytes });
  };
  const queue = [...first];
  const workers = Array.from({ length: Math.min(opts.concurrency ?? 8, queue.length) }, async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) await one(f);
  });
  await Promise.all(workers);
  for (const name of last) await one(byName.get(name)!);
  if (!opts.manifest || !writeObject) return { files: files.length, bytes: totalBytes };
  const m = opts.manifest;
  const body = new TextEncoder().encode(
    JSON.stringify(buildManifest({ files: entries, toolVersion: m.toolVersion, uploader: m.uploader, createdAt: m.now() }), null, 1) + '\n',
  );
  const written = await writeObject(prefix + MANIFEST_FILE, body, { contentType: 'application/json', ...(metadata ? { metadata } : {}) });
  return { files: files.length, bytes: totalBytes, manifest: { generation: written.generation, files: entries.length } };
}

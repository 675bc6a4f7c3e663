/**
 * Uploads a local checkpoint's files so that ferry's upload-complete gate opens exactly once,
 * at the end: every other file first (shards in parallel), then the index, then config.json.
 * The files come listed (shared/adapters/local-dir.ts `listLocalFiles`): a symlink's bytes are
 * read from its target and uploaded under the link's name.
 */
import { FerryError } from '../domain/errors.ts';
import { CONFIG_FILE, INDEX_FILE, SINGLE_FILE } from '../domain/upload.ts';
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
  files: readonly SourceFile[],
  prefix: string,
  uploader: Uploader,
  opts: UploadCheckpointOptions = {},
): Promise<{ files: number; bytes: number }> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const totalBytes = files.reduce((a, f) => a + f.size, 0);
  const last = [INDEX_FILE, CONFIG_FILE].filter((f) => byName.has(f));
  const first = files.filter((f) => !last.includes(f.name)).sort((a, b) => b.size - a.size);
  let doneFiles = 0;
  let doneBytes = 0;
  const one = async (f: SourceFile) => {
    opts.onFileStart?.(f.name, f.size);
    const onBytes = opts.onFileBytes;
    const { size } = await uploader.upload(f.path, prefix + f.name, onBytes ? { onProgress: (sent) => onBytes(f.name, sent) } : {});
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
  return { files: files.length, bytes: totalBytes };
}

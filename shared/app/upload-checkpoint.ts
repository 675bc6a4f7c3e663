/**
 * Uploads a local checkpoint directory so that ferry's upload-complete gate opens exactly once,
 * at the end: every other file first (shards in parallel), then the index, then config.json.
 */
import type { LocalFiles, Uploader } from '../ports/uploader.ts';
import { CONFIG_FILE, INDEX_FILE } from '../domain/upload.ts';

export interface UploadProgress {
  file: string;
  bytes: number;
  doneFiles: number;
  totalFiles: number;
  doneBytes: number;
  totalBytes: number;
}

export async function uploadCheckpointDir(
  dir: string,
  prefix: string,
  { files: localFiles, uploader }: { files: LocalFiles; uploader: Uploader },
  opts: { concurrency?: number; onProgress?: (p: UploadProgress) => void } = {},
): Promise<{ files: number; bytes: number }> {
  const listed = (await localFiles.list(dir)).filter((f) => !f.name.split('/').some((part) => part.startsWith('.')));
  const files = listed.map((f) => f.name);
  const sizes = new Map(listed.map((f) => [f.name, f.size]));
  const paths = new Map(listed.map((f) => [f.name, f.path]));
  const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  const last = [INDEX_FILE, CONFIG_FILE].filter((f) => sizes.has(f));
  const first = files.filter((f) => !last.includes(f)).sort((a, b) => sizes.get(b)! - sizes.get(a)!);
  let doneFiles = 0;
  let doneBytes = 0;
  const one = async (f: string) => {
    const { size } = await uploader.upload(paths.get(f)!, prefix + f);
    doneFiles++;
    doneBytes += size;
    opts.onProgress?.({ file: f, bytes: size, doneFiles, totalFiles: files.length, doneBytes, totalBytes });
  };
  const queue = [...first];
  const workers = Array.from({ length: Math.min(opts.concurrency ?? 8, queue.length) }, async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) await one(f);
  });
  await Promise.all(workers);
  for (const f of last) await one(f);
  return { files: files.length, bytes: totalBytes };
}

/**
 * Uploads a local checkpoint directory so that ferry's upload-complete gate opens exactly once,
 * at the end: every other file first (shards in parallel), then the index, then config.json.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Uploader } from '../adapters/gcs-upload.ts';
import { CONFIG_FILE, INDEX_FILE } from '../domain/upload.ts';

export interface UploadProgress {
  file: string;
  bytes: number;
  doneFiles: number;
  totalFiles: number;
  doneBytes: number;
  totalBytes: number;
}

async function walk(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, root)));
    else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
  }
  return out;
}

export async function uploadCheckpointDir(
  dir: string,
  prefix: string,
  uploader: Uploader,
  opts: { concurrency?: number; onProgress?: (p: UploadProgress) => void } = {},
): Promise<{ files: number; bytes: number }> {
  const files = (await walk(dir)).filter((f) => !f.split('/').some((part) => part.startsWith('.')));
  const sizes = new Map<string, number>();
  for (const f of files) sizes.set(f, (await stat(join(dir, f))).size);
  const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  const last = [INDEX_FILE, CONFIG_FILE].filter((f) => sizes.has(f));
  const first = files.filter((f) => !last.includes(f)).sort((a, b) => sizes.get(b)! - sizes.get(a)!);
  let doneFiles = 0;
  let doneBytes = 0;
  const one = async (f: string) => {
    const { size } = await uploader.upload(join(dir, f), prefix + f);
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

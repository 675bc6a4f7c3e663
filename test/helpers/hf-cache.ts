/**
 * A real Hugging Face hub cache folder built from a fixture checkpoint, laid out as huggingface_hub
 * lays it out (https://huggingface.co/docs/huggingface_hub/guides/manage-cache):
 *
 *   <cache>/models--<org>--<name>/
 *     blobs/<etag>                          the bytes (sha256 for LFS files, git blob sha1 for others)
 *     refs/main                             the revision
 *     snapshots/<revision>/<file>           -> ../../blobs/<etag>   (a relative symlink)
 *
 * `hf download <repo>` and `snapshot_download()` return the snapshot folder.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface HfCache {
  /** The hub cache folder (HF_HUB_CACHE). */
  cacheDir: string;
  /** models--<org>--<name>/ */
  repoDir: string;
  /** models--<org>--<name>/snapshots/<revision>/: the folder to upload. */
  snapshotDir: string;
  blobsDir: string;
  revision: string;
  /** Snapshot file name → its blob's path. */
  blobs: Map<string, string>;
  cleanup: () => void;
}

const etag = (name: string, bytes: Buffer) =>
  name.endsWith('.safetensors')
    ? createHash('sha256').update(bytes).digest('hex')
    : createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');

function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

/** Lays out `sourceDir`'s files as one snapshot of `repo` (org/name) in a new temp cache folder. */
export function makeHfCache(sourceDir: string, opts: { repo?: string; revision?: string } = {}): HfCache {
  const repo = opts.repo ?? 'ferry-test/tiny-llama';
  const revision = opts.revision ?? createHash('sha1').update(repo).digest('hex');
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'ferry-hf-cache-'));
  const repoDir = path.join(cacheDir, `models--${repo.replace('/', '--')}`);
  const blobsDir = path.join(repoDir, 'blobs');
  const snapshotDir = path.join(repoDir, 'snapshots', revision);
  mkdirSync(blobsDir, { recursive: true });
  mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
  mkdirSync(snapshotDir, { recursive: true });
  writeFileSync(path.join(repoDir, 'refs', 'main'), revision);
  const blobs = new Map<string, string>();
  for (const name of filesUnder(sourceDir)) {
    const bytes = readFileSync(path.join(sourceDir, name));
    const blob = path.join(blobsDir, etag(name, bytes));
    writeFileSync(blob, bytes);
    const link = path.join(snapshotDir, ...name.split('/'));
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.relative(path.dirname(link), blob), link);
    blobs.set(name, blob);
  }
  return { cacheDir, repoDir, snapshotDir, blobsDir, revision, blobs, cleanup: () => rmSync(cacheDir, { recursive: true, force: true }) };
}

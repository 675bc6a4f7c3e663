/**
 * ObjectStore over a directory on disk. Object names are paths relative to the root with `/`
 * separators; reads open the file and read only the requested byte range.
 *
 * A directory may be a Hugging Face cache snapshot: `models--org--name/snapshots/<rev>/` holds
 * symlinks (`config.json -> ../../blobs/<sha>`) and the bytes live in `models--org--name/blobs/`.
 * Listing follows a symlink to a regular file and names it by the link; any other link is refused
 * with a reason code (see listLocalFiles). `validate` and `upload` list through the same function,
 * so they always see the same files.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../domain/errors.ts';
import { hfBlobSha256 } from '../domain/manifest.ts';
import type { ObjectInfo, ObjectStore, ReadStats } from '../ports/object-store.ts';
import type { SourceFile } from '../ports/uploader.ts';

export interface LocalFile extends SourceFile {
  mtime: Date;
  /** Set when `name` is a symlink: the real path it resolves to (the same as `path`). */
  linkTarget?: string;
}

/** Why a directory entry cannot be part of a checkpoint. */
export type LocalFileProblemCode = 'SYMLINK_BROKEN' | 'SYMLINK_TO_DIRECTORY' | 'SYMLINK_OUTSIDE_ROOT' | 'SYMLINK_NOT_A_FILE' | 'NOT_A_REGULAR_FILE';

const PROBLEM_HINTS: Record<LocalFileProblemCode, string> = {
  SYMLINK_BROKEN: 'The link points at nothing (an interrupted or pruned download?). Download the model again (e.g. `hf download <repo>`), or remove the link.',
  SYMLINK_TO_DIRECTORY: 'Only links to files are followed. Upload the linked folder itself, or replace the link with the files.',
  SYMLINK_OUTSIDE_ROOT:
    'A link may only point inside the folder being uploaded, or for a Hugging Face cache snapshot inside its models--<org>--<name>/ folder. Copy the file in instead (cp -L).',
  SYMLINK_NOT_A_FILE: 'The link points at a device, socket or pipe, not a file. Remove the link.',
  NOT_A_REGULAR_FILE: 'A checkpoint folder holds files and folders only. Remove the device, socket or pipe.',
};

/**
 * The Hugging Face cache folder of one repository that holds `realDir`, if any: the nearest
 * ancestor (or itself) named `models--<org>--<name>`. The layout is huggingface_hub's
 * (https://huggingface.co/docs/huggingface_hub/guides/manage-cache; in huggingface/huggingface_hub
 * src/huggingface_hub/file_download.py, `_get_pointer_path` puts `snapshots/<rev>/<file>` under the
 * repo folder and `_create_symlink` links it, by a relative path, to `blobs/<etag>` beside it).
 */
export function hfCacheRepoRoot(realDir: string): string | undefined {
  for (let d = realDir; ; d = path.dirname(d)) {
    if (/^models--./.test(path.basename(d))) return d;
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * Every file of a checkpoint folder, recursively, in name order. Hidden entries (`.git/`, the
 * `.cache/huggingface/` that `hf download --local-dir` writes) are not part of a checkpoint and are
 * skipped. A symlink counts when it resolves to a regular file inside the root — the folder itself,
 * or for a Hugging Face cache snapshot its `models--*` folder (where `blobs/` is); it is listed
 * under the link's name with the target's size. Any other link, and any entry that is neither a
 * file nor a folder, is refused: one FerryError with the code of the first problem, naming them all.
 */
export async function listLocalFiles(dir: string): Promise<LocalFile[]> {
  let realDir: string;
  try {
    realDir = await realpath(dir);
    if (!(await stat(realDir)).isDirectory()) throw new FerryError('NOT_A_DIRECTORY', `${dir} is not a directory`);
  } catch (e) {
    throw mapFsError(e, dir);
  }
  const hfRoot = hfCacheRepoRoot(realDir);
  if (hfRoot === realDir) await refuseCacheRepoRoot(realDir);
  const root = hfRoot ?? realDir;
  const inside = (p: string) => p === root || p.startsWith(root + path.sep);

  const out: LocalFile[] = [];
  const problems: Array<{ code: LocalFileProblemCode; text: string }> = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (e) {
      throw mapFsError(e, abs);
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(abs, e.name);
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        await walk(full, name);
      } else if (e.isFile()) {
        const st = await stat(full).catch((err: unknown) => {
          throw mapFsError(err, full);
        });
        out.push({ name, path: full, size: st.size, mtime: st.mtime });
      } else if (e.isSymbolicLink()) {
        const r = await followLink(full, inside);
        if ('code' in r) problems.push({ code: r.code, text: `${name} -> ${r.target}: ${r.why}` });
        else out.push({ name, path: r.target, size: r.size, mtime: r.mtime, linkTarget: r.target });
      } else {
        problems.push({ code: 'NOT_A_REGULAR_FILE', text: `${name}: not a regular file, folder or symlink` });
      }
    }
  };
  await walk(realDir, '');
  if (problems.length) {
    const code = problems[0]!.code;
    const shown = problems.slice(0, 5).map((p) => p.text);
    const more = problems.length > shown.length ? ` (and ${problems.length - shown.length} more)` : '';
    throw new FerryError(code, `${dir}: cannot use ${problems.length === 1 ? '1 entry' : `${problems.length} entries`}: ${shown.join('; ')}${more}`, {
      hint: PROBLEM_HINTS[code],
      details: { problems },
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function followLink(
  link: string,
  inside: (p: string) => boolean,
): Promise<{ target: string; size: number; mtime: Date } | { code: LocalFileProblemCode; target: string; why: string }> {
  let target: string;
  try {
    target = await realpath(link);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const raw = await readlink(link).catch(() => '?');
    return { code: 'SYMLINK_BROKEN', target: raw, why: code === 'ELOOP' ? 'a loop of links' : 'the target does not exist' };
  }
  if (!inside(target)) return { code: 'SYMLINK_OUTSIDE_ROOT', target, why: 'resolves outside the folder' };
  const st = await lstat(target);
  if (st.isDirectory()) return { code: 'SYMLINK_TO_DIRECTORY', target, why: 'a directory' };
  if (!st.isFile()) return { code: 'SYMLINK_NOT_A_FILE', target, why: 'not a regular file' };
  return { target, size: st.size, mtime: st.mtime };
}

/** `models--org--name` itself is not a checkpoint: its snapshots are. Say which ones there are. */
async function refuseCacheRepoRoot(repoRoot: string): Promise<never> {
  const snapshots = await readdir(path.join(repoRoot, 'snapshots')).catch(() => [] as string[]);
  const example = snapshots.length ? path.join(repoRoot, 'snapshots', snapshots[0]!) : path.join(repoRoot, 'snapshots', '<revision>');
  throw new FerryError(
    'HF_CACHE_NOT_A_SNAPSHOT',
    `${repoRoot} is a Hugging Face cache folder; its checkpoints are its snapshots (${snapshots.length ? snapshots.join(', ') : 'none found'})`,
    {
      hint: `Upload one snapshot folder, e.g. ${example}`,
    },
  );
}

export function localDirObjectStore(root: string): ObjectStore {
  const base = path.resolve(root);
  const counters: ReadStats = { requests: 0, bytesRead: 0 };

  const resolveObject = (name: string): string => {
    const full = path.resolve(base, ...name.split('/'));
    if (full !== base && !full.startsWith(base + path.sep)) {
      throw new FerryError('OBJECT_NOT_FOUND', `${name} is outside ${base}`);
    }
    return full;
  };

  return {
    location: base,

    async list(prefix: string): Promise<ObjectInfo[]> {
      counters.requests++;
      return (await listLocalFiles(base))
        .filter((f) => f.name.startsWith(prefix))
        .map((f) => ({ name: f.name, size: f.size, generation: '0', updated: f.mtime.toISOString() }));
    },

    async read(name: string, start: number, endExclusive: number): Promise<Uint8Array> {
      counters.requests++;
      const want = Math.max(0, endExclusive - start);
      const full = resolveObject(name);
      let fh;
      try {
        fh = await open(full, 'r');
      } catch (e) {
        throw mapFsError(e, full);
      }
      try {
        const buf = Buffer.alloc(want);
        let got = 0;
        while (got < want) {
          const { bytesRead } = await fh.read(buf, got, want - got, start + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        counters.bytesRead += got;
        return got === want ? buf : buf.subarray(0, got);
      } catch (e) {
        throw mapFsError(e, full);
      } finally {
        await fh.close();
      }
    },

    stats: () => ({ ...counters }),
  };
}

function mapFsError(e: unknown, file: string): FerryError {
  if (e instanceof FerryError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'ENOENT') return new FerryError('OBJECT_NOT_FOUND', `${file} does not exist`, { cause: e });
  if (code === 'ENOTDIR') return new FerryError('NOT_A_DIRECTORY', `${file} is not a directory`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') {
    return new FerryError('STORAGE_FORBIDDEN', `permission denied: ${file}`, { cause: e, hint: 'Check the file permissions.' });
  }
  return new FerryError('STORAGE_UNAVAILABLE', `reading ${file} failed: ${message}`, { retryable: true, cause: e });
}

/**
 * Hugging Face cache blobs named by their sha256 (shared/domain/manifest.ts `hfBlobSha256`, from
 * huggingface_hub's file_download.py) are hashed and checked against their name before anything is
 * uploaded; the files come back with `sha256` set for the manifest. Any mismatch refuses the upload
 * with HF_BLOB_HASH_MISMATCH naming every damaged file. Files not linked to such a blob are left
 * as they are. Reads each such file once, `concurrency` files at a time.
 */
export async function checkHfBlobHashes(
  files: readonly LocalFile[],
  opts: { concurrency?: number; onBytes?: (n: number) => void } = {},
): Promise<{ files: LocalFile[]; checked: number; bytes: number }> {
  const todo = files.map((f, i) => ({ f, i, want: f.linkTarget ? hfBlobSha256(path.basename(f.linkTarget)) : undefined })).filter((x) => x.want);
  const out = [...files];
  const bad: string[] = [];
  let bytes = 0;
  let next = 0;
  const worker = async () => {
    for (let k = next++; k < todo.length; k = next++) {
      const { f, i, want } = todo[k]!;
      const got = await sha256OfFile(f.path, opts.onBytes).catch((e: unknown) => {
        throw mapFsError(e, f.path);
      });
      bytes += f.size;
      if (got !== want) bad.push(`${f.name} -> blobs/${want}: its bytes hash to ${got}`);
      else out[i] = { ...f, sha256: got };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, todo.length)) }, worker));
  if (bad.length) {
    bad.sort();
    throw new FerryError(
      'HF_BLOB_HASH_MISMATCH',
      `${bad.length} Hugging Face blob(s) do not match the sha256 they are named by: ${bad.slice(0, 5).join('; ')}${bad.length > 5 ? ` (and ${bad.length - 5} more)` : ''}`,
      { details: { files: bad } },
    );
  }
  return { files: out, checked: todo.length, bytes };
}

async function sha256OfFile(file: string, onBytes?: (n: number) => void): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) {
    h.update(chunk);
    onBytes?.(chunk.length);
  }
  return h.digest('hex');
}

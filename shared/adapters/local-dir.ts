/**
 * ObjectStore over a directory on disk. Object names are paths relative to the root with `/`
 * separators; reads open the file and read only the requested byte range.
 */
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../domain/errors.ts';
import type { ObjectInfo, ObjectStore, ReadStats } from '../ports/object-store.ts';

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
      let entries: string[];
      try {
        const st = await stat(base);
        if (!st.isDirectory()) throw new FerryError('NOT_A_DIRECTORY', `${base} is not a directory`);
        entries = await readdir(base, { recursive: true });
      } catch (e) {
        throw mapFsError(e, base);
      }
      const out: ObjectInfo[] = [];
      for (const rel of entries) {
        const name = rel.split(path.sep).join('/');
        if (!name.startsWith(prefix)) continue;
        try {
          const st = await stat(path.join(base, rel));
          if (st.isFile()) out.push({ name, size: st.size, generation: '0', updated: st.mtime.toISOString() });
        } catch {
          // vanished or a dangling symlink: not an object
        }
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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

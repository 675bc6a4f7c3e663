/**
 * The files under a local directory, for `ferry upload` (port: LocalFiles in shared/ports/uploader.ts).
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { LocalFile, LocalFiles } from '../ports/uploader.ts';

async function walk(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, root)));
    else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
  }
  return out;
}

export function localFiles(): LocalFiles {
  return {
    async list(dir) {
      const out: LocalFile[] = [];
      for (const name of await walk(dir)) {
        const path = join(dir, ...name.split('/'));
        out.push({ name, path, size: (await stat(path)).size });
      }
      return out;
    },
  };
}

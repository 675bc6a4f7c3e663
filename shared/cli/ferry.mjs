#!/usr/bin/env node
// Launcher for the `ferry` CLI. The CLI is TypeScript run by Node's type stripping, on Node 24 (the
// Cloud Functions runtime ferry targets; the SDKs need >= 22). When started by an older Node (the
// system Node on some machines is 20), re-run the same command on the Node 24 that `npm ci`
// installs from the `node` package, so `npx ferry` works either way.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, 'main.ts');
const major = Number(process.versions.node.split('.')[0]);

if (major >= 24) {
  await import(main);
} else {
  const root = join(here, '..', '..');
  const node24 = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node24)) {
    process.stderr.write(
      `ferry needs Node >= 24 (this is ${process.versions.node}). Run \`npm ci\` in ${root} ` +
        '(it installs Node 24 from the `node` package) or install Node 24.\n',
    );
    process.exit(2);
  }
  const r = spawnSync(node24, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

#!/usr/bin/env node
// Launcher for the `ferry` CLI. The CLI is TypeScript run by Node's type stripping (Node >= 22.18).
// When started by an older Node (the system Node on some machines is 20), re-run the same command
// on the Node 22 that `npm ci` installs from the `node` package, so `npx ferry` works either way.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, 'main.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
const canStrip = major > 22 || (major === 22 && minor >= 18);

if (canStrip) {
  await import(main);
} else {
  const root = join(here, '..', '..');
  const node22 = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node22)) {
    process.stderr.write(
      `ferry needs Node >= 22.18 (this is ${process.versions.node}). Run \`npm ci\` in ${root} ` +
        '(it installs Node 22 from the `node` package) or install Node 22.\n',
    );
    process.exit(2);
  }
  const r = spawnSync(node22, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

/** README's CLI table lists every command of the specs, with each of its flags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SPECS } from '../../../shared/cli/specs.ts';

const README = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
const section = README.slice(README.indexOf('## CLI'), README.indexOf('\n## ', README.indexOf('## CLI') + 1));
const rows = section.split('\n').filter((l) => l.startsWith('| `ferry '));

test('every command has a row in the README CLI table, and its row names each of its flags', () => {
  const named = new Set(rows.map((r) => /^\| `ferry ([a-z]+)/.exec(r)![1]));
  assert.deepEqual([...named].sort(), SPECS.map((s) => s.name).sort());
  for (const spec of SPECS) {
    const text = rows.filter((r) => r.startsWith(`| \`ferry ${spec.name}`)).join('\n');
    for (const f of spec.flags) {
      // Deploy's request flags appear on its row; render's row points at them.
      const where =
        spec.name === 'render' && !['filename', 'cluster', 'namespace', 'name'].includes(f.name)
          ? rows.filter((r) => r.startsWith('| `ferry deploy')).join('\n')
          : text;
      assert.ok(where.includes(`--${f.name}`) || (f.short !== undefined && where.includes(`-${f.short} `)), `README row of ${spec.name} names --${f.name}`);
    }
    if (spec.output) assert.match(text, /-o (json\\\|yaml|yaml\\\|json|yaml)/, `${spec.name}: -o`);
  }
});

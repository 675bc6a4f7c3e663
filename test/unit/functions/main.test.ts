/**
 * The deployed entry (functions/main.ts): with FUNCTION_TARGET set, as Cloud Functions starts
 * functions-framework, only that function is registered; without one, all of them. Each case is a
 * fresh Node process, since registration is process-wide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FUNCTIONS } from '../../../functions/manifest.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const NAMES = FUNCTIONS.map((f) => f.name);

/** The functions registered with functions-framework after importing main.ts with `env`. */
function registeredWith(env: Record<string, string | undefined>): string[] {
  const script = `
    await import(${JSON.stringify(pathToFileURL(join(ROOT, 'functions', 'main.ts')).href)});
    const { getFunction } = await import('@google-cloud/functions-framework/testing');
    const names = ${JSON.stringify(NAMES)};
    process.stdout.write(JSON.stringify(names.filter((n) => getFunction(n) !== undefined)));`;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) childEnv[k] = v;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: childEnv });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

test('FUNCTION_TARGET loads only that function', () => {
  for (const name of NAMES) assert.deepEqual(registeredWith({ FUNCTION_TARGET: name }), [name], name);
});

test('no target, or one ferry does not have, loads every function', () => {
  assert.deepEqual(registeredWith({ FUNCTION_TARGET: undefined }).sort(), [...NAMES].sort());
  assert.deepEqual(registeredWith({ FUNCTION_TARGET: 'toString' }).sort(), [...NAMES].sort(), 'a name on Object.prototype is not a loader');
});

/**
 * A newcomer's first steps, as they take them: `npm start` wrote .ferry/local.env, and in a NEW
 * shell — nothing exported but PATH and HOME — they run `ferry`. The CLI runs as a subprocess
 * through its launcher (`shared/cli/ferry.mjs`, started by the PATH's `node`, as `npx ferry` does),
 * in a folder holding only the env file the stack wrote. Nothing the tests export reaches it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stackEnv } from '../helpers/stack-env.ts';

const { FERRY_TEST_LOCAL_ENV } = stackEnv('FERRY_TEST_LOCAL_ENV');
const LAUNCHER = join(import.meta.dirname, '..', '..', 'shared', 'cli', 'ferry.mjs');

const home = mkdtempSync(join(tmpdir(), 'ferry-home-'));
const withStack = mkdtempSync(join(tmpdir(), 'ferry-shell-'));
mkdirSync(join(withStack, '.ferry'));
copyFileSync(FERRY_TEST_LOCAL_ENV, join(withStack, '.ferry', 'local.env'));
const noStack = mkdtempSync(join(tmpdir(), 'ferry-shell-'));
after(() => {
  for (const d of [home, withStack, noStack]) rmSync(d, { recursive: true, force: true });
});

/** `ferry …` in `cwd`, in a bare environment: only PATH and HOME. */
function ferry(cwd: string, ...args: string[]) {
  const r = spawnSync('node', [LAUNCHER, ...args], { cwd, env: { PATH: process.env['PATH']!, HOME: home }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const noStackTrace = (s: string) => assert.doesNotMatch(s, /^\s+at .+[:(]\d+/m, `no stack trace expected, got:\n${s}`);

test('the env file the stack writes is readable by its owner only (it holds the Slack signing secret)', () => {
  assert.equal(statSync(FERRY_TEST_LOCAL_ENV).mode & 0o777, 0o600);
});

test('fresh shell: `ferry status` reads .ferry/local.env and talks to the local emulators', () => {
  const r = ferry(withStack, 'status', '--json');
  noStackTrace(r.err);
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out) as { models: unknown[]; rejectedRequests: unknown[] };
  assert.ok(Array.isArray(json.models));
  // It did not fall back to production Firestore (that notice is printed only without an emulator).
  assert.doesNotMatch(r.err, /no FIRESTORE_EMULATOR_HOST/);
});

test('fresh shell with no stack and no credentials: one line saying what to do, never a stack trace', () => {
  // The project is known (as after `gcloud config set project`), but nobody is logged in.
  const r = spawnSync('node', [LAUNCHER, 'status'], {
    cwd: noStack,
    env: { PATH: process.env['PATH']!, HOME: home, GOOGLE_CLOUD_PROJECT: 'ferry-journey-test' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  noStackTrace(r.stderr);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /\[CREDENTIALS_MISSING\]/);
  assert.match(r.stderr, /gcloud auth application-default login/);
  assert.match(r.stderr, /npm start/);
});

test('fresh shell with no stack and no project: the missing variable is named', () => {
  const r = ferry(noStack, 'status');
  noStackTrace(r.err);
  assert.equal(r.code, 2);
  assert.match(r.err, /GOOGLE_CLOUD_PROJECT is not set/);
  assert.match(r.err, /npm start/);
});

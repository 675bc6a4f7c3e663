/**
 * No command ends in a stack trace when nobody is logged in, or when .ferry/local.env points at a
 * stack that is not running: one line with a reason code, and what to do next. The CLI runs as a
 * subprocess through its launcher in a bare environment (PATH and HOME, plus what each case sets).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const LAUNCHER = join(import.meta.dirname, '..', '..', '..', 'shared', 'cli', 'ferry.mjs');
const home = mkdtempSync(join(tmpdir(), 'ferry-home-'));
const bare = mkdtempSync(join(tmpdir(), 'ferry-bare-'));
const stopped = mkdtempSync(join(tmpdir(), 'ferry-stopped-'));
mkdirSync(join(stopped, '.ferry'));
// Port 1 on loopback: nothing listens there, the connection is refused at once.
writeFileSync(
  join(stopped, '.ferry', 'local.env'),
  [
    'GOOGLE_CLOUD_PROJECT=demo-ferry',
    'FIRESTORE_EMULATOR_HOST=127.0.0.1:1',
    'PUBSUB_EMULATOR_HOST=127.0.0.1:1',
    'STORAGE_EMULATOR_HOST=http://127.0.0.1:1',
    'FERRY_BUCKET=ferry-local',
    'FERRY_STORAGE_CONTROL_API_ENDPOINT=http://127.0.0.1:1',
    'FERRY_GKE_API_ENDPOINT=http://127.0.0.1:1',
    'FERRY_COMPUTE_API_ENDPOINT=http://127.0.0.1:1',
    '',
  ].join('\n'),
  { mode: 0o600 },
);
after(() => {
  for (const d of [home, bare, stopped]) rmSync(d, { recursive: true, force: true });
});

const TARGET = ['--cluster', 'local', '--namespace', 'ns', '--name', 'd'];
const COMMANDS: string[][] = [
  ['status'],
  ['plan', 'm@v1'],
  ['caches'],
  ['teardown', '--dry-run'],
  ['rollback', ...TARGET],
  ['deploy', 'm@v1', ...TARGET],
  ['deploy', 'm@v1', ...TARGET, '--wait'],
  ['autodeploy', 'm', ...TARGET],
  ['render', 'm@v1', ...TARGET],
  ['gate', 'show', 'm'],
];

interface Run {
  code: number | null;
  err: string;
  out: string;
  /** Wall time of this one process. */
  ms: number;
}

function ferry(cwd: string, env: Record<string, string>, args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('node', [LAUNCHER, ...args], { cwd, env: { PATH: process.env['PATH']!, HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Generous: on a machine busy with other work a CLI start alone can take many seconds.
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, err, out, ms: Date.now() - started });
    });
  });
}

/**
 * Every command, two processes at a time: nine Node processes at once on a 2-core machine that is
 * already busy made each one wait for CPU long enough to hit the kill timer (a flaky test, not a
 * slow CLI).
 */
async function everyCommand(cwd: string, env: Record<string, string>): Promise<Run[]> {
  const results: Run[] = new Array(COMMANDS.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < COMMANDS.length) {
      const i = next++;
      results[i] = await ferry(cwd, env, COMMANDS[i]!);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

function oneReason(args: string[], r: { code: number | null; err: string }, code: RegExp, hint: RegExp): void {
  const what = `ferry ${args.join(' ')}:\n${r.err}`;
  assert.doesNotMatch(r.err, /^\s+at .+[:(]\d+/m, what);
  assert.equal(r.code, 2, what);
  const lines = r.err.trimEnd().split('\n');
  assert.equal(lines.length, 2, `one failure line and one "next:" line — ${what}`);
  assert.match(lines[0]!, new RegExp(`^ferry ${args[0]}: .+ \\[${code.source}\\]$`), what);
  assert.match(lines[1]!, /^ {2}next: /, what);
  assert.match(lines[1]!, hint, what);
}

test('no credentials (production mode, not logged in): every command says so in one line', async () => {
  const env = { GOOGLE_APPLICATION_CREDENTIALS: join(bare, 'no-such-key.json'), METADATA_SERVER_DETECTION: 'none', GOOGLE_CLOUD_PROJECT: 'ferry-no-creds' };
  const results = await everyCommand(bare, env);
  COMMANDS.forEach((args, i) => oneReason(args, results[i]!, /CREDENTIALS_MISSING/, /gcloud auth application-default login.*npm start/));
});

test('a stopped local stack: every command names it and says `npm start`, at once', async () => {
  const results = await everyCommand(stopped, {});
  COMMANDS.forEach((args, i) => oneReason(args, results[i]!, /BACKEND_UNREACHABLE/, /npm start/));
  assert.match(results[0]!.err, /nothing answers at 127\.0\.0\.1:1 \(FIRESTORE_EMULATOR_HOST\)/);
  // The SDKs' own retries against a refused port last a minute or more; ferry asks once and stops.
  for (const [i, r] of results.entries()) assert.ok(r.ms < 45_000, `ferry ${COMMANDS[i]!.join(' ')} took ${r.ms} ms: SDK retries against a refused port?`);
});

test('teardown without --dry-run and without a terminal asks for --yes, before touching anything', async () => {
  const r = await ferry(stopped, {}, ['teardown']);
  oneReason(['teardown'], r, /CONFIRMATION_REQUIRED/, /--yes/);
});

/**
 * Leftovers of a killed stack (issue #23): what counts as a leftover of THIS checkout (pure), and the
 * reaping itself against real detached processes this test spawns and records as leftovers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, rmSync, readFileSync } from 'node:fs';
import { createServer as netServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  belongsHere,
  cleanLeftovers,
  judge,
  leftoverSet,
  mentionsPath,
  observe,
  selfRecord,
  PROCESS_RECORD,
  type ObservedProcess,
  type Ownership,
  type ProcessRecord,
  type RecordedProcess,
} from '../../../infra/local/leftovers.ts';

const own: Ownership = { uid: 1000, roots: ['/work/wt/leftovers', '/work/wt/leftovers/.ferry/stack'], selfPid: 42 };
const proc = (o: Partial<ObservedProcess> & { pid: number }): ObservedProcess => ({
  ppid: 1,
  pgid: o.pid,
  starttime: '500',
  uid: 1000,
  cmdline: ['/usr/bin/etcd', '--data-dir', '/work/wt/leftovers/.ferry/stack/kube/etcd'],
  cwd: '/',
  zombie: false,
  ...o,
});
const rec = (pid: number, starttime = '500', name = 'etcd'): RecordedProcess => ({ name, pid, starttime });

test('mentionsPath matches the root and paths under it, not a sibling checkout with a longer name', () => {
  assert.equal(mentionsPath('/work/wt/leftovers', '/work/wt/leftovers'), true);
  assert.equal(mentionsPath('/work/wt/leftovers/infra/local/functions-host.ts', '/work/wt/leftovers'), true);
  assert.equal(mentionsPath('--data-dir=/work/wt/leftovers/.ferry/stack/kube', '/work/wt/leftovers'), true);
  assert.equal(mentionsPath('/work/wt/leftovers2/infra', '/work/wt/leftovers'), false);
  assert.equal(mentionsPath('/work/wt/leftovers-b', '/work/wt/leftovers'), false);
  assert.equal(mentionsPath('/other/work/wt/leftovers', '/work/wt/leftovers'), false);
  assert.equal(mentionsPath('/work/wt/leftovers2 /work/wt/leftovers/x', '/work/wt/leftovers'), true);
});

test('judge: a recorded process is a leftover only while it is that very process, ours, in this checkout', () => {
  assert.deepEqual(judge(rec(10), undefined, own), { kind: 'gone' });
  assert.deepEqual(judge(rec(10), proc({ pid: 10 }), own), { kind: 'leftover' });
  // The pid was reused by a later process.
  assert.equal(judge(rec(10, '400'), proc({ pid: 10 }), own).kind, 'not-ours');
  // Another user's process, even one naming this checkout.
  assert.equal(judge(rec(10), proc({ pid: 10, uid: 0 }), own).kind, 'not-ours');
  // Another worktree's stack.
  assert.equal(judge(rec(10), proc({ pid: 10, cmdline: ['/usr/bin/etcd', '--data-dir', '/work/wt/leftovers2/.ferry/stack/kube/etcd'] }), own).kind, 'not-ours');
  // A JVM whose command line names only system paths, started in this stack's directory.
  assert.equal(
    judge(rec(10), proc({ pid: 10, cmdline: ['java', '-jar', '/usr/lib/x.jar'], cwd: '/work/wt/leftovers/.ferry/stack/emulators' }), own).kind,
    'leftover',
  );
  assert.deepEqual(judge(rec(10), proc({ pid: 10, zombie: true }), own), { kind: 'gone' });
  assert.equal(belongsHere(proc({ pid: 42 }), own).kind, 'not-ours');
});

test('leftoverSet adds what the leftovers spawned and share a group with, each passing the ownership test', () => {
  const record: ProcessRecord = {
    owner: rec(5, '1', 'stack'),
    startedAt: '2026-12-06T14:02:00Z',
    processes: [rec(10, '500', 'functions'), rec(20, '500', 'kube-apiserver')],
  };
  const live = [
    proc({ pid: 10, cmdline: ['node', '/work/wt/leftovers/infra/local/functions-host.ts'] }),
    proc({ pid: 11, ppid: 10, pgid: 10, cmdline: ['node', 'worker'], cwd: '/work/wt/leftovers' }),
    proc({ pid: 12, ppid: 11, pgid: 12, cmdline: ['sleep', '9'], cwd: '/work/wt/leftovers' }),
    // In the group but another checkout's: never.
    proc({ pid: 13, ppid: 1, pgid: 10, cmdline: ['x'], cwd: '/work/wt/other' }),
    // Pid 20 was reused by someone else's process.
    proc({ pid: 20, starttime: '999', cmdline: ['/work/wt/leftovers/kube-apiserver'] }),
    proc({ pid: 21, ppid: 20, pgid: 20, cwd: '/work/wt/leftovers' }),
  ];
  const got = leftoverSet(record, live, own)
    .map((v) => v.proc.pid)
    .sort();
  assert.deepEqual(got, [10, 11, 12]);
});

// --- reaping real processes ----------------------------------------------------------------------

const children: ChildProcess[] = [];
function spawnDetached(cwd: string, cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(c);
  return c;
}
const recordOf = (name: string, pid: number): RecordedProcess => ({ name, pid, starttime: observe(pid)!.starttime });
const isAlive = (pid: number): boolean => {
  const o = observe(pid);
  return o !== undefined && !o.zombie;
};
async function deadOwner(): Promise<RecordedProcess> {
  const c = spawn('true');
  const pid = c.pid!;
  await new Promise((r) => c.once('exit', r));
  return { name: 'stack', pid, starttime: '1' };
}
function cleanupAll(): void {
  for (const c of children) {
    try {
      process.kill(c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

test('the next start stops a dead stack’s processes of this checkout, frees their ports, removes its sockets, and leaves others alone', async (t) => {
  t.after(cleanupAll);
  const base = mkdtempSync(join(tmpdir(), 'ferry-leftovers-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const repo = join(base, 'checkout');
  const dir = join(repo, '.ferry', 'stack');
  const other = join(base, 'checkout2'); // another worktree, whose name starts like ours
  mkdirSync(join(dir, 'emulators', 'tmp'), { recursive: true });
  mkdirSync(other, { recursive: true });

  const sleeper = spawnDetached(dir, 'sleep', ['1000']);
  // Ignores SIGTERM (as a wedged JVM may): needs the SIGKILL after the grace.
  const stubborn = spawnDetached(dir, 'sh', ['-c', 'trap "" TERM; while :; do sleep 1; done']);
  const listener = spawnDetached(repo, process.execPath, [
    '-e',
    "const s=require('net').createServer().listen(0,'127.0.0.1',()=>console.log(s.address().port))",
  ]);
  const port = Number(await new Promise<string>((r) => listener.stdout!.once('data', (d: Buffer) => r(d.toString().trim()))));
  const foreign = spawnDetached(other, 'sleep', ['1000']);
  await sleep(200); // the shell is running its loop

  // A stale unix socket of the emulators, as firebase leaves them (fire_emu_*.sock).
  const sockPath = join(dir, 'emulators', 'tmp', 'fire_emu_0123.sock');
  const sock: Server = netServer();
  await new Promise<void>((r) => sock.listen(sockPath, () => r()));
  t.after(() => sock.close());

  const record: ProcessRecord = {
    owner: await deadOwner(),
    startedAt: '2026-12-06T14:02:00.000Z',
    processes: [
      recordOf('functions', sleeper.pid!),
      recordOf('etcd', stubborn.pid!),
      recordOf('kube-apiserver', listener.pid!),
      recordOf('functions', foreign.pid!),
    ],
  };
  writeFileSync(join(dir, PROCESS_RECORD), JSON.stringify(record));
  // A killed test run's stack next to it, and one whose owner (this process) still runs.
  const deadTest = join(repo, '.ferry', 'test-dead');
  const liveTest = join(repo, '.ferry', 'test-live');
  const inLiveTest = spawnDetached(repo, 'sleep', ['1000']);
  mkdirSync(deadTest, { recursive: true });
  mkdirSync(liveTest, { recursive: true });
  const testSleeper = spawnDetached(deadTest, 'sleep', ['1000']);
  writeFileSync(
    join(deadTest, PROCESS_RECORD),
    JSON.stringify({ owner: await deadOwner(), startedAt: '2026-12-06T13:00:00Z', processes: [recordOf('functions', testSleeper.pid!)] }),
  );
  writeFileSync(
    join(liveTest, PROCESS_RECORD),
    JSON.stringify({ owner: selfRecord(), startedAt: '2026-12-06T13:30:00Z', processes: [recordOf('functions', inLiveTest.pid!)] }),
  );
  // .ferry/stack.json of a stack whose pid is gone.
  const stackJson = join(repo, '.ferry', 'stack.json');
  writeFileSync(stackJson, JSON.stringify({ pid: record.owner.pid }));

  const lines: string[] = [];
  const cleaned = await cleanLeftovers({
    dir,
    repoRoot: repo,
    log: (l) => lines.push(l),
    graceMs: 1000,
    siblings: true,
    staleRecords: { file: stackJson },
  });

  for (const pid of [sleeper.pid!, stubborn.pid!, listener.pid!, testSleeper.pid!])
    assert.equal(isAlive(pid), false, `pid ${pid} still runs:\n${lines.join('\n')}`);
  assert.equal(isAlive(foreign.pid!), true, 'another checkout’s process was touched');
  assert.equal(isAlive(inLiveTest.pid!), true, 'a running stack’s process was touched');
  assert.ok(existsSync(join(liveTest, PROCESS_RECORD)));
  assert.deepEqual(cleaned.running, [liveTest]);

  const byPid = new Map(cleaned.processes.map((p) => [p.pid, p]));
  assert.equal(byPid.get(stubborn.pid!)?.signal, 'SIGKILL');
  assert.equal(byPid.get(sleeper.pid!)?.signal, 'SIGTERM');
  assert.deepEqual(byPid.get(listener.pid!)?.ports, [port]);
  assert.equal(byPid.has(foreign.pid!), false);
  // The port is free again.
  await new Promise<void>((resolve, reject) => {
    const s = netServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
  assert.equal(existsSync(sockPath), false);
  assert.equal(existsSync(deadTest), false);
  assert.equal(existsSync(stackJson), false);
  assert.equal(existsSync(join(dir, PROCESS_RECORD)), false);

  // One line per thing, saying what, which pid and from when.
  assert.ok(lines.includes(`cleaned: leftover kube-apiserver pid ${listener.pid} from a stack started 14:02, freeing port ${port}`), lines.join('\n'));
  assert.ok(lines.includes(`cleaned: leftover etcd pid ${stubborn.pid} from a stack started 14:02 (needed SIGKILL)`), lines.join('\n'));
  assert.ok(lines.includes('cleaned: temp dir .ferry/stack/emulators/tmp (1 stale socket(s), 0 other entries) from a stack started 14:02'), lines.join('\n'));
  assert.ok(lines.includes('cleaned: temp dir .ferry/test-dead from a stack started 13:00 (.ferry/test-dead)'), lines.join('\n'));
  assert.ok(
    lines.some((l) => l.startsWith('cleaned: stale .ferry/stack.json')),
    lines.join('\n'),
  );

  // A second start finds nothing more.
  const again: string[] = [];
  await cleanLeftovers({ dir, repoRoot: repo, log: (l) => again.push(l), siblings: true, staleRecords: { file: stackJson } });
  assert.deepEqual(again, []);
  assert.ok(readFileSync(join(liveTest, PROCESS_RECORD), 'utf8').length > 0);
});

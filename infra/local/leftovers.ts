/**
 * Leftovers of a killed stack (issue #23). `kill -9`, the OOM killer or a closed terminal give the
 * stack no chance to stop what it started: the functions host, etcd and the Kubernetes servers and
 * the firebase JVMs run in their own process groups and outlive it, holding their ports, and the
 * emulators leave their unix sockets and blobs in `<dir>/emulators/tmp`.
 *
 * Each stack records what it starts in `<dir>/processes.json` (pid + /proc starttime, so a reused
 * pid is never mistaken for ours). The next start in the same checkout reads that record, stops the
 * processes that are still the very ones recorded AND belong to this checkout (same user, command
 * line or working directory inside this repo or the stack's directory), SIGTERM then SIGKILL after a
 * grace, removes the stale sockets and temp files, and prints one `cleaned:` line per thing. Other
 * checkouts' stacks (several worktrees run stacks at once on one machine) and other users'
 * processes are never touched: they fail the ownership test.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { join, dirname, basename, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onProcessStart, type ManagedProcess } from './proc.ts';

export const PROCESS_RECORD = 'processes.json';

export interface RecordedProcess {
  name: string;
  pid: number;
  /** /proc/PID/stat field 22: tells this process apart from a later one that reuses its pid. */
  starttime: string;
}

export interface ProcessRecord {
  owner: RecordedProcess;
  startedAt: string;
  processes: RecordedProcess[];
}

/** What /proc says about a live process. */
export interface ObservedProcess {
  pid: number;
  ppid: number;
  pgid: number;
  starttime: string;
  uid: number;
  cmdline: string[];
  cwd: string;
  zombie: boolean;
}

export interface Ownership {
  uid: number;
  /** This checkout and the stack's state directory: a process of ours names one of them. */
  roots: string[];
  selfPid: number;
}

export type Verdict = { kind: 'leftover' } | { kind: 'gone' } | { kind: 'not-ours'; reason: string };

/** True when `text` names `root` or a path under it (`/a/wt` does not match `/a/wt2`). */
export function mentionsPath(text: string, root: string): boolean {
  const r = root.replace(/\/+$/, '');
  let i = text.indexOf(r);
  while (i >= 0) {
    const before = i === 0 ? '' : text[i - 1]!;
    const after = text[i + r.length] ?? '';
    if (!/[\w.\-/]/.test(before) && (after === '' || after === '/' || !/[\w.-]/.test(after))) return true;
    i = text.indexOf(r, i + 1);
  }
  return false;
}

/** The ownership test alone: same user, and the command line or working directory is in a root. */
export function belongsHere(obs: ObservedProcess, own: Ownership): Verdict {
  if (obs.pid === own.selfPid) return { kind: 'not-ours', reason: 'this process' };
  if (obs.zombie) return { kind: 'gone' };
  if (obs.uid !== own.uid) return { kind: 'not-ours', reason: `runs as uid ${obs.uid}` };
  const named = own.roots.some((root) => mentionsPath(obs.cwd, root) || obs.cmdline.some((a) => mentionsPath(a, root)));
  if (!named) return { kind: 'not-ours', reason: 'neither its command line nor its working directory is in this checkout' };
  return { kind: 'leftover' };
}

/**
 * Is the recorded process still running, and is it ours to stop? Pure: the caller reads /proc.
 * A pid whose starttime differs is a different process that reused the number: not ours.
 */
export function judge(rec: RecordedProcess, obs: ObservedProcess | undefined, own: Ownership): Verdict {
  if (!obs) return { kind: 'gone' };
  if (obs.starttime !== rec.starttime) return { kind: 'not-ours', reason: `pid ${rec.pid} now belongs to another process` };
  return belongsHere(obs, own);
}

/**
 * The recorded leftovers plus what they spawned: live processes whose parent is a leftover or that
 * sit in a leftover's process group, each passing the ownership test itself. Pure.
 */
export function leftoverSet(record: ProcessRecord, live: ObservedProcess[], own: Ownership): Array<{ name: string; proc: ObservedProcess }> {
  const byPid = new Map(live.map((p) => [p.pid, p]));
  const out = new Map<number, { name: string; proc: ObservedProcess }>();
  for (const rec of record.processes) {
    const obs = byPid.get(rec.pid);
    if (judge(rec, obs, own).kind === 'leftover') out.set(rec.pid, { name: rec.name, proc: obs! });
  }
  const groups = new Set([...out.keys()]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of live) {
      if (out.has(p.pid)) continue;
      const parent = out.get(p.ppid);
      if ((parent || groups.has(p.pgid)) && belongsHere(p, own).kind === 'leftover') {
        const via = parent ?? out.get(p.pgid);
        out.set(p.pid, { name: `${commOf(p)} (under ${via?.name ?? 'a leftover'})`, proc: p });
        grew = true;
      }
    }
  }
  return [...out.values()];
}

function commOf(p: ObservedProcess): string {
  return basename(p.cmdline[0] ?? `pid ${p.pid}`);
}

// ---------------------------------------------------------------------------------------------
// /proc readers

export function observe(pid: number): ObservedProcess | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0]=state f[1]=ppid f[2]=pgrp ... f[19]=starttime (proc(5))
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      /* another user's, or gone */
    }
    let cmdline: string[] = [];
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      /* gone */
    }
    return {
      pid,
      ppid: Number(f[1]),
      pgid: Number(f[2]),
      starttime: f[19] ?? '',
      uid: statSync(`/proc/${pid}`).uid,
      cmdline,
      cwd,
      zombie: f[0] === 'Z' || f[0] === 'X',
    };
  } catch {
    return undefined;
  }
}

function allProcesses(): ObservedProcess[] {
  const out: ObservedProcess[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const o = observe(Number(e));
    if (o) out.push(o);
  }
  return out;
}

/** TCP ports a process listens on (/proc/net/tcp{,6} LISTEN rows matched to its socket fds). */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    return [];
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = safeRead(table);
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      // local_address is c[1] (hex ip:port), st is c[3] (0A = LISTEN), inode is c[9]: Linux
      // net/ipv4/tcp_ipv4.c get_tcp4_sock's seq_printf, include/net/tcp_states.h (docs/UPSTREAM.md E5).
      if (c[3] === '0A' && inodes.has(c[9] ?? '')) ports.add(parseInt(c[1]!.split(':')[1]!, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

export function selfRecord(name = 'stack'): RecordedProcess {
  const o = observe(process.pid);
  return { name, pid: process.pid, starttime: o?.starttime ?? '' };
}

// ---------------------------------------------------------------------------------------------
// Recording

/**
 * Records in `<dir>/processes.json` every process started through proc.ts whose log is under
 * `dir` (each stack's processes log into its own directory), dropping each one as it exits.
 */
export function recordStackProcesses(dir: string): () => void {
  const record: ProcessRecord = { owner: selfRecord(), startedAt: new Date().toISOString(), processes: [] };
  const file = join(dir, PROCESS_RECORD);
  const write = (): void => {
    writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2));
    renameSync(`${file}.tmp`, file);
  };
  write();
  const off = onProcessStart((p: ManagedProcess) => {
    if (!p.logFile.startsWith(dir + '/')) return;
    const entry: RecordedProcess = { name: p.name, pid: p.pid, starttime: observe(p.pid)?.starttime ?? '' };
    record.processes.push(entry);
    write();
    void p.exited.then(() => {
      record.processes = record.processes.filter((e) => e !== entry);
      if (existsSync(dir)) write();
    });
  });
  return off;
}

// ---------------------------------------------------------------------------------------------
// Cleaning

export interface CleanOptions {
  /** The stack's state directory (its processes.json is read). */
  dir: string;
  /** This checkout (a process of ours names it or `dir`). */
  repoRoot: string;
  log: (line: string) => void;
  /** SIGTERM → SIGKILL grace (default 5 s). */
  graceMs?: number;
  /** Also clean `<dirname(dir)>/test-*` stacks whose owner is dead, and remove those directories. */
  siblings?: boolean;
  /** Files a dead stack leaves (e.g. .ferry/stack.json, .ferry/local.env): removed when their `pid` is dead. */
  staleRecords?: { file: string; alsoRemove?: string[] };
}

export interface Cleaned {
  processes: Array<{ name: string; pid: number; ports: number[]; signal: 'SIGTERM' | 'SIGKILL' }>;
  files: string[];
  /** A directory whose stack still runs: left alone. */
  running: string[];
}

function readRecord(dir: string): ProcessRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(dir, PROCESS_RECORD), 'utf8')) as ProcessRecord;
    if (!r || typeof r !== 'object' || !r.owner || !Array.isArray(r.processes)) return undefined;
    // The firebase JVMs are started detached by firebase, not by proc.ts: emulators.ts lists them.
    for (const line of safeRead(join(dir, 'emulators', 'pids')).split('\n')) {
      const [pid, starttime] = line.trim().split(/\s+/);
      if (pid && starttime && !r.processes.some((p) => p.pid === Number(pid))) r.processes.push({ name: 'emulator process', pid: Number(pid), starttime });
    }
    return r;
  } catch {
    return undefined;
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const hhmm = (iso: string): string => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? 'at an unknown time' : d.toISOString().slice(11, 16);
};

function alive(pid: number, starttime: string): boolean {
  const o = observe(pid);
  return o !== undefined && !o.zombie && o.starttime === starttime;
}

/** Stops the leftovers of the stack recorded in `dir`; returns what it did. Never throws for a process it cannot touch. */
export async function cleanLeftovers(opts: CleanOptions): Promise<Cleaned> {
  const out: Cleaned = { processes: [], files: [], running: [] };
  const own: Ownership = { uid: process.getuid?.() ?? 0, roots: [opts.repoRoot, opts.dir], selfPid: process.pid };
  const dirs = [opts.dir];
  if (opts.siblings) {
    const parent = dirname(opts.dir);
    for (const e of safeList(parent)) if (e.startsWith('test-') && join(parent, e) !== opts.dir) dirs.push(join(parent, e));
  }
  for (const dir of dirs) {
    const rec = readRecord(dir);
    if (!rec) continue;
    const isSibling = dir !== opts.dir;
    // Its owner still runs (another `npm start` or test run of this checkout, or this very process): not a leftover.
    if (alive(rec.owner.pid, rec.owner.starttime)) {
      out.running.push(dir);
      continue;
    }
    const from = `from a stack started ${hhmm(rec.startedAt)}${isSibling ? ` (${relative(opts.repoRoot, dir)})` : ''}`;
    const victims = leftoverSet(rec, allProcesses(), own).map((v) => ({ ...v, ports: listeningPorts(v.proc.pid) }));
    for (const v of victims) safeKill(v.proc.pid, 'SIGTERM');
    const deadline = Date.now() + (opts.graceMs ?? 5000);
    while (victims.some((v) => alive(v.proc.pid, v.proc.starttime)) && Date.now() < deadline) await sleep(100);
    for (const v of victims) {
      let signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM';
      if (alive(v.proc.pid, v.proc.starttime)) {
        safeKill(v.proc.pid, 'SIGKILL');
        signal = 'SIGKILL';
      }
      out.processes.push({ name: v.name, pid: v.proc.pid, ports: v.ports, signal });
      const ports = v.ports.length ? `, freeing port${v.ports.length > 1 ? 's' : ''} ${v.ports.join(', ')}` : '';
      opts.log(`cleaned: leftover ${v.name} pid ${v.proc.pid} ${from}${ports}${signal === 'SIGKILL' ? ' (needed SIGKILL)' : ''}`);
    }
    for (let i = 0; i < 50 && victims.some((v) => alive(v.proc.pid, v.proc.starttime)); i++) await sleep(100);
    if (isSibling) {
      rmSync(dir, { recursive: true, force: true });
      out.files.push(dir);
      opts.log(`cleaned: temp dir ${relative(opts.repoRoot, dir)} ${from}`);
      continue;
    }
    // The emulators' unix sockets (fire_emu_*.sock) and blobs of the dead stack.
    const tmp = join(dir, 'emulators', 'tmp');
    const entries = safeList(tmp);
    if (entries.length) {
      const sockets = entries.filter((e) => e.endsWith('.sock')).length;
      rmSync(tmp, { recursive: true, force: true });
      out.files.push(tmp);
      opts.log(
        `cleaned: temp dir ${relative(opts.repoRoot, tmp) || tmp} (${sockets} stale socket(s), ${entries.length - sockets} other entr${entries.length - sockets === 1 ? 'y' : 'ies'}) ${from}`,
      );
    }
    rmSync(join(dir, PROCESS_RECORD), { force: true });
  }
  const sr = opts.staleRecords;
  if (sr && existsSync(sr.file)) {
    let pid = 0;
    try {
      pid = Number((JSON.parse(readFileSync(sr.file, 'utf8')) as { pid?: unknown }).pid) || 0;
    } catch {
      /* unreadable: stale */
    }
    if (!pid || observe(pid) === undefined || observe(pid)!.zombie) {
      for (const f of [sr.file, ...(sr.alsoRemove ?? [])]) {
        if (!existsSync(f)) continue;
        rmSync(f, { force: true });
        out.files.push(f);
        opts.log(`cleaned: stale ${relative(opts.repoRoot, f)} of a stack (pid ${pid}) that no longer runs`);
      }
    }
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone, or not ours to signal */
  }
}

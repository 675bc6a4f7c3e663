/**
 * Process supervision for the local stack: every server is started in its own process group with
 * its output in a log file, waited on with a readiness probe, and stopped (group-wide, TERM then
 * KILL) when the stack stops, so nothing is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (after stop() or on its own). */
  readonly exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Feed this to the child's stdin (kept open otherwise: some servers exit on stdin EOF). */
  stdin?: 'ignore' | 'pipe';
}

const running = new Set<ManagedProcess>();

/** Told of every process startProcess starts (infra/local/leftovers.ts records them for the next start). */
const startListeners = new Set<(p: ManagedProcess) => void>();
export function onProcessStart(listener: (p: ManagedProcess) => void): () => void {
  startListeners.add(listener);
  return () => startListeners.delete(listener);
}

export function startProcess(opts: StartOptions): ManagedProcess {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdin ?? 'ignore', fd, fd],
    detached: true, // own process group: stop() kills the server and anything it spawned
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${opts.name} (${opts.command})`);
  const pid = child.pid;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  let stopping: Promise<void> | undefined;
  const proc: ManagedProcess = {
    name: opts.name,
    pid,
    logFile: opts.logFile,
    child,
    exited,
    stop(graceMs = 5000) {
      stopping ??= (async () => {
        killGroup(pid, 'SIGTERM');
        const done = await Promise.race([exited.then(() => true), sleep(graceMs, undefined, { ref: false }).then(() => false)]);
        if (!done) killGroup(pid, 'SIGKILL');
        // The leader may be gone while children in its group linger (e.g. a JVM under a shell).
        killGroup(pid, 'SIGKILL');
        await Promise.race([exited, sleep(1000, undefined, { ref: false })]);
        running.delete(proc);
      })();
      return stopping;
    },
  };
  running.add(proc);
  for (const l of startListeners) l(proc);
  return proc;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Stops every process started through startProcess, most recent first. */
export async function stopAll(): Promise<void> {
  const procs = [...running].reverse();
  for (const p of procs) await p.stop();
}

/** Last lines of a process's log, for error messages that say where a step failed. */
export function tailLog(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log)';
  const text = readFileSync(file, 'utf8').trimEnd().split('\n');
  return text.slice(-lines).join('\n');
}

/**
 * Polls `probe` until it returns true. Fails early, with the log's tail, if the process exits;
 * fails after `timeoutMs` otherwise.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; proc?: ManagedProcess } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let exitCode: number | null | undefined;
  opts.proc?.exited.then((c) => (exitCode = c));
  for (;;) {
    if (exitCode !== undefined && opts.proc) {
      throw new Error(`${what}: ${opts.proc.name} exited with code ${exitCode}.\n${tailLog(opts.proc.logFile)}`);
    }
    try {
      if (await probe()) return;
    } catch {
      /* not ready yet */
    }
    if (Date.now() > deadline) {
      const tail = opts.proc ? `\n${tailLog(opts.proc.logFile)}` : '';
      throw new Error(`${what}: not ready after ${opts.timeoutMs ?? 60_000} ms.${tail}`);
    }
    await sleep(opts.intervalMs ?? 150);
  }
}

/**
 * Every port this process has handed out. A port is only free until its server binds it, and the
 * stack picks some ports long before that (a function's port goes into the Storage emulator's
 * config before the functions start). Without this record a later pick could return the same port:
 * CI once saw etcd take a port already promised to a function, and the functions died on
 * EADDRINUSE. Ports are never handed out twice by one process.
 */
const handedOut = new Set<number>();

/** A TCP port that was free on 127.0.0.1 a moment ago and that this process has not handed out. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await bindAny();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free TCP port on 127.0.0.1 after 50 tries');
}

function bindAny(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The kernel's ephemeral port range (what bind(0) and outgoing connections draw from). */
export function ephemeralRange(): { lo: number; hi: number } {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi && lo <= hi) return { lo, hi };
  } catch {
    /* not Linux, or not readable */
  }
  return { lo: 32768, hi: 60999 };
}

/**
 * A port that is free now, that this process has not handed out, and that lies outside the kernel's
 * ephemeral range when the machine leaves room for that. Ports from bind(0) (freePort) are in the
 * ephemeral range, where any process's own bind(0) or outgoing connection — another stack, a JVM's
 * internal server — can take them in the seconds before firebase's JVMs bind them (seen here: the
 * Pub/Sub emulator dying with BindException while another gRPC server answered on its port).
 * `exclude` adds ports the caller wants to keep clear of (e.g. a config's fixed defaults).
 */
export async function freeStablePort(exclude: ReadonlySet<number> = new Set()): Promise<number> {
  const eph = ephemeralRange();
  // Candidates: 10000..65535 minus the ephemeral range; if that leaves under 1000 ports (a machine
  // whose ephemeral range is nearly everything), fall back to 10000..65535 and rely on the checks.
  const spans: Array<[number, number]> = [];
  if (eph.lo > 10_000) spans.push([10_000, eph.lo - 1]);
  if (eph.hi < 65_535) spans.push([Math.max(10_000, eph.hi + 1), 65_535]);
  const size = spans.reduce((n, [a, b]) => n + (b - a + 1), 0);
  const pool: Array<[number, number]> = size >= 1000 ? spans : [[10_000, 65_535]];
  const total = pool.reduce((n, [a, b]) => n + (b - a + 1), 0);
  for (let i = 0; i < 200; i++) {
    let k = Math.floor(Math.random() * total);
    let p = 0;
    for (const [a, b] of pool) {
      if (k <= b - a) {
        p = a + k;
        break;
      }
      k -= b - a + 1;
    }
    if (exclude.has(p) || handedOut.has(p)) continue;
    if (await canListen(p)) {
      handedOut.add(p);
      return p;
    }
  }
  return freePort();
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resolves once a GET to url answers with a status accepted by `ok` (default: any). */
export async function httpAnswers(url: string, ok: (status: number) => boolean = () => true): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return ok(res.status);
  } catch {
    return false;
  }
}

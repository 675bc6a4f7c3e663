/**
 * While the stack runs it watches every piece it started (issue #23: "restarts a dead piece or
 * stops with a message naming it — never a silently dead path"). A piece is a process (dead when it
 * exits) or a server (dead when its probe fails `failuresToDead` times in a row). A dead piece that
 * can be restarted safely (it keeps no state: the functions host) is restarted, at most
 * `maxRestarts` times per `restartWindowMs`; any other dead piece stops the whole stack with one
 * message naming it and saying what to do (given to `onFatal`, which prints it and stops the
 * stack). Nothing is done once the stack is stopping.
 */

export interface WatchedProcess {
  pid: number;
  exited: Promise<number | null>;
}

export interface Piece {
  name: string;
  /** A process piece: its current instance (a new one after each restart). */
  process?: () => WatchedProcess | undefined;
  /** A server piece: true while it answers. */
  probe?: () => Promise<boolean>;
  /** How often to probe (default: the watcher's interval). */
  probeEveryMs?: number;
  /** Present only when a restart loses nothing; otherwise a dead piece stops the stack. */
  restart?: () => Promise<void>;
  /** What the user should do when it died and the stack stopped (e.g. where its log is). */
  advice: string;
}

export interface WatchOptions {
  log: (m: string) => void;
  stopping: () => boolean;
  /** Called once, with the message, when a dead piece stops the stack. */
  onFatal: (message: string) => void | Promise<void>;
  intervalMs?: number;
  failuresToDead?: number;
  maxRestarts?: number;
  restartWindowMs?: number;
}

export interface Watcher {
  stop(): void;
}

export function watchPieces(pieces: Piece[], opts: WatchOptions): Watcher {
  const interval = opts.intervalMs ?? 2000;
  const failuresToDead = opts.failuresToDead ?? 3;
  const maxRestarts = opts.maxRestarts ?? 3;
  const window = opts.restartWindowMs ?? 10 * 60_000;
  let fatal = false;
  let stopped = false;
  const state = pieces.map((p) => ({
    piece: p,
    busy: false,
    /** A restart is under way: the exit of the instance it replaces (it may stop a hung one) is not a new death. */
    restarting: false,
    fails: 0,
    lastProbe: 0,
    restarts: [] as number[],
    watched: new WeakSet<WatchedProcess>(),
  }));

  const quiet = (): boolean => stopped || fatal || opts.stopping();

  const die = async (s: (typeof state)[number], reason: string): Promise<void> => {
    if (quiet()) return;
    const p = s.piece;
    const now = Date.now();
    s.restarts = s.restarts.filter((t) => now - t < window);
    if (p.restart && s.restarts.length < maxRestarts) {
      s.restarts.push(now);
      opts.log(`watch: ${p.name} died (${reason}); restarting it (${s.restarts.length}/${maxRestarts} in ${Math.round(window / 60_000)} min)`);
      s.restarting = true;
      try {
        await p.restart();
        s.fails = 0;
        opts.log(`watch: ${p.name} is back`);
        return;
      } catch (e) {
        return stopStack(p, `${reason}; restarting it failed: ${(e as Error).message}`);
      } finally {
        s.restarting = false;
      }
    }
    const why = p.restart
      ? `${reason}; it died ${maxRestarts + 1} times within ${Math.round(window / 60_000)} min`
      : `${reason}; the stack does not restart it`;
    return stopStack(p, why);
  };

  const stopStack = async (p: Piece, why: string): Promise<void> => {
    if (quiet()) return;
    fatal = true;
    clearInterval(timer);
    // onFatal prints it (once, on stderr): the log may be going to a file nobody reads.
    await opts.onFatal(`ferry: STOPPING: ${p.name} died (${why}). ${p.advice}`);
  };

  const tick = (): void => {
    if (quiet()) return;
    for (const s of state) {
      if (s.busy) continue;
      const p = s.piece;
      const proc = p.process?.();
      if (proc && !s.watched.has(proc)) {
        s.watched.add(proc);
        void proc.exited.then(async (code) => {
          // Replaced already, or being replaced (a restart after failed probes stops the hung instance).
          if (quiet() || s.restarting || (p.process?.() !== undefined && p.process() !== proc)) return;
          s.busy = true;
          try {
            await die(s, `pid ${proc.pid} exited${code === null ? ' on a signal' : ` with code ${code}`}`);
          } finally {
            s.busy = false;
          }
        });
      }
      if (p.probe && Date.now() - s.lastProbe >= (p.probeEveryMs ?? interval)) {
        s.lastProbe = Date.now();
        s.busy = true;
        void (async () => {
          let ok: boolean;
          try {
            ok = await p.probe!();
          } catch {
            ok = false;
          }
          s.fails = ok ? 0 : s.fails + 1;
          if (s.fails >= failuresToDead) {
            s.fails = 0;
            await die(s, `it stopped answering: ${failuresToDead} probes in a row failed`);
          }
        })().finally(() => {
          s.busy = false;
        });
      }
    }
  };
  const timer = setInterval(tick, interval);
  timer.unref();
  tick();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

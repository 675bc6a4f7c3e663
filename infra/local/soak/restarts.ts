/**
 * Pieces that die. What the stack promises (docs/reliability.md, infra/local/stack-pieces.ts):
 * - the functions host keeps no state: it is restarted (at most 3 times in 10 min), and the storage
 *   event delivery and Pub/Sub push redeliver what it missed;
 * - the Firestore and Pub/Sub emulators keep their data in memory: their death stops the whole
 *   stack with one message naming the piece, and the next start begins clean. Restarting an
 *   emulator in place would lose its data without saying so;
 * - kube-apiserver, kube-controller-manager and kube-scheduler keep their state in etcd: they are
 *   restarted (at most 3 times in 10 min each), and rollouts go on.
 * The host scenarios run against the soak's stack; the fatal ones each start a throwaway stack of
 * their own (free ports, .ferry/soak-fatal), kill the piece, check the stack stopped naming it and
 * left no process behind, and start once more in the same directory to show the restart works.
 */
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT, startStack, type Stack } from '../stack.ts';
import { portOpen } from '../proc.ts';
import { isTerminalPhase } from '../../../shared/domain/rollout.ts';
import { SOAK_NS, say, uid, waitFor, type Figures, type Scenario, type SoakContext } from './context.ts';
import { validModel, request } from './deploys.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function hostRestarted(ctx: SoakContext, oldPid: number | undefined, timeoutMs = 90_000): Promise<number | undefined> {
  const r = await waitFor(
    async () => ctx.hostPid(),
    (p) => p !== undefined && p !== oldPid,
    timeoutMs,
  );
  return r.value !== oldPid ? r.value : undefined;
}

export const hostKillUpload: Scenario = {
  name: 'host-kill-upload',
  group: 'restarts',
  what: 'kill -9 of the functions host, an upload while it is down: the delivery queue retries, the version becomes valid',
  async run(ctx) {
    const before = await ctx.eventStatus();
    const pid = ctx.hostPid();
    const model = `soak-kill-${uid()}`;
    if (pid) process.kill(pid, 'SIGKILL');
    await ctx.uploadFixture(`models/${model}/v1/`);
    const v = await ctx.settle(model, 'v1', 180_000);
    const after = await ctx.eventStatus();
    const failed = (after['failedAttempts'] ?? 0) - (before['failedAttempts'] ?? 0);
    return [
      {
        scenario: 'kill -9 of the functions host, upload while it is down',
        tried: 1,
        held: v?.['status'] === 'valid' ? 1 : 0,
        lost: v ? 0 : 1,
        duplicated: Math.max(0, Number(v?.['validations'] ?? 0) - 1),
        stuck: v && v['status'] !== 'valid' ? 1 : 0,
        note: `killed pid ${pid ?? 'none found'}; host now pid ${ctx.hostPid() ?? 'none'}; ${failed} delivery attempts failed while it was down and were retried; status ${v?.['status'] ?? 'no version'}`,
      },
    ];
  },
};

export const hostKillRollout: Scenario = {
  name: 'host-kill-rollout',
  group: 'restarts',
  what: 'kill -9 of the functions host mid-rollout, deploys published while it is down: all finish after the restart',
  async run(ctx) {
    const model = await validModel(ctx);
    const ns = `${SOAK_NS}-kill-${uid()}`;
    const first = request(model, ns, 'mid');
    const m0 = await ctx.publishDeploy(first);
    const r0 = await ctx.rolloutForMessage(m0);
    const seen = await waitFor(
      () => (r0 ? ctx.rollouts.getRollout(r0) : Promise.resolve(undefined)),
      (r) => !!r && ['applying', 'progressing'].includes(r.phase),
      60_000,
      100,
    );
    const pid = ctx.hostPid();
    if (pid) process.kill(pid, 'SIGKILL');
    // Three more, published while the host is down (Pub/Sub push retries them).
    const later = ['down-a', 'down-b', 'down-c'].map((n) => request(model, ns, n));
    const ms = await Promise.all(later.map((r) => ctx.publishDeploy(r)));
    const newPid = await hostRestarted(ctx, pid);
    const ids = [r0, ...(await Promise.all(ms.map((m) => ctx.rolloutForMessage(m, 180_000))))];
    const targets = [first, ...later];
    let held = 0;
    let stuck = 0;
    let duplicated = 0;
    const phases: string[] = [];
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      const { rollouts, ok } = await ctx.settledRollouts(`local~${ns}~${t.target.name}`, 240_000);
      duplicated += Math.max(0, rollouts.length - 1);
      if (!ok) stuck += rollouts.filter((r) => !isTerminalPhase(r.phase)).length || 1;
      const r = rollouts.find((x) => x.id === ids[i]);
      phases.push(`${t.target.name}:${r?.phase ?? 'none'}`);
      const dep = await ctx.deployment(ns, t.target.name);
      if (r?.phase === 'succeeded' && dep?.rolloutId === r.id) held++;
    }
    await ctx.dropNamespace(ns);
    return [
      {
        scenario: 'kill -9 of the functions host mid-rollout, 3 deploys while it is down',
        tried: targets.length,
        held,
        lost: ids.filter((x) => !x).length,
        duplicated,
        stuck,
        note: `killed pid ${pid ?? 'none'} while the first rollout was ${seen.value?.phase ?? 'unknown'}; restarted as pid ${newPid ?? 'NONE'}; ${phases.join(', ')}`,
      },
    ];
  },
};

/** The pid listening on a loopback port (ss shows it for processes of the same user). */
function pidOnPort(port: number): number | undefined {
  const out = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' }).stdout;
  const m = /pid=(\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

type Piece = 'firestore' | 'pubsub';

const PIECE_NAMES: Record<Piece, string> = {
  firestore: 'the Firestore emulator',
  pubsub: 'the Pub/Sub emulator',
};

async function fatal(piece: Piece): Promise<Figures> {
  const dir = join(REPO_ROOT, '.ferry', 'soak-fatal');
  let message: string | undefined;
  const start = () =>
    startStack({
      dir,
      ports: 'free',
      envFile: null,
      scheduleEverySeconds: 3,
      log: () => undefined,
      onFatal: (m) => {
        message = m;
      },
    });
  say(`${piece}: starting a throwaway stack in ${dir}…`);
  const stack: Stack = await start();
  const pids = [...stack.emulators.processes().map((p) => p.pid), ...stack.kube.processes.map((p) => p.pid)];
  const ports = [stack.emulators.ports.firestore, stack.emulators.ports.pubsub, stack.emulators.ports.storage];
  const victim = pidOnPort(piece === 'firestore' ? stack.emulators.ports.firestore : stack.emulators.ports.pubsub);
  if (!victim) {
    await stack.stop();
    return { scenario: `${PIECE_NAMES[piece]} killed (kill -9)`, tried: 1, held: 0, lost: 0, duplicated: 0, stuck: 1, note: 'could not find its pid' };
  }
  const t0 = Date.now();
  process.kill(victim, 'SIGKILL');
  const stopped = await waitFor(
    async () => message,
    (m) => m !== undefined,
    60_000,
  );
  const detectMs = Date.now() - t0;
  // Everything it started is gone, and its ports are free.
  const gone = await waitFor(
    async () => pids.filter(alive).length + (await Promise.all(ports.map((p) => portOpen(p)))).filter(Boolean).length,
    (n) => n === 0,
    30_000,
  );
  // And the next start in the same directory comes up ready.
  let restarted = false;
  let restartNote = '';
  try {
    const again = await start();
    restarted = true;
    await again.stop();
  } catch (e) {
    restartNote = `; the next start FAILED: ${String((e as Error).message).slice(0, 200)}`;
  }
  const named = !!message && message.includes(PIECE_NAMES[piece]);
  return {
    scenario: `${PIECE_NAMES[piece]} killed (kill -9): the stack stops naming it, the next start is clean`,
    tried: 1,
    held: named && gone.ok && restarted ? 1 : 0,
    lost: 0,
    duplicated: 0,
    stuck: stopped.ok ? (gone.ok ? 0 : 1) : 1,
    note: stopped.ok
      ? `stopped after ${(detectMs / 1000).toFixed(1)} s: "${message!.slice(0, 160)}"; processes/ports left: ${gone.value}; restarted: ${restarted}${restartNote}`
      : `the stack did NOT stop within 60 s after pid ${victim} was killed${restartNote}`,
  };
}

const fatalScenario = (piece: Piece, what: string): Scenario => ({
  name: `${piece}-dies`,
  group: 'restarts',
  what,
  run: async () => [await fatal(piece)],
});

export const firestoreDies = fatalScenario(
  'firestore',
  'kill -9 of the Firestore emulator (own throwaway stack): the stack stops naming it; a new start is clean',
);
export const pubsubDies = fatalScenario('pubsub', 'kill -9 of the Pub/Sub emulator (own throwaway stack): the stack stops naming it; a new start is clean');
/** The pids of this stack's Kubernetes control plane, by binary (their flags name the stack's kube dir). */
function controlPlanePids(stackDir: string): Record<string, number | undefined> {
  const lines = spawnSync('pgrep', ['-af', `${stackDir}/kube/`], { encoding: 'utf8' }).stdout.split('\n');
  const pid = (bin: string): number | undefined => {
    const l = lines.find((x) => x.split(' ')[1]?.endsWith(`/${bin}`));
    return l ? Number(l.split(' ')[0]) : undefined;
  };
  return { 'kube-apiserver': pid('kube-apiserver'), 'kube-controller-manager': pid('kube-controller-manager'), 'kube-scheduler': pid('kube-scheduler') };
}

export const controlPlaneDies: Scenario = {
  name: 'control-plane-dies',
  group: 'restarts',
  what: 'kill -9 of kube-apiserver, kube-controller-manager and kube-scheduler: each is restarted (state in etcd), and a deploy after it succeeds',
  async run(ctx) {
    const before = controlPlanePids(ctx.stackDir);
    const killed = Object.entries(before).filter((e): e is [string, number] => e[1] !== undefined);
    for (const [, pid] of killed) process.kill(pid, 'SIGKILL');
    const back = await waitFor(
      async () => controlPlanePids(ctx.stackDir),
      (now) => killed.every(([name, pid]) => now[name] !== undefined && now[name] !== pid),
      120_000,
      500,
    );
    // A rollout through ferry after the restarts: the apiserver answers, the scheduler binds, the
    // Deployment controller rolls it out.
    const model = await validModel(ctx);
    const ns = `${SOAK_NS}-cp-${uid()}`;
    const r = request(model, ns, 'after-restart');
    const id = await ctx.rolloutForMessage(await ctx.publishDeploy(r), 180_000);
    const { rollouts, ok } = await ctx.settledRollouts(`local~${ns}~${r.target.name}`, 240_000);
    const done = rollouts.find((x) => x.id === id);
    const dep = await ctx.deployment(ns, r.target.name);
    await ctx.dropNamespace(ns);
    const restarted = killed.filter(([name, pid]) => back.value[name] !== undefined && back.value[name] !== pid).map(([name]) => name);
    const held = killed.length === 3 && restarted.length === 3 && done?.phase === 'succeeded' && dep?.rolloutId === done.id;
    return [
      {
        scenario: 'kube-apiserver, controller-manager and scheduler killed (kill -9): restarted, a deploy after it succeeds',
        tried: 1,
        held: held ? 1 : 0,
        lost: id ? 0 : 1,
        duplicated: Math.max(0, rollouts.length - 1),
        stuck: ok ? 0 : 1,
        note: `killed ${killed.map(([n, p]) => `${n} ${p}`).join(', ') || 'nothing found'}; restarted: ${restarted.join(', ') || 'none'}; the deploy after: ${done?.phase ?? 'no rollout'}`,
      },
    ];
  },
};

/**
 * `npm start` as a user runs it (binaries cached): time from spawn to the `ferry: ready` line,
 * total RSS of every process it started, and that Ctrl-C leaves nothing behind.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { treeRssMiB, processTree } from './proc-rss.ts';
import { runningStack } from '../../infra/local/stack.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export async function run(): Promise<Record<string, unknown>> {
  if (runningStack()) return { skipped: 'an `npm start` stack is already running here; stop it to measure a cold start' };
  const samples: Array<{ readyMs: number; rssMiB: number; leftover: number }> = [];
  let byCommand: Record<string, number> = {};
  for (let i = 0; i < Number(process.env['FERRY_BENCH_STACK_RUNS'] ?? 3); i++) {
    const t0 = Date.now();
    const child = spawn(process.execPath, [join(ROOT, 'infra/local/stack.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const ready = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ferry: ready')) resolve(Date.now() - t0);
      });
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      child.on('exit', (c) => reject(new Error(`npm start exited ${c}:\n${out.slice(-2000)}`)));
    });
    await sleep(2000); // let every process settle before reading RSS
    const rss = treeRssMiB(child.pid!);
    byCommand = rss.byCommand;
    const tree = processTree(child.pid!);
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    await sleep(1000);
    const leftover = tree.filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    }).length;
    samples.push({ readyMs: ready, rssMiB: rss.total, leftover });
  }
  const readys = samples.map((s) => s.readyMs).sort((a, b) => a - b);
  return {
    runs: samples.length,
    readyMsMedian: readys[Math.floor(readys.length / 2)],
    readyMsAll: samples.map((s) => s.readyMs),
    rssMiBMedian: samples.map((s) => s.rssMiB).sort((a, b) => a - b)[Math.floor(samples.length / 2)],
    rssMiBByCommand: byCommand,
    leftoverProcesses: samples.map((s) => s.leftover),
    goals: { readyMs: '≤ 30000', rssMiB: '≤ 1536' },
  };
}

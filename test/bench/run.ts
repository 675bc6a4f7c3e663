/**
 * `npm run bench`: every benchmark, on this machine. Prints JSON (and writes it to
 * .ferry/bench-results.json); BENCHMARKS.md records the numbers with date and machine.
 *   npm run bench -- stack coldload headers validate upload rollout serve console verify     (default: all but verify)
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { startStack, REPO_ROOT } from '../../infra/local/stack.ts';

const which = new Set(
  process.argv.slice(2).length ? process.argv.slice(2) : ['stack', 'coldload', 'headers', 'validate', 'upload', 'rollout', 'serve', 'console'],
);
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release() },
};
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const OUT = join(REPO_ROOT, '.ferry', 'bench-results.json');
mkdirSync(join(REPO_ROOT, '.ferry'), { recursive: true });
/** Results are written after every benchmark, so a later failure loses nothing measured before it. */
function record(key: string, value: unknown): void {
  results[key] = value;
  writeFileSync(OUT, JSON.stringify(results, null, 2));
  say(`${key}: ${JSON.stringify(value)}`);
}

if (which.has('stack')) {
  say('stack: npm start to ferry: ready, RSS, clean stop…');
  record('stack', await (await import('./stack.bench.ts')).run());
}
if (which.has('coldload')) {
  say('coldload: functions entry module vs functions-framework hello world…');
  record('coldload', await (await import('./coldload.bench.ts')).run());
}
if (which.has('headers')) {
  say('headers: peak RSS of validating the largest legal safetensors headers…');
  record('headers', await (await import('./headers.bench.ts')).run());
}
const needsStack = ['validate', 'upload', 'rollout', 'serve', 'console', 'verify'].some((k) => which.has(k));
if (needsStack) {
  say('starting a local stack for the remaining benchmarks…');
  const stack = await startStack({
    dir: join(REPO_ROOT, '.ferry', 'bench'),
    ports: 'free',
    envFile: null,
    podReadyDelayMs: 300,
    scheduleEverySeconds: 2,
    log: () => undefined,
  });
  try {
    Object.assign(process.env, stack.env);
    if (which.has('validate')) {
      say('validate: ferry vs @huggingface/hub vs naive download, 1/100/1000 shards…');
      record('validate', await (await import('./validate.bench.ts')).run());
    }
    if (which.has('upload')) {
      say('upload: a 200-shard checkpoint uploaded concurrently…');
      record('upload', await (await import('./upload.bench.ts')).run(stack.env));
    }
    if (which.has('console')) {
      say('console: first paint of the models page, 50 models × 20 versions…');
      record('console', await (await import('./console.bench.ts')).run(stack.env));
    }
    if (which.has('verify')) {
      say('verify: ferry verify --full vs a plain @google-cloud/storage download of the same files…');
      record('verify', await (await import('./verify.bench.ts')).run(stack.env));
    }
    if (which.has('rollout')) {
      say('rollout: request → applied latency, and 100 requests over 10 targets…');
      record('rollout', await (await import('./rollout.bench.ts')).run(stack.env));
    }
    if (which.has('serve')) {
      say('serve: upload finished → first completion by the new version (simulated vLLM pods)…');
      record('serve', await (await import('./serve.bench.ts')).run(stack.env));
    }
  } finally {
    await stack.stop();
  }
}
console.log(JSON.stringify(results, null, 2));
process.exit(0);

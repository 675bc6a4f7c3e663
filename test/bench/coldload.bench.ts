/**
 * Cold load of the functions entry module (built, as deployed) vs a functions-framework hello
 * world: each sample is a fresh Node process that imports the module and exits. Goal ≤ 1.5×.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..', '..');
const RUNS = Number(process.env['FERRY_BENCH_RUNS'] ?? 31);

function sample(modulePath: string): number {
  const script = `const t=process.hrtime.bigint();await import(${JSON.stringify(pathToFileURL(modulePath).href)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));process.exit(0)`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loading ${modulePath} failed: ${r.stderr}`);
  return Number(r.stdout);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<Record<string, unknown>> {
  // Always measure what would be deployed now: a fresh build of the current sources.
  const entry = join(ROOT, 'dist', 'functions', 'index.js');
  rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0 || !existsSync(entry)) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  const hello = join(ROOT, 'test', 'bench', 'fixtures', 'hello.mjs');
  sample(hello); // warm the OS file cache for both before measuring
  sample(entry);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(sample(hello));
    b.push(sample(entry));
  }
  const result = { runs: RUNS, helloMs: median(a), ferryEntryMs: median(b), ratio: Number((median(b) / median(a)).toFixed(2)), goal: '≤ 1.5×' };
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(JSON.stringify(await run(), null, 2));

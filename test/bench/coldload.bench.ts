/**
 * Cold load of the functions entry module (built, as deployed) vs a functions-framework hello
 * world: each sample is a fresh Node process that imports the module and exits. Deployed, each
 * function's service imports package.json `main` (dist/functions/main.js) with FUNCTION_TARGET set,
 * so that is measured per function; the all-functions module (dist/functions/index.js, what loads
 * without a target) is measured too. Goal ≤ 1.5× for every function.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..', '..');
const RUNS = Number(process.env['FERRY_BENCH_RUNS'] ?? 31);

function sample(modulePath: string, target?: string): number {
  const script = `const t=process.hrtime.bigint();await import(${JSON.stringify(pathToFileURL(modulePath).href)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));process.exit(0)`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'FUNCTION_TARGET') env[k] = v;
  if (target) env['FUNCTION_TARGET'] = target;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`loading ${modulePath} failed: ${r.stderr}`);
  return Number(r.stdout);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<Record<string, unknown>> {
  // Always measure what would be deployed now: a fresh build of the current sources.
  const entry = join(ROOT, 'dist', 'functions', 'index.js');
  const main = join(ROOT, 'dist', 'functions', 'main.js');
  rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0 || !existsSync(entry)) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  const hello = join(ROOT, 'test', 'bench', 'fixtures', 'hello.mjs');
  const { FUNCTIONS } = (await import(pathToFileURL(join(ROOT, 'dist', 'functions', 'manifest.js')).href)) as { FUNCTIONS: ReadonlyArray<{ name: string }> };
  const names = FUNCTIONS.map((f) => f.name);
  // Warm the OS file cache for every module before measuring.
  sample(hello);
  sample(entry);
  for (const n of names) sample(main, n);
  const a: number[] = [];
  const all: number[] = [];
  const per = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let i = 0; i < RUNS; i++) {
    // Alternating, so drift on a shared machine hits every module alike.
    a.push(sample(hello));
    all.push(sample(entry));
    for (const n of names) per.get(n)!.push(sample(main, n));
  }
  const helloMs = median(a);
  const ratio = (ms: number) => Number((ms / helloMs).toFixed(2));
  const perFunction = Object.fromEntries(names.map((n) => [n, { ms: median(per.get(n)!), ratio: ratio(median(per.get(n)!)) }]));
  const worst = Math.max(...names.map((n) => median(per.get(n)!)));
  return {
    runs: RUNS,
    helloMs,
    perFunction,
    worstFunctionRatio: ratio(worst),
    allFunctionsMs: median(all),
    allFunctionsRatio: ratio(median(all)),
    goal: '≤ 1.5× (each function as deployed)',
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(JSON.stringify(await run(), null, 2));

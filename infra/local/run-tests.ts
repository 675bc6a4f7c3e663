/**
 * `npm test`: unit tests, then integration tests against one local stack (real emulators, a real
 * kube-apiserver, functions-framework) started for this run on free ports and stopped after.
 * `npm test -- test/unit` (or any paths/globs) narrows the run; a unit-only run starts no stack.
 * Ends with the runner's summary and a line "N passed, N failed, N skipped".
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startStack, REPO_ROOT, type Stack } from './stack.ts';

const DEFAULT_GLOBS = ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'];
const args = process.argv.slice(2);
const globs = args.length ? args.map((a) => (a.endsWith('.ts') ? a : `${a.replace(/\/$/, '')}/**/*.test.ts`)) : DEFAULT_GLOBS;
const needsStack = globs.some((g) => !g.startsWith('test/unit'));

let stack: Stack | undefined;
const t0 = Date.now();
const stopStack = async () => {
  if (stack) {
    const s = stack;
    stack = undefined;
    process.stdout.write('[ferry test] stopping the local stack…\n');
    await s.stop();
  }
};
process.on('SIGINT', () => void stopStack().then(() => process.exit(130)));
process.on('SIGTERM', () => void stopStack().then(() => process.exit(143)));

let env: NodeJS.ProcessEnv = { ...process.env, METADATA_SERVER_DETECTION: 'none' };
if (needsStack) {
  mkdirSync(join(REPO_ROOT, '.ferry'), { recursive: true });
  const start = () => {
    const dir = mkdtempSync(join(REPO_ROOT, '.ferry', 'test-'));
    process.stdout.write(`[ferry test] starting the local stack for this run (state in ${dir})…\n`);
    return startStack({
      dir,
      ports: 'free',
      // The same file `npm start` writes as .ferry/local.env: the CLI journey tests copy it into an
      // empty folder and run `ferry` there in a bare environment, as a newcomer's new shell would.
      envFile: join(dir, 'local.env'),
      podReadyDelayMs: 300,
      scheduleEverySeconds: 2,
      projectId: 'demo-ferry-test',
      bucket: 'ferry-test-models',
      // Per-pod simulator lines are noise between test results; they stay in the stack's logs.
      log: (m) => {
        if (!m.startsWith('[node-simulator] pod')) process.stdout.write(`[ferry test] ${m}\n`);
      },
    });
  };
  // A port is picked free and bound seconds later; another process on the machine can take it in
  // between. That is the machine's race, not a failure of the code under test: start once more, on
  // new ports, and only then give up.
  for (let attempt = 1; !stack; attempt++) {
    try {
      stack = await start();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (attempt === 1 && /EADDRINUSE|address already in use|BindException/i.test(msg)) {
        process.stdout.write(`[ferry test] a port was taken before its server bound it; starting again on new ports:\n${msg}\n`);
        continue;
      }
      process.stderr.write(`[ferry test] the local stack failed to start:\n${msg}\n`);
      process.stdout.write('0 passed, 1 failed\n');
      process.exit(1);
    }
  }
  process.stdout.write(`[ferry test] stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  env = { ...env, ...stack.env, FERRY_TEST_STACK: '1', FERRY_TEST_LOCAL_ENV: join(stack.env['FERRY_STACK_DIR']!, 'local.env') };
}

const tapFile = join(mkdtempSync(join(tmpdir(), 'ferry-tap-')), 'results.tap');
const code = await new Promise<number>((resolve) => {
  const child = spawn(
    process.execPath,
    [
      '--test',
      '--test-concurrency=1',
      '--test-timeout=600000',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapFile}`,
      ...globs,
    ],
    { cwd: REPO_ROOT, env, stdio: 'inherit' },
  );
  child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
});
await stopStack();

const tap = readFileSync(tapFile, 'utf8');
const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
const skipped = count('skipped') + count('todo');
rmSync(tapFile, { force: true });
process.stdout.write(`\n[ferry test] finished in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(code !== 0 || failed > 0 ? 1 : passed === 0 ? 1 : 0);

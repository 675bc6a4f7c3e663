/**
 * `ferry teardown … --yes --json` run in this process (the CLI's main, as a user would run it), its
 * output parsed as the run record it must be.
 */
import assert from 'node:assert/strict';
import { main } from '../../shared/cli/main.ts';
import { TeardownRun } from '../../shared/domain/teardown-run.ts';

export async function runTeardownCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; run: TeardownRun }> {
  let out = '';
  let err = '';
  const code = await main(['teardown', ...args, '--yes', '--json'], { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env });
  assert.ok(out.trim().startsWith('{'), `ferry teardown printed JSON (stderr: ${err})`);
  return { code, run: TeardownRun.parse(JSON.parse(out)) };
}

/** `ferry teardown` output: the plan with a reason per action and per resource left alone; usage errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printRun, teardownCommand } from '../../../shared/cli/commands/teardown.ts';
import { planTeardown } from '../../../shared/domain/teardown.ts';
import { DEFAULT_TEARDOWN_POLICY } from '../../../shared/domain/teardown-inventory.ts';
import type { TeardownRun } from '../../../shared/domain/teardown-run.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const old = '2026-05-20T12:00:00.000Z';

function run(dryRun: boolean): TeardownRun {
  const plan = planTeardown(
    {
      caches: [
        { bucket: 'b', zone: 'us-central1-a', state: 'running', managed: true, labels: {}, lastUsedAt: old, createdAt: old, version: 'v' },
        { bucket: 'b', zone: 'us-central1-b', state: 'running', managed: false, labels: {}, lastUsedAt: old, createdAt: old, version: 'v' },
      ],
      targets: [],
      clusters: [],
      inFlight: [],
    },
    { ...DEFAULT_TEARDOWN_POLICY, dryRun },
    NOW,
  );
  return {
    schemaVersion: 1,
    id: 'run-1',
    trigger: 'cli',
    startedAt: NOW.toISOString(),
    finishedAt: NOW.toISOString(),
    dryRun,
    plan,
    results: plan.actions.map((a) => ({
      action: a.action,
      outcome: dryRun ? 'planned' : 'done',
      reason: a.reason,
      message: a.message,
      operations: [],
      at: NOW.toISOString(),
    })),
    inventoryWarnings: [],
    summary: { planned: 1, done: dryRun ? 0 : 1, started: 0, skipped: 0, failed: 0 },
  };
}

test('the plan, the reasons, the outcome', () => {
  let out = '';
  printRun(run(false), { stdout: (s) => void (out += s), stderr: () => undefined, env: {} });
  assert.match(out, /disable-cache\s+b~us-central1-a\s+.*idle/);
  assert.match(out, /cache b~us-central1-b\s+NOT_MANAGED/);
  assert.match(out, /1 done, 0 started, 0 skipped at re-check, 0 failed/);
  let dry = '';
  printRun(run(true), { stdout: (s) => void (dry += s), stderr: () => undefined, env: {} });
  assert.match(dry, /dry run: nothing changed/);
  assert.match(dry, /planned/);
});

test('usage errors exit 2', async () => {
  let err = '';
  assert.equal(await teardownCommand(['extra'], { stdout: () => undefined, stderr: (s) => void (err += s), env: {} }), 2);
  assert.match(err, /Usage: ferry teardown/);
});

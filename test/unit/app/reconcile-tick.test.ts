import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcileSteps, runTick, TICK_STEPS, type ReconcileDeps, type TickStep } from '../../../shared/app/reconcile-tick.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { MemoryCheckpointState } from '../../helpers/memory.ts';

test('a failing step is reported with its code and the steps after it still run', async () => {
  const ran: string[] = [];
  const step = (name: TickStep['name'], run: () => Promise<Record<string, number> | null>): TickStep => ({
    name,
    does: `did ${name}`,
    run: async () => (ran.push(name), run()),
  });
  const log = memoryLogger();
  const report = await runTick(
    [
      step('rollouts', async () => {
        throw new FerryError('STATE_UNAVAILABLE', 'Firestore did not answer', { retryable: true });
      }),
      step('caches', async () => null),
      step('activity', async () => ({ observed: 2, failed: 0 })),
    ],
    log,
  );
  assert.deepEqual(ran, ['rollouts', 'caches', 'activity']);
  assert.deepEqual(report.failed, ['rollouts']);
  assert.deepEqual(report.steps[0], { step: 'rollouts', ok: false, code: 'STATE_UNAVAILABLE', message: 'Firestore did not answer' });
  assert.deepEqual(report.steps[1], { step: 'caches', ok: true, result: null });
  assert.deepEqual(report.steps[2], { step: 'activity', ok: true, result: { observed: 2, failed: 0 } });
  const warn = log.entries.find((e) => e['step'] === 'rollouts');
  assert.equal(warn?.['code'], 'STATE_UNAVAILABLE');
  assert.ok(
    log.entries.some((e) => e['message'] === 'did activity' && e['observed'] === 2),
    'a step that did something says so',
  );
  assert.ok(!log.entries.some((e) => e['message'] === 'did caches'), 'a step with nothing to do is quiet');
});

test('the reconciler runs every step in order, and a store that is down stops none of the others', async () => {
  const down = async () => {
    throw new FerryError('STATE_UNAVAILABLE', 'rollouts unreadable', { retryable: true });
  };
  const clock = { now: () => new Date(Date.UTC(2026, 11, 6)) };
  const logger = memoryLogger();
  const state = new MemoryCheckpointState();
  let activityListed = false;
  const deps = {
    rollout: { rollouts: { listInFlight: down }, clock, logger, config: {} },
    upload: { state, clock, logger, config: { modelBuckets: ['b'], modelPrefix: 'models/', validationConcurrency: 1, claimLeaseMs: 1000, deployTopic: 't' } },
    activity: { listTargets: async () => ((activityListed = true), []), listActivity: async () => [] },
  } as unknown as ReconcileDeps;
  const steps = reconcileSteps(deps);
  assert.deepEqual(
    steps.map((s) => s.name),
    [...TICK_STEPS],
  );
  const report = await runTick(steps, logger);
  assert.deepEqual(report.failed, ['rollouts']);
  assert.ok(activityListed, 'activity was still recorded');
  assert.deepEqual(
    report.steps.map((s) => s.ok),
    TICK_STEPS.map((name) => name !== 'rollouts'),
  );
});

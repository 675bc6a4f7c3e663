/**
 * The teardown topic's message (parseTeardownTick): a plain tick runs the policy; `dryRun` only with
 * a literal true; a chat plan names a recorded command; anything else is refused (nothing runs), so a
 * typo can never turn a dry run into a real one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTeardownTick } from '../../../shared/domain/teardown-run.ts';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const CMD = 'sc-20261121-101500-0123456789abcdef';

test('plain ticks: Cloud Scheduler, the local scheduler, an empty message', () => {
  assert.deepEqual(parseTeardownTick(json({ tick: 'teardown' })), { ok: true, tick: { tick: 'teardown' } });
  assert.deepEqual(parseTeardownTick(json({ scheduledAt: '2026-11-21T10:00:00.000Z' })), { ok: true, tick: { scheduledAt: '2026-11-21T10:00:00.000Z' } });
  assert.deepEqual(parseTeardownTick(undefined), { ok: true, tick: {} });
  assert.deepEqual(parseTeardownTick(new Uint8Array()), { ok: true, tick: {} });
});

test('dry runs and chat plans', () => {
  assert.deepEqual(parseTeardownTick(json({ dryRun: true })), { ok: true, tick: { dryRun: true } });
  assert.deepEqual(parseTeardownTick(json({ tick: 'teardown', dryRun: true, chat: { commandId: CMD } })), {
    ok: true,
    tick: { tick: 'teardown', dryRun: true, chat: { commandId: CMD } },
  });
});

test('anything else is refused with a specific message', () => {
  const refused = (data: Uint8Array, re: RegExp) => {
    const r = parseTeardownTick(data);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.message : '', re);
  };
  refused(json({ dryRun: 'true' }), /dryRun/);
  refused(json({ dryrun: true }), /dryrun|Unrecognized/i);
  refused(json({ chat: { commandId: 'sc-nope' } }), /chat\.commandId: a chat command id/);
  refused(json({ tick: 'reconcile' }), /tick/);
  refused(json([1]), /expected object/i);
  refused(new TextEncoder().encode('not json'), /not JSON/);
});

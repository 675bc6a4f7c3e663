/** Following a rollout through the RolloutWatch port: every phase once, in order, even when updates coalesce. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { followRollout, type FollowEvent } from '../../../shared/app/follow-rollout.ts';
import type { Rollout } from '../../../shared/domain/rollout.ts';
import type { RequestFate, RolloutWatch } from '../../../shared/ports/rollout-watch.ts';

/** A watch the test drives: it pushes request fates and rollout snapshots, and sees unsubscribes. */
class FakeWatch implements RolloutWatch {
  fate?: (f: RequestFate) => void;
  rollout?: (r: Rollout) => void;
  fail?: (e: unknown) => void;
  open = 0;
  watchedRollout: string | null = null;
  watchRequest(_id: string, onFate: (f: RequestFate) => void, onError: (e: unknown) => void) {
    this.fate = onFate;
    this.fail = onError;
    this.open++;
    return () => void this.open--;
  }
  watchRollout(id: string, onChange: (r: Rollout) => void, onError: (e: unknown) => void) {
    this.watchedRollout = id;
    this.rollout = onChange;
    this.fail = onError;
    this.open++;
    return () => void this.open--;
  }
}

const phases = ['pending', 'applying', 'progressing', 'succeeded'] as const;
const rollout = (upTo: number, detail: string | null = null): Rollout =>
  ({
    id: 'ro-1',
    phase: phases[upTo],
    reason: 'X',
    message: `now ${phases[upTo]}`,
    history: phases.slice(0, upTo + 1).map((phase) => ({ phase, reason: 'X', at: '2026-06-01T12:00:00.000Z', message: `to ${phase}` })),
    detail: detail ? { state: 'waiting', reason: 'ReplicasBecomingAvailable', message: detail } : null,
  }) as unknown as Rollout;

const manualTimer = () => {
  let fire: (() => void) | undefined;
  return { setTimer: (fn: () => void) => ((fire = fn), { cancel: () => (fire = undefined) }), fire: () => fire?.() };
};

test('admitted, then each phase once and in order (also when two arrive in one snapshot), then the result', async () => {
  const w = new FakeWatch();
  const events: FollowEvent[] = [];
  const t = manualTimer();
  const done = followRollout(w, 'msg-1', { timeoutMs: 1000, onEvent: (e) => events.push(e), setTimer: t.setTimer });
  w.fate!({ kind: 'admitted', rolloutId: 'ro-1', outcome: 'start' });
  assert.equal(w.watchedRollout, 'ro-1');
  w.rollout!(rollout(0));
  w.rollout!(rollout(2, '0 of 1 updated replicas are available'));
  w.rollout!(rollout(2, '0 of 1 updated replicas are available'));
  w.rollout!(rollout(3));
  const r = await done;
  assert.equal(r.kind === 'finished' && r.rollout.phase, 'succeeded');
  assert.deepEqual(
    events.map((e) => (e.kind === 'admitted' ? `admitted ${e.outcome}` : e.kind === 'phase' ? e.entry.phase : `detail ${e.detail.message}`)),
    ['admitted start', 'pending', 'applying', 'progressing', 'detail 0 of 1 updated replicas are available', 'succeeded'],
  );
  assert.equal(w.open, 0, 'every listener is closed');
});

test('a rejected request ends the follow with the rejection', async () => {
  const w = new FakeWatch();
  const done = followRollout(w, 'msg-1', { timeoutMs: 1000, onEvent: () => undefined, setTimer: manualTimer().setTimer });
  const rejected = {
    messageId: 'msg-1',
    reason: 'UNKNOWN_VERSION',
    message: 'no v9',
    issues: [],
    source: 'cli',
    receivedAt: '2026-06-01T12:00:00.000Z',
    model: 'm',
  };
  w.fate!({ kind: 'rejected', rejected });
  assert.deepEqual(await done, { kind: 'rejected', rejected });
  assert.equal(w.open, 0);
});

test('the timeout ends the follow with the last rollout seen; a listener error rejects', async () => {
  const w = new FakeWatch();
  const t = manualTimer();
  const done = followRollout(w, 'msg-1', { timeoutMs: 1000, onEvent: () => undefined, setTimer: t.setTimer });
  w.fate!({ kind: 'admitted', rolloutId: 'ro-1', outcome: 'queued' });
  w.rollout!(rollout(1));
  t.fire();
  const r = await done;
  assert.equal(r.kind === 'timeout' && r.rollout?.phase, 'applying');
  assert.equal(w.open, 0);

  const w2 = new FakeWatch();
  const failing = followRollout(w2, 'msg-2', { timeoutMs: 1000, onEvent: () => undefined, setTimer: manualTimer().setTimer });
  w2.fail!(new Error('14 UNAVAILABLE: No connection established'));
  await assert.rejects(failing, /UNAVAILABLE/);
  assert.equal(w2.open, 0);
});

test('a duplicate with no rollout ends at once', async () => {
  const w = new FakeWatch();
  const done = followRollout(w, 'msg-1', { timeoutMs: 1000, onEvent: () => undefined, setTimer: manualTimer().setTimer });
  w.fate!({ kind: 'admitted', rolloutId: null, outcome: 'duplicate-idempotency-key' });
  assert.deepEqual(await done, { kind: 'no-rollout', outcome: 'duplicate-idempotency-key' });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeCaches } from '../../../shared/cli/commands/caches.ts';
import type { LiveCache } from '../../../shared/domain/cache.ts';
import { recordCacheEvent } from '../../../shared/domain/cache-record.ts';

const now = new Date(Date.UTC(2026, 10, 21, 12));
const live = (zone: string, state: LiveCache['state']): LiveCache => ({
  name: `projects/_/buckets/b/anywhereCaches/${zone}`,
  bucket: 'b',
  zone,
  state,
  rawState: state.toUpperCase(),
  ttlSeconds: 86_400,
  admissionPolicy: 'admit-on-first-miss',
  pendingUpdate: false,
});

test('ferry caches: records merged with the live API; untracked caches listed; records alone when the API was not asked', () => {
  const rec = recordCacheEvent(undefined, {
    bucket: 'b',
    zone: 'us-central1-a',
    now,
    action: 'create',
    live: live('us-central1-a', 'creating'),
    use: {
      rolloutId: 'ro-1',
      targetKey: 'local~ns~llama',
      target: { cluster: 'local', namespace: 'ns', name: 'llama' },
      requestedBy: { source: 'cli', principal: 'alice' },
    },
  });
  const rows = mergeCaches([rec], new Map([['b', [live('us-central1-a', 'running'), live('us-central1-c', 'disabled')]]]));
  assert.deepEqual(
    rows.map((r) => [r.zone, r.state, r.recordedState, r.tracked]),
    [
      ['us-central1-a', 'running', 'creating', true],
      ['us-central1-c', 'disabled', null, false],
    ],
  );
  assert.deepEqual(rows[0]!.targets, ['local~ns~llama']);
  assert.equal(rows[0]!.createdBy?.requestedBy?.principal, 'alice');
  const offline = mergeCaches([rec], new Map());
  assert.deepEqual(
    offline.map((r) => [r.state, r.liveState]),
    [['creating', null]],
  );
  const gone = mergeCaches([rec], new Map([['b', []]]));
  assert.equal(gone[0]!.state, 'absent');
});

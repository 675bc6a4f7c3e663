import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pickLatest } from '../../../shared/domain/latest.ts';
import {
  newVersionDoc,
  applyIncomplete,
  decideClaim,
  decideAutodeployTake,
  applyValidationStart,
  applyValidationResult,
  applyValidationError,
  applyLatestValid,
  newModelDoc,
  type VersionDoc,
} from '../../../shared/domain/version.ts';

const T = (s: number) => new Date(Date.UTC(2026, 10, 21, 12, 0, s)).toISOString();
const doc0 = () => newVersionDoc('m', 'v', 'gs://b/models/m/v', T(0));
const files = [{ name: 'model.safetensors', size: 100, generation: '5' }];

test('an incomplete observation older than what the version reflects is ignored', () => {
  const started = applyValidationStart(doc0(), { contentKey: 'k1', generation: '10', files, eventId: 'e2', now: T(2) })!;
  assert.equal(applyIncomplete(started, { generation: '9', missing: ['config.json'], eventId: 'e1', now: T(3) }), null);
  const later = applyIncomplete(started, { generation: '11', missing: ['config.json'], eventId: 'e3', now: T(4) })!;
  assert.equal(later.status, 'incomplete');
  assert.deepEqual(later.missing, ['config.json']);
  assert.deepEqual(later.eventIds, ['e2', 'e3']);
});

test('decideClaim: claim once, skip while held or done, take over an expired lease', () => {
  const now = new Date(T(0));
  const first = decideClaim(undefined, { contentKey: 'k', generation: '1', eventId: 'e1', now, leaseMs: 60_000 });
  assert.equal(first.action, 'claim');
  const held = decideClaim(first.claim, { contentKey: 'k', generation: '1', eventId: 'e2', now: new Date(T(30)), leaseMs: 60_000 });
  assert.deepEqual([held.action, held.action === 'skip' && held.reason], ['skip', 'VALIDATION_IN_PROGRESS']);
  const expired = decideClaim(first.claim, { contentKey: 'k', generation: '1', eventId: 'e3', now: new Date(Date.parse(T(0)) + 61_000), leaseMs: 60_000 });
  assert.equal(expired.action, 'claim');
  assert.equal(expired.claim.attempts, 2);
  const done = decideClaim({ ...first.claim, state: 'done' }, { contentKey: 'k', generation: '1', eventId: 'e4', now: new Date(T(999)), leaseMs: 1 });
  assert.deepEqual([done.action, done.action === 'skip' && done.reason], ['skip', 'ALREADY_VALIDATED']);
});

test('a result for overwritten content is recorded as superseded and changes nothing else', () => {
  let d = applyValidationStart(doc0(), { contentKey: 'old', generation: '10', files, eventId: 'e1', now: T(1) })!;
  d = applyValidationStart(d, { contentKey: 'new', generation: '20', files, eventId: 'e2', now: T(2) })!;
  const newer = applyValidationResult(d, { contentKey: 'new', generation: '20', valid: true, summary: { tensors: 1 }, errors: [], warnings: [], now: T(3) });
  assert.equal(newer.applied, true);
  const stale = applyValidationResult(newer.doc, {
    contentKey: 'old',
    generation: '10',
    valid: false,
    summary: {},
    errors: [{ code: 'X', file: 'f', message: 'bad' }],
    warnings: [],
    now: T(4),
  });
  assert.equal(stale.applied, false);
  assert.equal(stale.doc.status, 'valid');
  assert.equal(stale.doc.validations, 2);
  assert.deepEqual(
    stale.doc.runs.map((r) => [r.contentKey, r.outcome]),
    [
      ['old', 'superseded'],
      ['new', 'valid'],
    ],
  );
  assert.equal(
    applyValidationStart(stale.doc, { contentKey: 'old', generation: '10', files, eventId: 'e1', now: T(5) }),
    null,
    'an older content never restarts',
  );
});

test('a permanent validation error marks only the current content invalid', () => {
  const d = applyValidationStart(doc0(), { contentKey: 'k', generation: '10', files, eventId: 'e1', now: T(1) })!;
  const failed = applyValidationError(d, { contentKey: 'k', code: 'OBJECT_NOT_FOUND', message: 'gone', now: T(2) })!;
  assert.equal(failed.status, 'invalid');
  assert.equal(failed.errors[0]!.code, 'OBJECT_NOT_FOUND');
  assert.equal(failed.runs[0]!.outcome, 'error');
  assert.equal(applyValidationError(d, { contentKey: 'other', code: 'X', message: 'y', now: T(2) }), null);
});

test('latest valid version: without generations the version name decides; an overwritten-invalid latest is cleared', () => {
  let m = newModelDoc('m', T(0));
  m = applyLatestValid(m, { version: 'v1', validatedAt: T(1), contentKey: 'a' }, true);
  m = applyLatestValid(m, { version: 'v2', validatedAt: T(2), contentKey: 'b' }, true);
  assert.equal(m.latestValid?.version, 'v2');
  assert.equal(applyLatestValid(m, { version: 'v1', validatedAt: T(1), contentKey: 'a' }, true).latestValid?.version, 'v2');
  assert.equal(applyLatestValid(m, { version: 'v1', validatedAt: T(3), contentKey: 'c' }, false).latestValid?.version, 'v2');
  assert.equal(applyLatestValid(m, { version: 'v2', validatedAt: T(3), contentKey: 'c' }, false).latestValid, null);
});

test('property: any interleaving of observations ends reflecting the newest content', () => {
  type Obs = { kind: 'incomplete' | 'start' | 'finish'; gen: number; valid: boolean };
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ kind: fc.constantFrom('incomplete', 'start', 'finish'), gen: fc.integer({ min: 1, max: 6 }), valid: fc.boolean() }) as fc.Arbitrary<Obs>,
        { maxLength: 40 },
      ),
      (ops) => {
        let d: VersionDoc = doc0();
        let t = 0;
        for (const op of ops) {
          const now = T(++t);
          const key = `k${op.gen}`;
          if (op.kind === 'incomplete') d = applyIncomplete(d, { generation: String(op.gen), missing: ['x'], eventId: `e${t}`, now }) ?? d;
          else if (op.kind === 'start') d = applyValidationStart(d, { contentKey: key, generation: String(op.gen), files, eventId: `e${t}`, now }) ?? d;
          else d = applyValidationResult(d, { contentKey: key, generation: String(op.gen), valid: op.valid, summary: {}, errors: [], warnings: [], now }).doc;
          // The document never goes back to an older observation.
          const maxSeen = Math.max(
            0,
            ...ops
              .slice(0, t)
              .filter((o) => o.kind !== 'finish')
              .map((o) => o.gen),
          );
          assert.ok(Number(d.observedGeneration) <= maxSeen);
          if (d.contentKey) assert.equal(d.contentKey, `k${d.runs.filter((r) => r.contentKey === d.contentKey).at(-1)!.generation}`);
          assert.ok(d.eventIds.length <= 50 && d.runs.length <= 20);
        }
        // Status valid/invalid only ever describes the content the document currently names.
        if (d.status === 'valid' || d.status === 'invalid') {
          const last = d.runs.filter((r) => r.contentKey === d.contentKey).at(-1)!;
          assert.equal(last.outcome, d.status);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('decideAutodeployTake: the holder publishes; other events wait out its lease, then take over', () => {
  const now = new Date(T(10));
  const claim = {
    ...decideClaim(undefined, { contentKey: 'k', generation: '1', eventId: 'e1', now, leaseMs: 60_000 }).claim,
    state: 'done' as const,
    outcome: 'valid' as const,
    finishedAt: T(10),
    autodeployPending: ['local~ns~d'],
    leaseUntil: T(40),
  };
  assert.deepEqual(decideAutodeployTake(undefined, { eventId: 'e1', now, leaseMs: 30_000 }), { action: 'none' });
  assert.deepEqual(decideAutodeployTake({ ...claim, autodeployPending: [] }, { eventId: 'e1', now, leaseMs: 30_000 }), { action: 'none' });
  assert.deepEqual(decideAutodeployTake({ ...claim, outcome: 'invalid' }, { eventId: 'e1', now, leaseMs: 30_000 }), { action: 'none' });
  assert.deepEqual(decideAutodeployTake(claim, { eventId: 'e2', now, leaseMs: 30_000 }), { action: 'held', until: T(40), by: 'e1' });
  const own = decideAutodeployTake(claim, { eventId: 'e1', now, leaseMs: 30_000 });
  assert.equal(own.action, 'publish');
  const late = decideAutodeployTake(claim, { eventId: 'e2', now: new Date(T(41)), leaseMs: 30_000 });
  assert.ok(late.action === 'publish');
  assert.deepEqual(late.pending, ['local~ns~d']);
  assert.equal(late.claim.eventId, 'e2', 'the taker holds them now');
  assert.equal(late.claim.leaseUntil, new Date(Date.parse(T(41)) + 30_000).toISOString());
});

test('VersionDoc.summary is typed: the checkpoint summary plus io; old documents without newer fields still read', async () => {
  const { VersionDoc, VersionSummary, newVersionDoc } = await import('../../../shared/domain/version.ts');
  const full = {
    layout: 'single',
    shards: 1,
    tensors: 3,
    parameters: 10,
    parametersByDtype: { BF16: 10 },
    tensorBytes: 20,
    dtypes: ['BF16'],
    headerBytes: 100,
    shardBytes: 120,
    config: null,
    io: { requests: 2, bytesRead: 100 },
  };
  assert.deepEqual(VersionSummary.parse(full), full);
  // Written before io (and config fields) existed: read, nothing invented.
  const old = { layout: 'single', shards: 1, tensors: 3, parameters: 10, tensorBytes: 20, dtypes: ['BF16'], config: { architectures: ['X'] } };
  assert.deepEqual(VersionSummary.parse(old), old);
  // A field a newer ferry writes is kept when this one rewrites the document.
  assert.equal((VersionSummary.parse({ ...full, experts: 8 }) as Record<string, unknown>)['experts'], 8);
  assert.equal(VersionSummary.safeParse({ ...full, tensorBytes: 'lots' }).success, false, 'a count that is no number is refused');
  const doc = { ...newVersionDoc('m', 'v', 'gs://b/models/m/v', '2026-01-01T00:00:00.000Z'), summary: old };
  assert.equal(VersionDoc.parse(doc).summary?.tensorBytes, 20);
});

test('latest is the version uploaded last, not the one validated last (v1 and v2 uploaded together)', () => {
  let m = newModelDoc('m', T(0));
  // v2's upload completed after v1's (higher generation), but its validation finished first.
  m = applyLatestValid(m, { version: 'v2', validatedAt: T(1), contentKey: 'b', generation: '1700000000000200' }, true);
  m = applyLatestValid(m, { version: 'v1', validatedAt: T(2), contentKey: 'a', generation: '1700000000000100' }, true);
  assert.equal(m.latestValid?.version, 'v2');
  // An overwrite of v1 completed later still makes v1 the latest upload.
  m = applyLatestValid(m, { version: 'v1', validatedAt: T(3), contentKey: 'c', generation: '1700000000000300' }, true);
  assert.equal(m.latestValid?.version, 'v1');
  const doc = (version: string, observedGeneration: string) => ({ version, observedGeneration });
  assert.equal(pickLatest([doc('v1', '100'), doc('v3', '90'), doc('v2', '300')])?.version, 'v2');
  assert.equal(pickLatest([doc('a', '5'), doc('b', '5')])?.version, 'b', 'a tie goes to the version name');
  assert.equal(pickLatest([]), undefined);
});

/**
 * The CacheControl contract: what the production adapter must do against the real Storage Control
 * API and against the local wire-protocol server (infra/local/storage-control-grpc-server.ts), as one
 * ordered suite. Register it from a
 * test file with a subject factory, or with `{skip: reason}` when the subject is not available (the
 * real API without credentials): every test is then reported as skipped, never as passed.
 *
 * A real run creates and disables Anywhere Caches in two zones of the bucket (billed; they are
 * disabled at the end and deleted by the service an hour later) and can take a long time: creation
 * is slow, so `timeoutMs` must be generous.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CacheControl, CacheErrorCode, CacheOperation } from '../../shared/ports/cache-control.ts';
import { cacheCodeOf } from '../../shared/ports/cache-control.ts';
import type { LiveCache } from '../../shared/domain/cache.ts';

export interface ContractSubject {
  control: CacheControl;
  bucket: string;
  /** Two zones inside the bucket's location, without a cache when the suite starts. */
  zones: readonly [string, string];
  /** A well-formed zone outside the bucket's location. */
  outsideZone: string;
  /** Polls `get` until `done` (a fake moves its clock between polls instead of sleeping). */
  eventually<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean): Promise<T>;
  /** Moves the subject's clock (fakes only). Tests that need it are skipped without it. */
  advance?: ((ms: number) => void) | undefined;
  /** Per-test timeout (ms). */
  timeoutMs?: number;
  cleanup?: () => Promise<void>;
}

export type SubjectSource = { skip: string } | { make: () => Promise<ContractSubject> };

async function rejectsWith(p: Promise<unknown>, code: CacheErrorCode, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal(cacheCodeOf(e), code, `${what}: expected ${code}, got ${String((e as Error)?.message ?? e)}`);
    return true;
  });
}

export function cacheControlContract(label: string, source: SubjectSource): void {
  const skip = 'skip' in source ? source.skip : undefined;
  let subject: ContractSubject | undefined;
  const s = async (): Promise<ContractSubject> => (subject ??= await (source as { make: () => Promise<ContractSubject> }).make());
  let createOp: CacheOperation | undefined;

  describe(`CacheControl contract: ${label}`, () => {
    const t = (name: string, fn: (x: ContractSubject) => Promise<void>, opts: { needsClock?: boolean } = {}) =>
      test(name, { ...(skip ? { skip } : {}), timeout: 6 * 3600 * 1000 }, async (ctx) => {
        const x = await s();
        if (opts.needsClock && !x.advance) {
          ctx.skip('fake only: needs a clock the test can move');
          return;
        }
        await fn(x);
      });

    after(async () => {
      if (subject?.cleanup) await subject.cleanup();
    });

    t('a zone without a cache: get → null, list does not show it', async (x) => {
      assert.equal(await x.control.get(x.bucket, x.zones[0]), null);
      const listed = await x.control.list(x.bucket);
      assert.ok(!listed.some((c) => c.zone === x.zones[0]), JSON.stringify(listed));
    });

    t('a zone outside the bucket location is refused: INVALID_ARGUMENT', async (x) => {
      await rejectsWith(x.control.create(x.bucket, x.outsideZone), 'CACHE_INVALID_ARGUMENT', `create in ${x.outsideZone}`);
      assert.equal(await x.control.get(x.bucket, x.outsideZone), null);
    });

    t('create starts an operation; the cache is creating (or already running); a second create is ALREADY_EXISTS', async (x) => {
      createOp = await x.control.create(x.bucket, x.zones[0], { ttlSeconds: 86_400, admissionPolicy: 'admit-on-first-miss' });
      assert.equal(createOp.kind, 'create');
      assert.ok(createOp.name.length > 0);
      const c = await x.control.get(x.bucket, x.zones[0]);
      assert.ok(c, 'the cache exists while it is being created');
      assert.ok(['creating', 'running'].includes(c.state), c.state);
      assert.equal(c.state, c.rawState.toLowerCase(), 'states are reported lowercased, raw kept');
      assert.equal(c.zone, x.zones[0]);
      assert.equal(c.bucket, x.bucket);
      await rejectsWith(x.control.create(x.bucket, x.zones[0]), 'CACHE_ALREADY_EXISTS', 'second create');
    });

    t('the create operation finishes with the cache RUNNING, as get and list then show', async (x) => {
      assert.ok(createOp, 'needs the previous test');
      const done = await x.eventually(
        'create operation done',
        () => x.control.getOperation(createOp!.name, 'create'),
        (o) => o.done,
      );
      assert.equal(done.error, undefined, JSON.stringify(done.error));
      const running = await x.eventually(
        'cache running',
        () => x.control.get(x.bucket, x.zones[0]),
        (c) => c?.state === 'running',
      );
      assert.equal(running!.ttlSeconds, 86_400);
      assert.equal(running!.admissionPolicy, 'admit-on-first-miss');
      assert.ok((await x.control.list(x.bucket)).some((c: LiveCache) => c.zone === x.zones[0] && c.state === 'running'));
    });

    t('update starts an operation; pendingUpdate blocks another update; the change lands', async (x) => {
      const op = await x.control.update(x.bucket, x.zones[0], { ttlSeconds: 2 * 86_400 });
      assert.equal(op.kind, 'update');
      const c = await x.control.get(x.bucket, x.zones[0]);
      if (c?.pendingUpdate) {
        await rejectsWith(x.control.update(x.bucket, x.zones[0], { ttlSeconds: 3 * 86_400 }), 'CACHE_FAILED_PRECONDITION', 'update while pendingUpdate');
      }
      const after = await x.eventually(
        'update applied',
        () => x.control.get(x.bucket, x.zones[0]),
        (v) => !!v && !v.pendingUpdate && v.ttlSeconds === 2 * 86_400,
      );
      assert.equal(after!.state, 'running');
      const done = await x.eventually(
        'update operation done',
        () => x.control.getOperation(op.name, 'update'),
        (o) => o.done,
      );
      assert.equal(done.error, undefined);
    });

    t('disable makes it DISABLED; resume brings it back to RUNNING', async (x) => {
      const disabled = await x.control.disable(x.bucket, x.zones[0]);
      assert.equal(disabled.state, 'disabled');
      assert.equal((await x.control.get(x.bucket, x.zones[0]))?.state, 'disabled');
      const resumed = await x.control.resume(x.bucket, x.zones[0]);
      assert.equal(resumed.state, 'running');
    });

    t('pause makes it PAUSED; resume brings it back to RUNNING', async (x) => {
      assert.equal((await x.control.pause(x.bucket, x.zones[0])).state, 'paused');
      assert.equal((await x.control.get(x.bucket, x.zones[0]))?.state, 'paused');
      assert.equal((await x.control.resume(x.bucket, x.zones[0])).state, 'running');
    });

    t('methods on a zone without a cache: NOT_FOUND', async (x) => {
      await rejectsWith(x.control.resume(x.bucket, x.zones[1]), 'CACHE_NOT_FOUND', 'resume');
      await rejectsWith(x.control.disable(x.bucket, x.zones[1]), 'CACHE_NOT_FOUND', 'disable');
      await rejectsWith(x.control.update(x.bucket, x.zones[1], { ttlSeconds: 86_400 }), 'CACHE_NOT_FOUND', 'update');
    });

    t(
      'a disabled cache is resumable for an hour, then gone; the zone can then get a new cache',
      async (x) => {
        await x.control.disable(x.bucket, x.zones[0]);
        x.advance!(59 * 60 * 1000);
        assert.equal((await x.control.get(x.bucket, x.zones[0]))?.state, 'disabled', 'still there within the hour');
        x.advance!(61 * 1000);
        assert.equal(await x.control.get(x.bucket, x.zones[0]), null, 'deleted after an hour disabled');
        await rejectsWith(x.control.resume(x.bucket, x.zones[0]), 'CACHE_NOT_FOUND', 'resume after the grace');
        const op = await x.control.create(x.bucket, x.zones[0]);
        assert.equal(op.kind, 'create');
      },
      { needsClock: true },
    );

    t('bad settings are refused: INVALID_ARGUMENT (TTL outside 1 h – 7 d, unknown admission policy)', async (x) => {
      await rejectsWith(x.control.create(x.bucket, x.zones[1], { ttlSeconds: 60 }), 'CACHE_INVALID_ARGUMENT', 'ttl 60 s');
      await rejectsWith(x.control.create(x.bucket, x.zones[1], { ttlSeconds: 8 * 86_400 }), 'CACHE_INVALID_ARGUMENT', 'ttl 8 d');
      await rejectsWith(x.control.create(x.bucket, x.zones[1], { admissionPolicy: 'admit-always' }), 'CACHE_INVALID_ARGUMENT', 'policy');
    });

    t(
      'a creating cache cannot be updated or disabled yet (FAILED_PRECONDITION)',
      async (x) => {
        await x.control.create(x.bucket, x.zones[1]);
        await rejectsWith(x.control.update(x.bucket, x.zones[1], { ttlSeconds: 7200 }), 'CACHE_FAILED_PRECONDITION', 'update while creating');
        await rejectsWith(x.control.disable(x.bucket, x.zones[1]), 'CACHE_FAILED_PRECONDITION', 'disable while creating');
        x.advance!(24 * 3600 * 1000);
        assert.equal((await x.control.get(x.bucket, x.zones[1]))?.state, 'running');
      },
      { needsClock: true },
    );

    t('an unknown operation: NOT_FOUND', async (x) => {
      await rejectsWith(x.control.getOperation(`projects/_/buckets/${x.bucket}/operations/ferry-no-such-op`, 'create'), 'CACHE_NOT_FOUND', 'getOperation');
    });
  });
}

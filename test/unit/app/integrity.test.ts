/**
 * Issue #20 over the ports (the bucket in memory, listing size + CRC32C like GCS): ferry upload's
 * manifest written last; the upload gate waiting for it; validation comparing the listing with it
 * (one byte changed at the same size, a file added, no manifest at all); `verify --full`; and the
 * re-listing before an apply (CONTENT_CHANGED).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { handleCheckpointUpload, type UploadDeps } from '../../../shared/app/checkpoint-upload.ts';
import { uploadCheckpointFiles } from '../../../shared/app/upload-checkpoint.ts';
import { verifyCheckpoint } from '../../../shared/app/verify-checkpoint.ts';
import { assertValidatedContent, checkServedContent } from '../../../shared/app/integrity.ts';
import { listLocalFiles } from '../../../shared/adapters/local-dir.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import { crc32cBase64 } from '../../../shared/domain/crc32c.ts';
import { MANIFEST_FILE, UPLOAD_MARKER, parseManifest } from '../../../shared/domain/manifest.ts';
import type { StorageFinalizedEvent } from '../../../shared/domain/events.ts';
import type { Uploader } from '../../../shared/ports/uploader.ts';
import { MemoryBucket, MemoryCheckpointState, MemoryPublisher } from '../../helpers/memory.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DriftDeps } from '../../../shared/app/integrity.ts';
import { reconcileSteps, runTick } from '../../../shared/app/reconcile-tick.ts';
import { slackWebhook } from '../../../shared/adapters/slack.ts';
import { DRIFT_FILES_SHOWN, driftMessage } from '../../../shared/domain/chat-drift.ts';
import { MAX_SECTION } from '../../../shared/domain/chat-blocks.ts';
import type { Notify } from '../../../shared/ports/notifier.ts';

const LLAMA = join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const PREFIX = 'models/llama/v1/';
const SHARD = 'model-00002-of-00006.safetensors';

function setup() {
  const bucket = new MemoryBucket();
  const state = new MemoryCheckpointState();
  let t = Date.UTC(2026, 11, 6, 12, 0, 0);
  const deps: UploadDeps = {
    objects: () => bucket,
    state,
    publisher: new MemoryPublisher(),
    clock: { now: () => new Date((t += 1000)) },
    logger: memoryLogger(),
    config: { modelBuckets: ['b'], modelPrefix: 'models/', validationConcurrency: 4, claimLeaseMs: 60_000, deployTopic: 'deploys' },
  };
  // What gcsUploader does, into the memory bucket: the stored CRC32C comes back.
  const uploader: Uploader = {
    async upload(localPath, objectName, opts = {}) {
      const bytes = await readFile(localPath);
      const generation = bucket.put(objectName, bytes, opts.metadata);
      return { size: bytes.length, generation, crc32c: crc32cBase64(bytes) };
    },
    async writeObject(objectName, data, opts) {
      const generation = bucket.put(objectName, data, opts.metadata);
      return { size: data.length, generation, crc32c: crc32cBase64(data) };
    },
  };
  const event = (name: string): StorageFinalizedEvent => {
    const generation = bucket.objects.get(name)!.generation;
    return {
      id: `${name}#${generation}`,
      source: '//storage.googleapis.com/projects/_/buckets/b',
      type: 'google.cloud.storage.object.v1.finalized',
      data: { bucket: 'b', name, generation },
    };
  };
  const ferryUpload = async () =>
    uploadCheckpointFiles(await listLocalFiles(LLAMA), PREFIX, uploader, {
      concurrency: 2,
      manifest: { toolVersion: '0.1.0', uploader: 'ana', now: () => new Date(t) },
    });
  /** Overwrites an object with the same bytes but one, keeping its custom metadata: a new generation. */
  const flipOneByte = (name: string) => {
    const o = bucket.objects.get(PREFIX + name)!;
    const bytes = Uint8Array.from(o.bytes);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    bucket.put(PREFIX + name, bytes, o.metadata);
  };
  return { bucket, state, deps, uploader, event, ferryUpload, flipOneByte };
}

test('ferry upload writes ferry.manifest.json last, every object marked, with each file’s size and stored CRC32C', async () => {
  const { bucket, ferryUpload } = setup();
  const r = await ferryUpload();
  const names = [...bucket.objects.keys()];
  assert.equal(names.at(-1), PREFIX + MANIFEST_FILE, 'the manifest is the very last object');
  assert.equal(names.at(-2), PREFIX + 'config.json');
  for (const o of bucket.objects.values()) assert.equal(o.metadata?.[UPLOAD_MARKER.key], UPLOAD_MARKER.value);
  const parsed = parseManifest(bucket.objects.get(PREFIX + MANIFEST_FILE)!.bytes);
  assert.ok(parsed.ok);
  assert.equal(parsed.manifest.uploader, 'ana');
  assert.equal(parsed.manifest.tool.version, '0.1.0');
  assert.equal(parsed.manifest.files.length, r.files);
  for (const f of parsed.manifest.files) {
    const o = bucket.objects.get(PREFIX + f.name)!;
    assert.equal(f.size, o.bytes.length, f.name);
    assert.equal(f.crc32c, crc32cBase64(o.bytes), f.name);
  }
});

test('the gate waits for the manifest of a ferry upload; its finalize event validates the version once, with it', async () => {
  const { bucket, state, deps, event, ferryUpload } = setup();
  await ferryUpload();
  const manifest = bucket.objects.get(PREFIX + MANIFEST_FILE)!;
  bucket.objects.delete(PREFIX + MANIFEST_FILE);
  const early = await handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  assert.equal(early.outcome, 'incomplete');
  assert.deepEqual(early.outcome === 'incomplete' && early.missing, [MANIFEST_FILE]);
  bucket.objects.set(PREFIX + MANIFEST_FILE, manifest);
  const out = await handleCheckpointUpload(event(PREFIX + MANIFEST_FILE), deps);
  assert.equal(out.outcome, 'validated');
  assert.ok(out.outcome === 'validated' && out.valid);
  const v = await state.getVersion('llama', 'v1');
  assert.equal(v?.status, 'valid');
  assert.equal((v?.summary as Record<string, unknown>)['manifest'], 'present');
});

test('one byte changed at the same size: invalid, MANIFEST_MISMATCH naming the file', async () => {
  const { state, deps, event, ferryUpload, flipOneByte } = setup();
  await ferryUpload();
  flipOneByte(SHARD);
  const out = await handleCheckpointUpload(event(PREFIX + SHARD), deps);
  assert.ok(out.outcome === 'validated' && !out.valid);
  const v = await state.getVersion('llama', 'v1');
  assert.equal(v?.status, 'invalid');
  assert.deepEqual(
    v?.errors.map((e) => [e.code, e.file]),
    [['MANIFEST_MISMATCH', SHARD]],
  );
});

test('a file missing from the manifest (added after the upload): invalid, NOT_IN_MANIFEST naming it', async () => {
  const { bucket, state, deps, event, ferryUpload } = setup();
  await ferryUpload();
  bucket.put(PREFIX + 'notes.txt', new TextEncoder().encode('added later'));
  await handleCheckpointUpload(event(PREFIX + 'notes.txt'), deps);
  const v = await state.getVersion('llama', 'v1');
  assert.equal(v?.status, 'invalid');
  assert.deepEqual(
    v?.errors.map((e) => [e.code, e.file]),
    [['NOT_IN_MANIFEST', 'notes.txt']],
  );
});

test('another tool’s upload (no marker, no manifest) validates as before, with "no manifest"', async () => {
  const { bucket, state, deps, event } = setup();
  for (const f of await listLocalFiles(LLAMA)) bucket.put(PREFIX + f.name, await readFile(f.path));
  const out = await handleCheckpointUpload(event(PREFIX + 'config.json'), deps);
  assert.ok(out.outcome === 'validated' && out.valid);
  assert.equal(((await state.getVersion('llama', 'v1'))?.summary as Record<string, unknown>)['manifest'], 'absent');
});

test('verify: the listing against the manifest, and with full every byte against GCS’s CRC32C and the manifest', async () => {
  const { bucket, ferryUpload, flipOneByte } = setup();
  await ferryUpload();
  const quick = await verifyCheckpoint(bucket, PREFIX);
  assert.ok(quick.ok);
  assert.equal(quick.manifest, 'present');
  assert.equal(quick.bytesRead, bucket.objects.get(PREFIX + MANIFEST_FILE)!.bytes.length, 'only the manifest is read');

  const progress: number[] = [];
  const full = await verifyCheckpoint(bucket, PREFIX, { full: true, chunkBytes: 64 * 1024, concurrency: 3, onProgress: (p) => progress.push(p.doneBytes) });
  assert.ok(full.ok, JSON.stringify(full.errors));
  const total = [...bucket.objects.entries()].filter(([n]) => n.startsWith(PREFIX)).reduce((a, [, o]) => a + o.bytes.length, 0);
  const manifestBytes = bucket.objects.get(PREFIX + MANIFEST_FILE)!.bytes.length;
  assert.equal(full.bytesRead, total + manifestBytes, 'every byte once, and the manifest once more to parse it');
  assert.equal(progress.at(-1), total);
  for (const f of full.files) assert.deepEqual(f.comparedWith, f.name === MANIFEST_FILE ? ['gcs'] : ['gcs', 'manifest'], f.name);

  flipOneByte(SHARD);
  const bad = await verifyCheckpoint(bucket, PREFIX, { full: true });
  assert.equal(bad.ok, false);
  assert.deepEqual(
    bad.errors.map((e) => [e.code, e.file]),
    [
      ['MANIFEST_MISMATCH', SHARD],
      ['CRC32C_MISMATCH', SHARD],
    ],
  );
});

test('verify: a sha256 expected from a Hugging Face blob name that the bytes do not have is SHA256_MISMATCH', async () => {
  const { bucket, ferryUpload } = setup();
  await ferryUpload();
  const r = await verifyCheckpoint(bucket, PREFIX, { full: true, expectedSha256: new Map([[SHARD, '0'.repeat(64)]]) });
  assert.deepEqual(
    r.errors.map((e) => [e.code, e.file]),
    [['SHA256_MISMATCH', SHARD]],
  );
});

test('right before an apply: the validated content passes; an overwrite after validation is CONTENT_CHANGED', async () => {
  const { bucket, state, deps, event, ferryUpload, flipOneByte } = setup();
  await ferryUpload();
  await handleCheckpointUpload(event(PREFIX + MANIFEST_FILE), deps);
  const v = (await state.getVersion('llama', 'v1'))!;
  const before = bucket.stats();
  await assertValidatedContent(v, () => bucket);
  assert.equal(bucket.stats().requests - before.requests, 1, 'one listing');
  assert.equal(bucket.stats().bytesRead, before.bytesRead, 'no read');
  flipOneByte(SHARD);
  await assert.rejects(
    assertValidatedContent(v, () => bucket),
    (e: FerryError) => {
      assert.equal(e.code, 'CONTENT_CHANGED');
      assert.equal(e.retryable, false);
      assert.match(e.message, new RegExp(`overwritten: ${SHARD.replace(/[.]/g, '\\.')}`));
      return true;
    },
  );
});

test('drift: an overwrite of a served version is flagged on the version with its targets, published once, and cleared when the content is back', async () => {
  const { bucket, state, deps, event, ferryUpload, flipOneByte } = setup();
  await ferryUpload();
  await handleCheckpointUpload(event(PREFIX + MANIFEST_FILE), deps);
  const v = (await state.getVersion('llama', 'v1'))!;
  const key = v.contentKey!;
  // One target serves v1 through its last good rollout, rendered with the validated content key.
  const rollout = { id: 'ro-1', model: 'llama', version: 'v1', spec: { deployment: { metadata: { annotations: { 'ferry.dev/checkpoint-digest': key } } } } };
  const target = { key: 'local/serving/llama', lastGood: { rolloutId: 'ro-1' }, activeRolloutId: null };
  const published: unknown[] = [];
  const drift = {
    targets: async () => [target] as never,
    rollouts: { getRollout: async (id: string) => (id === 'ro-1' ? (rollout as never) : undefined) },
    versions: state,
    objects: () => bucket,
    publisher: { publishJson: async (_t: string, data: unknown) => (published.push(data), 'm') } as never,
    resultsTopic: 'results',
    clock: deps.clock,
    logger: memoryLogger(),
  };
  assert.deepEqual(await checkServedContent(drift), { checked: 1, drifted: 0, cleared: 0, failed: 0 });

  flipOneByte(SHARD);
  const r = await checkServedContent(drift);
  assert.equal(r.drifted, 1);
  const flagged = await state.getVersion('llama', 'v1');
  assert.deepEqual(flagged?.drift && { changed: flagged.drift.changed, targets: flagged.drift.targets }, {
    changed: [SHARD],
    targets: ['local/serving/llama'],
  });
  assert.equal(published.length, 1);
  assert.deepEqual((published[0] as Record<string, unknown>)['code'], 'CONTENT_CHANGED');
  await checkServedContent(drift);
  assert.equal(published.length, 1, 'announced once');

  // The overwrite is validated again (version.files now the new content): the target was rendered
  // with the old content key, so it still serves bytes other than those validated at its deploy.
  await handleCheckpointUpload(event(PREFIX + SHARD), deps);
  assert.equal((await checkServedContent(drift)).drifted, 1);

  // A new deploy of the re-validated content: the target's rollout now carries its content key.
  rollout.spec.deployment.metadata.annotations['ferry.dev/checkpoint-digest'] = (await state.getVersion('llama', 'v1'))!.contentKey!;
  const back = await checkServedContent(drift);
  assert.equal(back.cleared, 1);
  assert.equal((await state.getVersion('llama', 'v1'))?.drift, null);
});

// ---- Drift alerts to Slack (FERRY_ALERTS_SLACK_WEBHOOK_URL): the real poster over real HTTP ----------

/** A local incoming webhook: records each post and answers with `status` (200 by default). */
async function webhookServer() {
  const posts: Array<{ path: string; body: { text: string; blocks: unknown[] } }> = [];
  let status = 200;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', body: JSON.parse(body) });
      res.statusCode = status;
      res.end(status === 200 ? 'ok' : 'internal_error');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T1/B1/secret`;
  return { posts, url, fail: (s: number) => void (status = s), close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A served v1 (one target, rendered with the validated key) and the drift check's deps with `alert`. */
async function servedVersion(alert: Notify | undefined) {
  const s = setup();
  await s.ferryUpload();
  await handleCheckpointUpload(s.event(PREFIX + MANIFEST_FILE), s.deps);
  const key = (await s.state.getVersion('llama', 'v1'))!.contentKey!;
  const rollout = { id: 'ro-1', model: 'llama', version: 'v1', spec: { deployment: { metadata: { annotations: { 'ferry.dev/checkpoint-digest': key } } } } };
  const target = { key: 'local/serving/llama', lastGood: { rolloutId: 'ro-1' }, activeRolloutId: null };
  const published: unknown[] = [];
  const logger = memoryLogger();
  const drift: DriftDeps = {
    targets: async () => [target] as never,
    rollouts: { getRollout: async (id: string) => (id === 'ro-1' ? (rollout as never) : undefined) },
    versions: s.state,
    objects: () => s.bucket,
    publisher: { publishJson: async (_t: string, data: unknown) => (published.push(data), 'm') } as never,
    resultsTopic: 'results',
    alert,
    clock: s.deps.clock,
    logger,
  };
  return { ...s, drift, published, logger };
}

test('drift alert: posted to the alerts webhook once when drift appears (model, version, files, targets, CONTENT_CHANGED, what to do), not again on the next tick', async (t) => {
  const hook = await webhookServer();
  t.after(hook.close);
  const alert = slackWebhook(hook.url, { allowLocal: true, setting: 'FERRY_ALERTS_SLACK_WEBHOOK_URL' });
  const { drift, flipOneByte, published } = await servedVersion(alert);

  await checkServedContent(drift);
  assert.equal(hook.posts.length, 0, 'nothing to say while the content is the validated one');

  flipOneByte(SHARD);
  assert.equal((await checkServedContent(drift)).drifted, 1);
  assert.equal(hook.posts.length, 1);
  assert.equal(published.length, 1, 'with the results message');
  const { path, body } = hook.posts[0]!;
  assert.equal(path, '/services/T1/B1/secret');
  assert.match(body.text, /llama\/v1 changed after validation \(CONTENT_CHANGED\); served by local\/serving\/llama/);
  const blocks = JSON.stringify(body.blocks);
  for (const part of ['llama', 'v1', SHARD, 'local/serving/llama', 'CONTENT_CHANGED', 'Upload the checkpoint again as a new version']) {
    assert.ok(blocks.includes(part), `the alert names ${part}`);
  }

  assert.equal((await checkServedContent(drift)).drifted, 1, 'still drifted');
  await checkServedContent(drift);
  assert.equal(hook.posts.length, 1, 'posted once per change, not every tick');
});

test('drift alert: not posted without a webhook; the flag and the results message are unchanged', async () => {
  const { drift, flipOneByte, published, state } = await servedVersion(undefined);
  flipOneByte(SHARD);
  assert.equal((await checkServedContent(drift)).drifted, 1);
  assert.equal(published.length, 1);
  assert.deepEqual((await state.getVersion('llama', 'v1'))?.drift?.changed, [SHARD]);
});

test('drift alert: a failing webhook is logged with its code and does not break the check or the tick', async (t) => {
  const hook = await webhookServer();
  t.after(hook.close);
  hook.fail(500);
  const alert = slackWebhook(hook.url, { allowLocal: true, setting: 'FERRY_ALERTS_SLACK_WEBHOOK_URL' });
  const { drift, flipOneByte, published, state, logger } = await servedVersion(alert);
  flipOneByte(SHARD);
  assert.deepEqual(await checkServedContent(drift), { checked: 1, drifted: 1, cleared: 0, failed: 0 });
  assert.equal(hook.posts.length, 1, 'a 5xx is not retried: Slack may have posted it');
  assert.equal(published.length, 1, 'the results message still went out');
  assert.deepEqual((await state.getVersion('llama', 'v1'))?.drift?.changed, [SHARD], 'the version is still flagged');
  const failed = logger.entries.find((e) => String(e['message']).startsWith('could not post the drift alert to Slack'));
  assert.equal(failed?.['code'], 'CHAT_POST_FAILED');

  // In the tick: the integrity step is ok and the steps after it run.
  const alert2: Notify = async () => {
    throw new FerryError('CHAT_POST_FAILED', 'Slack answered 500');
  };
  const again = await servedVersion(alert2);
  again.flipOneByte(SHARD);
  const steps = reconcileSteps({
    rollout: {
      rollouts: again.drift.rollouts,
      versions: again.state,
      objects: again.drift.objects,
      publisher: again.drift.publisher,
      config: { resultsTopic: 'results' },
      clock: again.drift.clock,
    } as never,
    upload: {} as never,
    activity: { listTargets: again.drift.targets } as never,
    alert: alert2,
  }).filter((s) => s.name === 'integrity');
  const report = await runTick(steps, memoryLogger());
  assert.deepEqual(report.failed, []);
  assert.deepEqual(report.steps[0], { step: 'integrity', ok: true, result: { checked: 1, drifted: 1, cleared: 0, failed: 0 } });
});

test('drift alert message: long file lists are truncated with a count, names escaped, inside Block Kit limits', () => {
  const changed = Array.from({ length: 400 }, (_, i) => `shard-<${i}>.safetensors`);
  const m = driftMessage({ model: 'llama', version: 'v1', targets: ['a/b/c'], why: 'x', changed, added: ['new.bin'], removed: [] });
  const text = JSON.stringify(m.blocks);
  assert.ok(text.includes(`shard-&lt;${DRIFT_FILES_SHOWN - 1}&gt;.safetensors`));
  assert.ok(!text.includes(`shard-&lt;${DRIFT_FILES_SHOWN}&gt;.safetensors`));
  assert.ok(text.includes(`…and ${400 - DRIFT_FILES_SHOWN} more`));
  assert.ok(text.includes('*Added (1):*'));
  assert.ok(!text.includes('Removed'));
  for (const b of m.blocks ?? []) if (b.type === 'section' && b.text) assert.ok(b.text.text.length <= MAX_SECTION);
});

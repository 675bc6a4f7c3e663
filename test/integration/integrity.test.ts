/**
 * Issue #20 against the local stack (Storage emulator, onCheckpointUpload, Firestore): `ferry upload`
 * of a Hugging Face cache snapshot writes ferry.manifest.json last (with the blobs' sha256) and
 * the version validates with it; `ferry verify --full` reads every byte of the folder and of the
 * bucket; one byte changed at the same size and a file added after the upload make the version
 * invalid, naming the file; an overwrite after validation is drift on the served version and
 * refuses the apply (CONTENT_CHANGED). And what the emulator does with a temporary hold.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { gcsObjectStore, storageClient } from '../../shared/adapters/gcs.ts';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { memoryLogger } from '../../shared/adapters/logging.ts';
import { assertValidatedContent, checkServedContent } from '../../shared/app/integrity.ts';
import { MANIFEST_FILE, parseManifest } from '../../shared/domain/manifest.ts';
import type { FerryError } from '../../shared/domain/errors.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';
import { eventually, stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { makeHfCache } from '../helpers/hf-cache.ts';
import { LLAMA_DIR } from '../helpers/upload-version.ts';
import { freshShell } from '../helpers/fresh-shell.ts';

const env = stackEnv('FERRY_TEST_LOCAL_ENV', 'GOOGLE_CLOUD_PROJECT', 'STORAGE_EMULATOR_HOST', 'FIRESTORE_EMULATOR_HOST', 'FERRY_BUCKET');
const storage = storageClient({ emulatorHost: env.STORAGE_EMULATOR_HOST, projectId: env.GOOGLE_CLOUD_PROJECT });
const bucket = storage.bucket(env.FERRY_BUCKET);
const state = new FirestoreCheckpointState(firestoreClient(env.GOOGLE_CLOUD_PROJECT));
const SHARD = 'model-00003-of-00006.safetensors';

const hf = makeHfCache(LLAMA_DIR, { repo: 'ferry-test/tiny-llama-integrity' });
after(() => hf.cleanup());

const ferry = freshShell(env.FERRY_TEST_LOCAL_ENV, { timeoutMs: 180_000 });

const settledAfter = (model: string, after: number) =>
  eventually(
    `${model}/v1 validated (run > ${after})`,
    () => state.getVersion(model, 'v1'),
    (d): d is VersionDoc => !!d && d.validations > after && (d.status === 'valid' || d.status === 'invalid'),
    120_000,
  );

/** A ferry upload of the HF snapshot, validated: the model name and its version document. */
async function uploaded(): Promise<{ model: string; uri: string; doc: VersionDoc }> {
  const model = uniqueName('integrity');
  const uri = `gs://${env.FERRY_BUCKET}/models/${model}/v1`;
  const r = await ferry('upload', hf.snapshotDir, uri, '--progress', 'none');
  assert.equal(r.code, 0, r.err);
  const doc = await settledAfter(model, 0);
  assert.equal(doc.status, 'valid', JSON.stringify(doc.errors));
  return { model, uri, doc };
}

/**
 * Writes an object as another tool would (no ferry marker): a new generation. Through ferry's
 * writer for its retry only: the emulator drops kept-alive sockets under load (write EPIPE).
 */
const writer = gcsUploader(env.FERRY_BUCKET, storage);
async function overwrite(model: string, name: string, bytes: Buffer): Promise<void> {
  await writer.writeObject!(`models/${model}/v1/${name}`, bytes, { contentType: 'application/octet-stream' });
}

test('ferry upload of a Hugging Face snapshot: the manifest is written last with the blobs’ sha256, the version validates with it, and verify --full passes on both sides', async () => {
  const { model, uri, doc } = await uploaded();
  assert.equal((doc.summary as Record<string, unknown>)['manifest'], 'present');
  assert.equal(doc.validations, 1, 'validated once, when the manifest arrived');
  const [m] = await bucket.file(`models/${model}/v1/${MANIFEST_FILE}`).download();
  const parsed = parseManifest(m);
  assert.ok(parsed.ok);
  assert.equal(parsed.manifest.files.length, 9);
  for (const f of parsed.manifest.files) {
    const [meta] = await bucket.file(`models/${model}/v1/${f.name}`).getMetadata();
    assert.equal(f.crc32c, meta.crc32c, `${f.name}: the CRC32C the emulator stored`);
    assert.equal(f.sha256 !== undefined, f.name.endsWith('.safetensors'), `${f.name}: sha256 from its blob name`);
  }
  const local = await ferry('verify', hf.snapshotDir, '--full', '-o', 'json');
  assert.equal(local.code, 0, local.err);
  const remote = await ferry('verify', uri, '--full', '--progress', 'lines');
  assert.equal(remote.code, 0, remote.out + remote.err);
  assert.match(remote.out, /^VERIFIED/);
  assert.match(remote.err, /verify: .* \(100%\), .*\/s, ETA .*, 10\/10 files/);
});

test('one byte changed at the same size: invalid (MANIFEST_MISMATCH naming the file), and verify exits 1', async () => {
  const { model, uri, doc } = await uploaded();
  const [bytes] = await bucket.file(`models/${model}/v1/${SHARD}`).download();
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
  await overwrite(model, SHARD, bytes);
  const after = await settledAfter(model, doc.validations);
  assert.equal(after.status, 'invalid');
  assert.deepEqual(
    after.errors.map((e) => [e.code, e.file]),
    [['MANIFEST_MISMATCH', SHARD]],
  );
  const v = await ferry('verify', uri);
  assert.equal(v.code, 1, v.out + v.err);
  assert.match(v.out, new RegExp(`MANIFEST_MISMATCH .*${SHARD.replace(/\./g, '\\.')}`));
});

test('a file added after the upload is missing from the manifest: invalid, NOT_IN_MANIFEST naming it', async () => {
  const { model, doc } = await uploaded();
  await overwrite(model, 'notes.txt', Buffer.from('added later'));
  const after = await settledAfter(model, doc.validations);
  assert.equal(after.status, 'invalid');
  assert.deepEqual(
    after.errors.map((e) => [e.code, e.file]),
    [['NOT_IN_MANIFEST', 'notes.txt']],
  );
});

test('an overwrite after validation: drift flagged on the served version and its target; the apply is refused (CONTENT_CHANGED)', async () => {
  const { model, doc } = await uploaded();
  const objects = (b: string) => gcsObjectStore(b, { storage });
  await assertValidatedContent(doc, objects, doc.contentKey!);
  // A target serving v1 (its last good rollout rendered with the validated content key).
  const rollout = { id: 'ro-x', model, version: 'v1', spec: { deployment: { metadata: { annotations: { 'ferry.dev/checkpoint-digest': doc.contentKey } } } } };
  const published: unknown[] = [];
  const drift = {
    targets: async () => [{ key: `local/serving/${model}`, lastGood: { rolloutId: 'ro-x' }, activeRolloutId: null }] as never,
    rollouts: { getRollout: async () => rollout as never },
    versions: state,
    objects,
    publisher: { publishJson: async (_t: string, data: unknown) => (published.push(data), 'm') } as never,
    resultsTopic: 'results',
    clock: { now: () => new Date() },
    logger: memoryLogger(),
  };
  assert.equal((await checkServedContent(drift)).drifted, 0);

  const [bytes] = await bucket.file(`models/${model}/v1/${SHARD}`).download();
  await overwrite(model, SHARD, bytes); // the same bytes, a new generation: not the validated object
  await assert.rejects(assertValidatedContent(doc, objects, doc.contentKey!), (e: FerryError) => e.code === 'CONTENT_CHANGED' && e.message.includes(SHARD));
  assert.equal((await checkServedContent(drift)).drifted, 1);
  const flagged = await state.getVersion(model, 'v1');
  assert.deepEqual(flagged?.drift?.targets, [`local/serving/${model}`]);
  assert.equal(published.length, 1);
});

test('the Storage emulator does not implement object PATCH, so temporary holds cannot be set locally (README: Integrity)', async () => {
  // firebase-tools 14.27.0 lib/emulator/storage/apis/gcloud.js registers PATCH only at
  // /b/:bucketId/o/:objectId (not /storage/v1/…, where the SDK sends it) and has no temporaryHold.
  const file = bucket.file(`holdprobe/${uniqueName('x')}`);
  await file.save('one', { resumable: false });
  await assert.rejects(file.setMetadata({ temporaryHold: true }), (e: { code?: number }) => e.code === 501);
  await file.save('two', { resumable: false }); // so an overwrite is never refused locally
  await file.delete();
});

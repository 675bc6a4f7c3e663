/**
 * A newcomer's `hf download` → `ferry upload`: a real Hugging Face cache folder (snapshot of
 * symlinks into ../../blobs/) is uploaded by the CLI, run as a subprocess in a fresh shell (only
 * PATH and HOME, beside the .ferry/local.env the stack wrote), to the Storage emulator; the
 * objects carry the blobs' bytes under the link names and the version is validated VALID. A folder
 * with no weights is refused (exit 1, NO_CHECKPOINT_FILES) and nothing lands in the bucket.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { storageClient } from '../../shared/adapters/gcs.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';
import { eventually, stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { makeHfCache } from '../helpers/hf-cache.ts';
import { LLAMA_DIR } from '../helpers/upload-version.ts';
import { freshShell } from '../helpers/fresh-shell.ts';

const env = stackEnv('FERRY_TEST_LOCAL_ENV', 'GOOGLE_CLOUD_PROJECT', 'STORAGE_EMULATOR_HOST', 'FIRESTORE_EMULATOR_HOST', 'FERRY_BUCKET');
const bucket = storageClient({ emulatorHost: env.STORAGE_EMULATOR_HOST, projectId: env.GOOGLE_CLOUD_PROJECT }).bucket(env.FERRY_BUCKET);
const state = new FirestoreCheckpointState(firestoreClient(env.GOOGLE_CLOUD_PROJECT));

const hf = makeHfCache(LLAMA_DIR, { repo: 'ferry-test/tiny-llama' });
after(() => hf.cleanup());

const ferry = freshShell(env.FERRY_TEST_LOCAL_ENV, { timeoutMs: 120_000 });
const noStackTrace = (s: string) => assert.doesNotMatch(s, /^\s+at .+[:(]\d+/m, `no stack trace expected, got:\n${s}`);
const valid = (model: string, version: string) =>
  eventually(
    `${model}/${version} settled`,
    () => state.getVersion(model, version),
    (d): d is VersionDoc => d?.status === 'valid' || d?.status === 'invalid',
  );

test('a Hugging Face cache snapshot (symlinks into blobs/) uploads the blobs under the link names and becomes a VALID version', async () => {
  const model = uniqueName('hf-llama');
  const r = await ferry('upload', hf.snapshotDir, `gs://${env.FERRY_BUCKET}/models/${model}/v1`, '--progress', 'lines');
  noStackTrace(r.err);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^uploaded 9 files \\(359,790 bytes\\) to gs://${env.FERRY_BUCKET}/models/${model}/v1/ in `, 'm'));
  assert.match(r.err, /uploading 9 files \(.*, 9 through symlinks\)/);
  assert.match(r.err, /\[9\/9\] 100% {2}config\.json/, 'a line per finished file, config.json last');

  const doc = await valid(model, 'v1');
  assert.equal(doc.status, 'valid', JSON.stringify(doc.errors));
  assert.equal(doc.files.length, 10, 'the 9 files and ferry.manifest.json');
  assert.equal((doc.summary as Record<string, number>)['tensors'], 30);
  assert.equal((doc.summary as Record<string, number>)['parameters'], 176576);
  for (const name of ['model-00003-of-00006.safetensors', 'config.json']) {
    const [stored] = await bucket.file(`models/${model}/v1/${name}`).download();
    assert.deepEqual(stored, readFileSync(join(LLAMA_DIR, name)), `${name}: the blob's bytes`);
  }
});

test('--progress bar draws one line in place on stderr', async () => {
  const model = uniqueName('hf-llama');
  const r = await ferry('upload', hf.snapshotDir, `gs://${env.FERRY_BUCKET}/models/${model}/v1`, '--progress', 'bar', '--concurrency', '2');
  noStackTrace(r.err);
  assert.equal(r.code, 0, r.err);
  const frames = r.err.split('\r').slice(1);
  assert.ok(frames.length >= 2, r.err);
  // The live bar ends each frame with ESC[K (erase to end of line): that control character is the point.
  // eslint-disable-next-line no-control-regex
  assert.match(frames.at(-1)!, /^\[#+\] 100% {2}.* 9\/9 files\x1b\[K\n$/);
  assert.equal((await valid(model, 'v1')).status, 'valid');
});

test('a folder with no checkpoint file: exit 1, NO_CHECKPOINT_FILES, and nothing uploaded', async () => {
  const model = uniqueName('no-weights');
  const d = mkdtempSync(join(tmpdir(), 'ferry-no-weights-'));
  try {
    writeFileSync(join(d, 'config.json'), readFileSync(join(LLAMA_DIR, 'config.json')));
    const r = await ferry('upload', d, `gs://${env.FERRY_BUCKET}/models/${model}/v1`, '--force');
    noStackTrace(r.err);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /\[NO_CHECKPOINT_FILES\]/);
    assert.match(r.err, /expected model\.safetensors/);
    assert.doesNotMatch(r.out, /uploaded/);
    const [objects] = await bucket.getFiles({ prefix: `models/${model}/` });
    assert.deepEqual(
      objects.map((o) => o.name),
      [],
    );
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

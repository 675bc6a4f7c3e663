/**
 * An over-cap index uploaded for real (issue #23): the reference Llama with its
 * `model.safetensors.index.json` padded with whitespace (still legal JSON, the same weight_map) to
 * one byte above MAX_INDEX_BYTES goes through the Storage emulator, its finalize events and
 * onCheckpointUpload, and the version ends `invalid` with INDEX_TOO_LARGE_TO_VALIDATE — refused from
 * its listed size, never parsed — and nothing is deployed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Storage } from '@google-cloud/storage';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { LLAMA_DIR } from '../helpers/upload-version.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import { MAX_INDEX_BYTES } from '../../shared/domain/checkpoint.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';

const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'STORAGE_EMULATOR_HOST', 'FIRESTORE_EMULATOR_HOST', 'FERRY_BUCKET');
const storage = new Storage({ projectId: env.GOOGLE_CLOUD_PROJECT, apiEndpoint: env.STORAGE_EMULATOR_HOST });
const state = new FirestoreCheckpointState(firestoreClient(env.GOOGLE_CLOUD_PROJECT));
// ferry's own uploader: it retries a connection the emulator drops mid-request, never writing twice.
const uploader = gcsUploader(env.FERRY_BUCKET, storage);
const dir = mkdtempSync(join(tmpdir(), 'ferry-index-cap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('an index one byte above the cap, uploaded for real, makes the version invalid with INDEX_TOO_LARGE_TO_VALIDATE', async () => {
  cpSync(LLAMA_DIR, dir, { recursive: true });
  const indexFile = join(dir, 'model.safetensors.index.json');
  const index = readFileSync(indexFile);
  const padded = Buffer.alloc(MAX_INDEX_BYTES + 1, 0x20);
  index.copy(padded);
  writeFileSync(indexFile, padded);
  JSON.parse(padded.toString('utf8')); // still the same, legal index: only its size is refused

  const model = uniqueName('index-cap');
  const prefix = `models/${model}/v1/`;
  const names = readdirSync(dir).filter((f) => !f.startsWith('.'));
  const last = ['model.safetensors.index.json', 'config.json'];
  await Promise.all(names.filter((n) => !last.includes(n)).map((n) => uploader.upload(join(dir, n), prefix + n)));
  for (const n of last) await uploader.upload(join(dir, n), prefix + n);

  const doc = await eventually(
    'version settled',
    () => state.getVersion(model, 'v1'),
    (d): d is VersionDoc => d?.status === 'valid' || d?.status === 'invalid',
    120_000,
  );
  assert.equal(doc.status, 'invalid', JSON.stringify(doc.errors));
  const f = doc.errors.find((e) => e.code === 'INDEX_TOO_LARGE_TO_VALIDATE');
  assert.ok(f, JSON.stringify(doc.errors));
  assert.equal(f.file, 'model.safetensors.index.json');
  assert.match(f.message, new RegExp(`${MAX_INDEX_BYTES + 1} bytes`));
  assert.equal((await state.getModel(model))?.latestValid ?? null, null);
});

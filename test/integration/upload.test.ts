/**
 * Upload → version, end to end on the local stack: objects written to the Storage emulator fire
 * finalize events, the dev forwarder delivers them as CloudEvents to onCheckpointUpload served by
 * functions-framework, which validates headers and records the version in the Firestore emulator.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Storage } from '@google-cloud/storage';
import { PubSub, type Subscription, type Message } from '@google-cloud/pubsub';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { materialiseCase } from '../helpers/fixtures.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_DEPLOY_TOPIC',
  'FERRY_URL_ON_CHECKPOINT_UPLOAD',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
);
const NS = 'ferry-upload-it';
const LLAMA = join(import.meta.dirname, '..', 'fixtures', 'checkpoints', 'llama-sharded');
const storage = new Storage({ projectId: env.GOOGLE_CLOUD_PROJECT, apiEndpoint: env.STORAGE_EMULATOR_HOST });
const bucket = storage.bucket(env.FERRY_BUCKET);
const state = new FirestoreCheckpointState(firestoreClient(env.GOOGLE_CLOUD_PROJECT));
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
let deploySub: Subscription;
const deployRequests: Array<Record<string, unknown>> = [];

before(async () => {
  const [topic] = await pubsub.topic(env.FERRY_DEPLOY_TOPIC).get({ autoCreate: true });
  [deploySub] = await topic.createSubscription(uniqueName('upload-test'));
  // Pub/Sub delivers at least once: a redelivery of one message (same id) is not a second request.
  const seen = new Set<string>();
  deploySub.on('message', (m: Message) => {
    if (!seen.has(m.id)) deployRequests.push(JSON.parse(m.data.toString('utf8')) as Record<string, unknown>);
    seen.add(m.id);
    m.ack();
  });
});
after(async () => {
  await deploySub?.delete().catch(() => undefined);
  await pubsub.close();
  // The autodeploy request really rolls out (the stack's onDeployRequest): free its GPU.
  const kc = new KubeConfig();
  kc.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name: NS })
    .catch(() => undefined);
});

const files = (dir: string) => readdirSync(dir).filter((f) => !f.startsWith('.'));
const shuffle = <T>(xs: T[]) =>
  xs
    .map((x) => [Math.random(), x] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, x]) => x);
// ferry's own uploader (what `ferry upload` uses): a connection the emulator drops mid-request (its
// keep-alive sockets close under the SDK's pooled agent: EPIPE) is retried without writing twice.
const uploader = gcsUploader(env.FERRY_BUCKET, storage);
const upload = async (dir: string, prefix: string, name: string) => ({ name: prefix + name, ...(await uploader.upload(join(dir, name), prefix + name)) });
const versionDoc = (model: string, version: string) => () => state.getVersion(model, version);
const settled = (d: VersionDoc | undefined): d is VersionDoc => d?.status === 'valid' || d?.status === 'invalid';

async function uploadAllConcurrently(dir: string, prefix: string): Promise<Array<{ name: string; size: number; generation: string }>> {
  return Promise.all(shuffle(files(dir)).map((f) => upload(dir, prefix, f)));
}

test('a checkpoint uploaded in random order with concurrent writes is validated exactly once, valid', async () => {
  const model = uniqueName('llama');
  const prefix = `models/${model}/v1/`;
  await state.setAutodeploy(model, [{ cluster: 'local', namespace: NS, name: 'llama-auto', accelerator: { type: 'nvidia-l4', count: 1 } }], new Date());
  await uploadAllConcurrently(LLAMA, prefix);
  const doc = await eventually('version valid', versionDoc(model, 'v1'), settled);
  assert.equal(doc.status, 'valid', JSON.stringify(doc.errors));
  assert.equal(doc.validations, 1);
  assert.equal(doc.files.length, 9);
  assert.ok(
    doc.files.every((f) => /^\d+$/.test(f.generation) && f.generation !== '0'),
    'the file list is generation-pinned',
  );
  const s = doc.summary as Record<string, number>;
  assert.equal(s['tensors'], 30);
  assert.equal(s['parameters'], 176576);
  assert.equal(s['tensorBytes'], 353152);
  assert.equal(doc.uri, `gs://${env.FERRY_BUCKET}/models/${model}/v1`);
  assert.equal((await state.getModel(model))?.latestValid?.version, 'v1');
  // Autodeploy: exactly one deploy request for the one target, marked as coming from the upload.
  const reqs = await eventually(
    'one deploy request',
    async () => deployRequests.filter((r) => r['model'] === model),
    (r) => r.length >= 1,
  );
  await new Promise((r) => setTimeout(r, 1500));
  const mine = deployRequests.filter((r) => r['model'] === model);
  assert.equal(mine.length, 1, JSON.stringify(mine));
  assert.deepEqual((reqs[0] as { requestedBy: unknown }).requestedBy, { source: 'upload', principal: doc.uri });
  assert.deepEqual(reqs[0]!['target'], { cluster: 'local', namespace: NS, name: 'llama-auto' });
  assert.equal(reqs[0]!['version'], 'v1');
});

test('a corrupted shard makes the version invalid with the right code, and nothing is deployed', async () => {
  const model = uniqueName('broken');
  const prefix = `models/${model}/v1/`;
  await state.setAutodeploy(model, [{ cluster: 'local', namespace: NS, name: 'broken-auto', accelerator: { type: 'nvidia-l4', count: 1 } }], new Date());
  const c = materialiseCase('overlapping-offsets');
  try {
    await uploadAllConcurrently(c.dir, prefix);
  } finally {
    c.cleanup();
  }
  const doc = await eventually('version invalid', versionDoc(model, 'v1'), settled);
  assert.equal(doc.status, 'invalid');
  assert.equal(doc.validations, 1);
  const codes = doc.errors.map((e) => e.code);
  assert.ok(codes.includes('OFFSETS_NOT_CONTIGUOUS') || codes.some((c2) => /OFFSET/.test(c2)), codes.join(','));
  assert.ok(
    doc.errors.every((e) => e.file === 'model-00003-of-00006.safetensors'),
    JSON.stringify(doc.errors),
  );
  assert.equal((await state.getModel(model))?.latestValid, null);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(deployRequests.filter((r) => r['model'] === model).length, 0, 'an invalid version is never deployed');
});

test('duplicate delivery of every event still makes one validation', async () => {
  const model = uniqueName('dup');
  const prefix = `models/${model}/v1/`;
  const written = await uploadAllConcurrently(LLAMA, prefix);
  await eventually('version valid', versionDoc(model, 'v1'), settled);
  // Redeliver every finalize event twice more, concurrently, exactly as Eventarc would (same ids).
  const events = written.map((f) => ({
    id: `${env.FERRY_BUCKET}/${f.name}/${f.generation}`,
    data: { bucket: env.FERRY_BUCKET, name: f.name, generation: f.generation, size: String(f.size), metageneration: '1' },
  }));
  const post = (e: (typeof events)[number]) =>
    fetch(env.FERRY_URL_ON_CHECKPOINT_UPLOAD, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-id': e.id,
        'ce-specversion': '1.0',
        'ce-type': 'google.cloud.storage.object.v1.finalized',
        'ce-source': `//storage.googleapis.com/projects/_/buckets/${e.data.bucket}`,
        'ce-subject': `objects/${e.data.name}`,
      },
      body: JSON.stringify(e.data),
    }).then((r) => r.status);
  const statuses = await Promise.all([...events, ...events].map(post));
  assert.ok(
    statuses.every((s) => s >= 200 && s < 300),
    `every duplicate is acked: ${statuses.join(',')}`,
  );
  const doc = (await state.getVersion(model, 'v1'))!;
  assert.equal(doc.status, 'valid');
  assert.equal(doc.validations, 1);
  assert.equal(doc.runs.length, 1);
});

test('an overwrite after validation makes a new validation of the new content; a bad overwrite makes it invalid', async () => {
  const model = uniqueName('over');
  const prefix = `models/${model}/v1/`;
  await uploadAllConcurrently(LLAMA, prefix);
  const first = await eventually('first validation', versionDoc(model, 'v1'), settled);
  assert.equal(first.validations, 1);
  // Same bytes, new generation: new content by definition (the (name, generation) set changed).
  await upload(LLAMA, prefix, 'model-00002-of-00006.safetensors');
  const second = await eventually('second validation', versionDoc(model, 'v1'), (d): d is VersionDoc => d?.validations === 2 && settled(d));
  assert.equal(second.status, 'valid');
  assert.notEqual(second.contentKey, first.contentKey);
  assert.deepEqual(
    second.runs.map((r) => r.outcome),
    ['valid', 'valid'],
  );
  // Overwrite a shard with truncated bytes: the version turns invalid, and stops being "latest".
  const tmp = mkdtempSync(join(tmpdir(), 'ferry-over-'));
  try {
    cpSync(LLAMA, tmp, { recursive: true });
    const shard = join(tmp, 'model-00002-of-00006.safetensors');
    writeFileSync(shard, readFileSync(shard).subarray(0, 30_000));
    await upload(tmp, prefix, 'model-00002-of-00006.safetensors');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const third = await eventually('third validation', versionDoc(model, 'v1'), (d): d is VersionDoc => d?.validations === 3 && settled(d));
  assert.equal(third.status, 'invalid');
  assert.ok(third.errors.some((e) => e.file === 'model-00002-of-00006.safetensors'));
  assert.equal((await state.getModel(model))?.latestValid, null);
});

test('a version that never completes shows incomplete with what is missing, and is never validated', async () => {
  const model = uniqueName('partial');
  const prefix = `models/${model}/v1/`;
  const some = files(LLAMA).filter((f) => !['config.json', 'model-00004-of-00006.safetensors', 'model-00006-of-00006.safetensors'].includes(f));
  await Promise.all(some.map((f) => upload(LLAMA, prefix, f)));
  const doc = await eventually(
    'incomplete with missing files',
    versionDoc(model, 'v1'),
    (d): d is VersionDoc => d?.status === 'incomplete' && d.missing.length === 3,
  );
  assert.deepEqual(doc.missing, ['config.json', 'model-00004-of-00006.safetensors', 'model-00006-of-00006.safetensors']);
  assert.equal(doc.validations, 0);
  assert.equal(doc.summary, null);
});

test('objects outside the models/ convention are ignored; unsafe names never create versions', async () => {
  await bucket.file('datasets/x/readme.txt').save('hello', { resumable: false });
  await bucket.file('models/bad name/v1/config.json').save('{}', { resumable: false });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await state.getModel('bad name'), undefined);
});

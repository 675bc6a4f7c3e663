/**
 * The ferry CLI against the local stack, the way a user drives it: upload → status → deploy
 * --wait → a second version → rollback --wait, plus autodeploy and the error paths.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, cpSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { main } from '../../shared/cli/main.ts';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import type { StatusJson } from '../../shared/cli/commands/status.ts';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_DEPLOY_TOPIC',
  'KUBECONFIG',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
);

after(async () => {
  // Free the simulated GPUs for the test files that run after this one.
  const kc = new KubeConfig();
  kc.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name: 'ferry-cli' })
    .catch(() => undefined);
});
const LLAMA = join(import.meta.dirname, '..', 'fixtures', 'checkpoints', 'llama-sharded');
const model = uniqueName('cli');

async function ferry(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: { ...process.env, ...env } });
  return { code, out, err };
}

async function status(): Promise<StatusJson> {
  const r = await ferry('status', model, '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as StatusJson;
}

const validVersion = (v: string) => async () => {
  const s = await status();
  return s.models[0]?.versions.find((x) => x.version === v)?.status;
};

test('ferry upload refuses an invalid checkpoint (nothing uploaded) unless --force', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
  try {
    cpSync(LLAMA, dir, { recursive: true });
    const shard = join(dir, 'model-00002-of-00006.safetensors');
    writeFileSync(shard, readFileSync(shard).subarray(0, 20_000));
    const r = await ferry('upload', dir, `gs://${env.FERRY_BUCKET}/models/${model}/broken`);
    assert.equal(r.code, 1);
    assert.match(r.err, /not a valid checkpoint/);
    assert.match(r.err, /Nothing was uploaded/);
    assert.equal((await status()).models.length, 0, 'no version was created');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('upload → status → deploy --wait → second version → rollback --wait', async () => {
  const up = await ferry('upload', LLAMA, `gs://${env.FERRY_BUCKET}/models/${model}/v1`, '--json');
  assert.equal(up.code, 0, up.err);
  assert.equal(JSON.parse(up.out).files, 9);
  await eventually('v1 valid', validVersion('v1'), (s) => s === 'valid');
  const s1 = await status();
  const v1 = s1.models[0]!.versions[0]!;
  assert.deepEqual([v1.version, v1.status, v1.validations, v1.parameters, v1.tensors, v1.tensorBytes], ['v1', 'valid', 1, 176576, 30, 353152]);

  const target = ['--cluster', 'local', '--namespace', 'ferry-cli', '--name', 'cli-llama', '--accelerator', 'nvidia-l4'];
  const d1 = await ferry('deploy', `${model}@latest`, ...target, '--progress-deadline', '60', '--wait', '--json');
  assert.equal(d1.code, 0, d1.err + d1.out);
  const r1 = JSON.parse(d1.out) as { id: string; phase: string; version: string };
  assert.deepEqual([r1.phase, r1.version], ['succeeded', 'v1'], 'latest resolves to the newest valid version');

  const up2 = await ferry('upload', LLAMA, `gs://${env.FERRY_BUCKET}/models/${model}/v2`);
  assert.equal(up2.code, 0, up2.err);
  await eventually('v2 valid', validVersion('v2'), (s) => s === 'valid');
  const d2 = await ferry('deploy', `${model}@v2`, ...target, '--progress-deadline', '60', '--wait', '--json');
  assert.equal(d2.code, 0, d2.err);
  assert.equal(JSON.parse(d2.out).version, 'v2');

  const rb = await ferry('rollback', '--cluster', 'local', '--namespace', 'ferry-cli', '--name', 'cli-llama', '--wait', '--json');
  assert.equal(rb.code, 0, rb.err + rb.out);
  const back = JSON.parse(rb.out) as { phase: string; version: string };
  assert.deepEqual([back.phase, back.version], ['succeeded', 'v1']);
  const rollouts = (await status()).models[0]!.rollouts as Array<{ phase: string }>;
  assert.equal(rollouts.length, 3);
  assert.ok(rollouts.every((r) => r.phase === 'succeeded'));
});

test('deploy errors: a bad request is refused before publishing; an unknown version is rejected and reported', async () => {
  const bad = await ferry('deploy', `${model}@v1`, '--cluster', 'nowhere', '--namespace', 'x', '--name', 'y', '--accelerator', 'nvidia-l4');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /cluster must be "local" or a GKE resource name/);
  const unknown = await ferry(
    'deploy',
    `${model}@v9`,
    '--cluster',
    'local',
    '--namespace',
    'ferry-cli',
    '--name',
    'nope',
    '--accelerator',
    'nvidia-l4',
    '--wait',
  );
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /rejected \(UNKNOWN_VERSION\)/);
  const rejected = (await status()).rejectedRequests as Array<{ reason: string }>;
  assert.ok(rejected.some((r) => r.reason === 'UNKNOWN_VERSION'));
  const usage = await ferry('deploy', 'no-at-sign');
  assert.equal(usage.code, 2);
  assert.equal((await ferry('deploy', `${model}@v1`, '--replicsa', '2')).code, 2, 'a misspelt flag is an error, not ignored');
});

test('autodeploy: set, list, remove', async () => {
  const set = await ferry('autodeploy', model, '--cluster', 'local', '--namespace', 'ferry-cli', '--name', 'auto', '--accelerator', 'nvidia-l4', '--json');
  assert.equal(set.code, 0, set.err);
  const list = await ferry('autodeploy', model, '--list', '--json');
  assert.equal(JSON.parse(list.out).targets.length, 1);
  assert.equal(
    (await ferry('autodeploy', model, '--remove', '--cluster', 'local', '--namespace', 'ferry-cli', '--name', 'auto', '--accelerator', 'nvidia-l4')).code,
    0,
  );
  assert.equal(JSON.parse((await ferry('autodeploy', model, '--list', '--json')).out).targets.length, 0);
  // Without --accelerator: each version is sized from its checkpoint by the deploy path.
  const sized = await ferry('autodeploy', model, '--cluster', 'local', '--namespace', 'ferry-cli', '--name', 'auto', '--json');
  assert.equal(sized.code, 0, sized.err);
  assert.deepEqual(JSON.parse(sized.out).targets, [{ cluster: 'local', namespace: 'ferry-cli', name: 'auto' }]);
  assert.equal((await ferry('autodeploy', model, '--remove', '--cluster', 'local', '--namespace', 'ferry-cli', '--name', 'auto')).code, 0);
  assert.equal(
    (await ferry('autodeploy', model, '--cluster', 'local', '--namespace', 'ferry-cli', '--name', 'auto', '--accelerator', 'nvidia-l5')).code,
    2,
    'an unknown accelerator is a usage error',
  );
});

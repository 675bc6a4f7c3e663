/**
 * The promotion gate on the local stack (issue #19), with the serving stand-in answering: the
 * deploy function asks the new pods the gate's prompts through the API server's pod proxy (as
 * ferry's own Kubernetes user, with the ferry-deployer role), and
 * - a version that answers as expected succeeds, its answers recorded as the baseline;
 * - the same bytes uploaded as another version answer the same (`sameAsPrevious` passes);
 * - a version whose tensor bytes were altered (headers intact, so it validates) answers
 *   differently, fails the gate (GateFailed) and is rolled back to the previous version, with the
 *   failing prompt recorded;
 * - a gate that cannot get its answers in time fails closed (GateTimeout).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, CoreV1Api, AppsV1Api } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { alteredCopy, uploadVersion } from '../helpers/upload-version.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { isTerminalPhase, type Rollout } from '../../shared/domain/rollout.ts';
import { ANNOTATIONS } from '../../shared/domain/rendered-spec.ts';
import type { DeployRequestInput } from '../../shared/domain/deploy-request.ts';
import type { GateInput } from '../../shared/domain/gate.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_DEPLOY_TOPIC',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
);
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const rollouts = new FirestoreRolloutState(db);
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
const topic = pubsub.topic(env.FERRY_DEPLOY_TOPIC, { batching: { maxMessages: 1 } });
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const model = uniqueName('gate');
const NS = 'ferry-gate-it';
const altered = alteredCopy('model-00003-of-00006.safetensors');

/** Eight words, then the same answer as the version before. */
const gate: GateInput = {
  prompts: [
    { name: 'words', prompt: 'The ferry crosses', maxTokens: 8, expect: { regex: '^( [a-z]+){8}$' }, sameAsPrevious: true },
    { name: 'chat', messages: [{ role: 'user', content: 'Where does the river go?' }], maxTokens: 6, sameAsPrevious: true },
  ],
  timeoutSeconds: 120,
};

const request = (name: string, version: string, over: Partial<DeployRequestInput> = {}): DeployRequestInput => ({
  apiVersion: 'ferry/v1',
  model,
  version,
  target: { cluster: 'local', namespace: NS, name },
  accelerator: { type: 'nvidia-l4', count: 1 },
  replicas: 1,
  progressDeadlineSeconds: 60,
  requestedBy: { source: 'pubsub', principal: 'integration-test' },
  gate,
  ...over,
});

const deploy = async (r: DeployRequestInput, timeoutMs = 240_000): Promise<Rollout> => {
  const messageId = await topic.publishMessage({ json: r });
  const id = await eventually(
    `message ${messageId} handled`,
    () => rollouts.rolloutIdForMessage(messageId),
    (x) => x !== null,
  );
  return eventually(
    `rollout ${id} finished`,
    () => rollouts.getRollout(id!),
    (x): x is Rollout => !!x && isTerminalPhase(x.phase),
    timeoutMs,
    300,
  );
};

const runningRollout = async (name: string): Promise<string | undefined> =>
  (await apps.readNamespacedDeployment({ namespace: NS, name })).spec?.template.metadata?.annotations?.[ANNOTATIONS.rolloutId];

before(async () => {
  await uploadVersion(env, model, 'v1');
  await uploadVersion(env, model, 'v2'); // the same bytes as v1
  await uploadVersion(env, model, 'v3', altered); // one tensor byte flipped
});
after(async () => {
  await pubsub.close();
  rmSync(altered, { recursive: true, force: true });
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
});

test('a version that answers as expected passes its gate; the same bytes as another version answer the same', async () => {
  const first = await deploy(request('llama-gate', 'v1'));
  assert.equal(first.phase, 'succeeded', `${first.reason}: ${first.message}`);
  assert.equal(first.reason, 'GatePassed');
  assert.deepEqual(
    first.history.map((h) => h.phase),
    ['pending', 'applying', 'progressing', 'verifying', 'succeeded'],
  );
  const v = first.verification!;
  assert.equal(v.verdict?.passed, true);
  assert.equal(v.baselineFrom, null, 'the first version has nothing to compare with');
  assert.deepEqual(
    v.verdict?.results.map((r) => [r.name, r.passed, r.baseline]),
    [
      ['words', true, 'none'],
      ['chat', true, 'none'],
    ],
  );
  assert.match(v.verdict!.results[0]!.actual!, /^( [a-z]+){8}$/);
  assert.equal(Object.keys(v.verdict!.answers).length, 2, 'both answers recorded as the baseline');
  assert.match(v.pods[0]!, /^llama-gate-/);
  assert.ok(v.firstAnswerAt && v.firstAnswerAt >= v.startedAt);

  const same = await deploy(request('llama-gate', 'v2'));
  assert.equal(same.phase, 'succeeded', `${same.reason}: ${same.message}`);
  assert.equal(same.verification?.baselineFrom, first.id);
  assert.deepEqual(
    same.verification?.verdict?.results.map((r) => [r.name, r.passed, r.baseline]),
    [
      ['words', true, 'compared'],
      ['chat', true, 'compared'],
    ],
  );
});

test('altered tensor bytes validate but answer differently: GateFailed, rolled back to the previous version', async () => {
  const before = await rollouts.listRollouts({ model, limit: 20 });
  const lastGood = before.find((r) => r.target.name === 'llama-gate' && r.phase === 'succeeded' && r.version === 'v2');
  assert.ok(lastGood, 'v2 runs on the target (previous test)');
  const bad = await deploy(request('llama-gate', 'v3'));
  assert.equal(bad.phase, 'rolled_back', `${bad.reason}: ${bad.message}`);
  const failed = bad.history.find((h) => h.phase === 'failed');
  assert.equal(failed?.reason, 'GateFailed');
  const verdict = bad.verification!.verdict!;
  assert.equal(verdict.passed, false);
  assert.equal(bad.verification!.baselineFrom, lastGood.id);
  const words = verdict.results.find((r) => r.name === 'words')!;
  assert.equal(words.passed, false);
  assert.equal(words.baseline, 'compared');
  assert.ok(
    words.failures.some((f) => /previous good version/.test(f)),
    JSON.stringify(words.failures),
  );
  assert.notEqual(words.actual, lastGood.verification!.verdict!.results[0]!.actual, 'the altered weights answer otherwise');
  // Back on v2's spec, for real.
  assert.equal(await runningRollout('llama-gate'), lastGood.id);
});

test('a gate that cannot get its answers within its timeout fails closed (GateTimeout)', async () => {
  // 16 prompts of 512 tokens: the stand-in generates at its modelled rate (200 tokens/s), so the
  // answers need about 40 s, far more than the gate's 10 s.
  const slow: GateInput = {
    prompts: Array.from({ length: 16 }, (_, i) => ({
      name: `long${i + 1}`,
      prompt: `Tell a long story number ${i + 1}`,
      maxTokens: 512,
      sameAsPrevious: true,
    })),
    timeoutSeconds: 10,
  };
  const r = await deploy(request('llama-gate-slow', 'v1', { gate: slow }));
  assert.equal(r.phase, 'failed', `${r.reason}: ${r.message}`);
  assert.equal(r.reason, 'GateTimeout');
  assert.match(r.message, /no gate verdict within 10s/);
  assert.equal(r.verification?.verdict, null, 'a gate never passes by default');
  assert.ok((r.verification?.attempts ?? 0) >= 1);
  // No previous good version on this target: scaled to zero, nothing left serving unverified.
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'llama-gate-slow' });
  assert.equal(d.spec?.replicas, 0);
});

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
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { deployAndFinish } from '../helpers/deploy-wait.ts';
import { alteredCopy, uploadVersion, LLAMA_DIR } from '../helpers/upload-version.ts';
import { freshShell } from '../helpers/fresh-shell.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import type { Rollout } from '../../shared/domain/rollout.ts';
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
  'FERRY_TEST_LOCAL_ENV',
);
const ferry = freshShell(env.FERRY_TEST_LOCAL_ENV, { timeoutMs: 120_000 });
/** What the Run:ai streamer reads: every byte of every shard file (docs/UPSTREAM.md CS2). */
const SHARD_BYTES = readdirSync(LLAMA_DIR)
  .filter((f) => f.endsWith('.safetensors'))
  .reduce((n, f) => n + statSync(join(LLAMA_DIR, f)).size, 0);
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
/** Targets of this run (a target keeps its last good rollout across runs on one stack). */
const TARGET = uniqueName('llama-gate');
const SLOW_TARGET = uniqueName('llama-gate-slow');
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

const deploy = (r: DeployRequestInput, timeoutMs = 240_000): Promise<Rollout> => deployAndFinish(topic, rollouts, r, timeoutMs);

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
  const first = await deploy(request(TARGET, 'v1'));
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

  // Cold start: predicted at admission, measured from the pod's own log lines, then its first answer.
  const cold = first.coldStart!;
  assert.equal(cold.predicted?.source, 'bucket');
  assert.equal(cold.predicted?.bytes, SHARD_BYTES);
  assert.equal(cold.pods.length, 1);
  const pod = cold.pods[0]!;
  assert.equal(pod.load?.source, 'runai-streamer');
  // The streamer prints the size with one decimal of its unit (KiB here): within that rounding.
  assert.ok(Math.abs(pod.load!.bytes! - SHARD_BYTES) <= 0.05 * 1024, `${pod.load!.bytes} vs ${SHARD_BYTES} bytes`);
  assert.equal(cold.measured?.pod, pod.pod);
  const steps = [pod.scheduledAt, pod.startedAt, pod.loadedAt, pod.readyAt, pod.firstAnswerAt];
  assert.ok(
    steps.every((t) => t !== null),
    JSON.stringify(pod),
  );
  // Kubernetes times have whole seconds; the log line and the answer have milliseconds.
  const secs = steps.map((t) => Math.floor(Date.parse(t!) / 1000));
  assert.deepEqual([...secs].sort(), secs, `scheduled ≤ started ≤ loaded ≤ Ready ≤ first answer: ${steps.join(' ')}`);
  assert.match(pod.zone ?? '', /^[a-z]+-[a-z]+\d-[a-z]$/);

  // What a newcomer sees: the verdict and the load under the rollout in `ferry status`.
  const status = await ferry('status', model);
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, new RegExp(`rollout ${first.id}: succeeded v1 .*\\(GatePassed\\)\\n    gate passed 2/2 on llama-gate-`));
  assert.match(status.out, /\n {4}load: loaded \d+\.\d KiB in \d+\.\d s \([\d.]+ GiB\/s; predicted \d+\.\d s from the bucket\)\n/);

  const same = await deploy(request(TARGET, 'v2'));
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
  const lastGood = before.find((r) => r.target.name === TARGET && r.phase === 'succeeded' && r.version === 'v2');
  assert.ok(lastGood, 'v2 runs on the target (previous test)');
  const bad = await deploy(request(TARGET, 'v3'));
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
  assert.equal(await runningRollout(TARGET), lastGood.id);
  const status = await ferry('status', model, '-o', 'json');
  assert.equal(status.code, 0, status.err);
  const shown = (
    JSON.parse(status.out) as { models: Array<{ rollouts: Array<{ id: string; verification: typeof bad.verification }> }> }
  ).models[0]!.rollouts.find((x) => x.id === bad.id);
  assert.deepEqual(shown?.verification, bad.verification, '--json carries every prompt, expected and actual');
  const text = await ferry('status', model);
  assert.match(
    text.out,
    new RegExp(
      `rollout ${bad.id}: rolled_back v3 .*\\n    gate failed \\d/2 \\(threshold 100%\\) on llama-gate-[^\\n]*\\n      ✗ words: differs from the previous good version`,
    ),
  );
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
  const r = await deploy(request(SLOW_TARGET, 'v1', { gate: slow }));
  assert.equal(r.phase, 'failed', `${r.reason}: ${r.message}`);
  assert.equal(r.reason, 'GateTimeout');
  assert.match(r.message, /no gate verdict within 10s/);
  assert.equal(r.verification?.verdict, null, 'a gate never passes by default');
  assert.ok((r.verification?.attempts ?? 0) >= 1);
  // No previous good version on this target: scaled to zero, nothing left serving unverified.
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: SLOW_TARGET });
  assert.equal(d.spec?.replicas, 0);
});

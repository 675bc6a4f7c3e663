/**
 * Deploy requests → rollouts, end to end on the local stack: messages published to the deploy
 * topic reach onDeployRequest by push subscription; rollouts are applied with server-side apply to
 * the real kube-apiserver, whose controllers and scheduler run them on simulated GPU nodes; the
 * scheduled reconcileRollouts (ticking every 2 s here) watches them to the end.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { finishedRollout, rolloutForMessage } from '../helpers/deploy-wait.ts';
import { uploadVersion as uploadReferenceVersion } from '../helpers/upload-version.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { FirestorePolicyStore } from '../../shared/adapters/firestore-policy.ts';
import { clusterProvider } from '../../shared/adapters/kubernetes.ts';
import { PubSubPublisher, pubsubClient } from '../../shared/adapters/pubsub.ts';
import { handleDeployRequest, type RolloutDeps } from '../../shared/app/rollouts.ts';
import { memoryLogger } from '../../shared/adapters/logging.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import { isTerminalPhase } from '../../shared/domain/rollout.ts';
import type { DeployRequestInput } from '../../shared/domain/deploy-request.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_DEPLOY_TOPIC',
  'KUBECONFIG',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
  'FERRY_POLICY_DATABASE',
);
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const versions = new FirestoreCheckpointState(db);
const rollouts = new FirestoreRolloutState(db);
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
const topic = pubsub.topic(env.FERRY_DEPLOY_TOPIC, { batching: { maxMessages: 1 } });
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const apps = admin.makeApiClient(AppsV1Api);
const core = admin.makeApiClient(CoreV1Api);
const model = uniqueName('roll');
const NS = 'ferry-it';

const uploadVersion = (version: string) => uploadReferenceVersion(env, model, version);

const request = (name: string, over: Partial<DeployRequestInput> = {}): DeployRequestInput => ({
  apiVersion: 'ferry/v1',
  model,
  version: 'v1',
  target: { cluster: 'local', namespace: NS, name },
  accelerator: { type: 'nvidia-l4', count: 1 },
  replicas: 1,
  progressDeadlineSeconds: 60,
  requestedBy: { source: 'pubsub', principal: 'integration-test' },
  ...over,
});

const publish = (r: unknown) => topic.publishMessage({ json: r });
const rolloutOf = (messageId: string) => rolloutForMessage(rollouts, messageId);
const finished = (id: string, timeoutMs = 150_000) => finishedRollout(rollouts, id, timeoutMs);

before(async () => {
  await uploadVersion('v1');
  await uploadVersion('v2');
});
after(async () => {
  await pubsub.close();
  // Free the simulated GPUs for the test files that run after this one.
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
});

test('a deploy request rolls out vLLM with streamed loading to Ready on a simulated GPU node', async () => {
  const messageId = await publish(request('llama-ok'));
  const id = await rolloutOf(messageId);
  const r = await finished(id);
  assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);
  assert.deepEqual(
    r.history.map((h) => h.phase),
    ['pending', 'applying', 'progressing', 'succeeded'],
  );
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'llama-ok' });
  assert.equal(d.status?.availableReplicas, 1);
  const c = d.spec!.template.spec!.containers[0]!;
  assert.deepEqual(c.command, ['vllm', 'serve']);
  assert.ok(c.args?.includes('--load-format=runai_streamer'), JSON.stringify(c.args));
  assert.equal(c.args?.[0], `gs://${env.FERRY_BUCKET}/models/${model}/v1`, JSON.stringify(c.args));
  assert.equal(d.metadata?.annotations?.['ferry.dev/rollout-id'], id);
  assert.equal(d.spec!.template.metadata?.annotations?.['ferry.dev/rollout-id'], id);
  const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app.kubernetes.io/instance=llama-ok' });
  const running = pods.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
  assert.equal(running.length, 1);
  const node = await core.readNode({ name: running[0]!.spec!.nodeName! });
  assert.equal(node.metadata?.labels?.['cloud.google.com/gke-accelerator'], 'nvidia-l4');
  const managed = (d.metadata?.managedFields ?? []).map((f) => f.manager);
  assert.ok(managed.includes('ferry'), `server-side applied by ferry: ${managed.join(',')}`);
  await core.readNamespacedService({ namespace: NS, name: 'llama-ok' });
});

test('a failing image is rolled back to the previous good version', async () => {
  const good = await finished(await rolloutOf(await publish(request('llama-rb'))));
  assert.equal(good.phase, 'succeeded');
  const badId = await rolloutOf(await publish(request('llama-rb', { version: 'v2', image: 'vllm/vllm-openai:fail-crash' })));
  const bad = await finished(badId, 240_000);
  assert.equal(bad.phase, 'rolled_back', `${bad.reason}: ${bad.message}`);
  assert.ok(
    bad.history.some((h) => h.phase === 'failed'),
    JSON.stringify(bad.history),
  );
  assert.equal(bad.previousGoodRolloutId, good.id);
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'llama-rb' });
  assert.equal(d.spec!.template.metadata?.annotations?.['ferry.dev/rollout-id'], good.id, 'the previous spec is back');
  assert.match(d.spec!.template.spec!.containers[0]!.image!, /^vllm\/vllm-openai:v/);
  await eventually(
    'previous version available again',
    () => apps.readNamespacedDeployment({ namespace: NS, name: 'llama-rb' }),
    (x) => x.status?.availableReplicas === 1 && (x.status?.updatedReplicas ?? 0) >= 1,
  );
  const target = await rollouts.getTarget({ cluster: 'local', namespace: NS, name: 'llama-rb' });
  assert.equal(target?.lastGood?.rolloutId, good.id);
  assert.equal(target?.activeRolloutId, null);
});

test('a failing first deploy with nothing to roll back to is scaled to zero and ends failed', async () => {
  const id = await rolloutOf(await publish(request('llama-first-fail', { image: 'vllm/vllm-openai:fail-first' })));
  const r = await finished(id, 240_000);
  assert.equal(r.phase, 'failed');
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'llama-first-fail' });
  assert.equal(d.spec?.replicas, 0);
});

test('duplicate messages start one rollout: same message id, same idempotency key, same spec', async () => {
  const req = request('llama-dup', { idempotencyKey: uniqueName('key') });
  const [m1, m2] = await Promise.all([publish(req), publish(req)]);
  const [id1, id2] = await Promise.all([rolloutOf(m1), rolloutOf(m2)]);
  assert.equal(id1, id2, 'the second message points at the first rollout');
  await finished(id1);
  // The same spec again, without a key: already on the target, so no new rollout.
  const m3 = await publish(request('llama-dup'));
  assert.equal(await rolloutOf(m3), id1);
  // The same message id delivered twice to the function (as Pub/Sub may): one record, no new rollout.
  const all = await rollouts.listRollouts({ targetKey: 'local~ferry-it~llama-dup' });
  assert.equal(all.length, 1, all.map((r) => r.id).join(','));
});

test('20 concurrent requests for 3 targets are serialized per target and none is lost', async () => {
  const names = ['llama-c0', 'llama-c1', 'llama-c2'];
  // One GPU each (the simulated nodes have 8 L4s in all): specs differ by version and vLLM flags.
  const reqs = Array.from({ length: 20 }, (_, i) =>
    request(names[i % 3]!, { version: i % 2 ? 'v1' : 'v2', vllmArgs: [`--max-num-seqs=${8 * (1 + (i % 5))}`] }),
  );
  const ids = await Promise.all(reqs.map((r) => publish(r)));
  const handled = await Promise.all(ids.map((m) => rolloutOf(m)));
  assert.equal(handled.length, 20, 'every message was handled');
  for (const name of names) {
    const key = `local~${NS}~${name}`;
    const all = await eventually(
      `${name} settled`,
      () => rollouts.listRollouts({ targetKey: key }),
      (rs) => rs.length > 0 && rs.every((r) => isTerminalPhase(r.phase)),
      240_000,
      500,
    );
    // Never two rollouts of one target in applying/progressing at the same time.
    const windows = all
      .filter((r) => r.history.some((h) => h.phase === 'applying'))
      .map((r) => [Date.parse(r.history.find((h) => h.phase === 'applying')!.at), Date.parse(r.history.at(-1)!.at)] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < windows.length; i++) assert.ok(windows[i]![0] >= windows[i - 1]![1], `${name}: overlapping rollouts`);
    assert.ok(
      all.every((r) => ['succeeded', 'superseded'].includes(r.phase)),
      all.map((r) => `${r.id}:${r.phase}:${r.reason}`).join(' '),
    );
    const target = await rollouts.getTarget({ cluster: 'local', namespace: NS, name });
    assert.equal(target?.activeRolloutId, null);
    assert.equal(target?.queuedRolloutId, null);
  }
});

test('a crash between steps is finished by the scheduled reconciler', async () => {
  // A worker that applies the manifest and then dies before saving the step.
  const store = new FirestoreRolloutState(db);
  let crashed = 0;
  const crashing = Object.assign(Object.create(store) as FirestoreRolloutState, {
    saveStep: async () => {
      crashed++;
      throw Object.assign(new Error('worker crashed before saving'), { code: 14 });
    },
  });
  const deps: RolloutDeps = {
    rollouts: crashing,
    // The policy's own database (FERRY_POLICY_DATABASE), as the functions open it.
    policy: new FirestorePolicyStore(firestoreClient(env.GOOGLE_CLOUD_PROJECT, env.FERRY_POLICY_DATABASE)),
    versions,
    clusters: clusterProvider({ localKubeconfig: env.KUBECONFIG }),
    publisher: new PubSubPublisher(pubsubClient(env.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: memoryLogger(),
    config: {},
  };
  const messageId = uniqueName('crash-msg');
  const out = await handleDeployRequest({ data: Buffer.from(JSON.stringify(request('llama-crash'))), messageId, publishTime: new Date().toISOString() }, deps);
  assert.equal(out.outcome, 'admitted');
  assert.ok(crashed >= 1, 'the worker crashed after acting');
  const id = out.outcome === 'admitted' ? out.rolloutId : '';
  assert.equal((await rollouts.getRollout(id))?.phase, 'pending', 'nothing was saved past admission');
  const r = await finished(id);
  assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);
});

test('bad requests are rejected with a reason code, recorded, and never crash the function', async () => {
  const cases: Array<[unknown, string]> = [
    ['not json {', 'NOT_JSON'],
    [[1, 2], 'NOT_OBJECT'],
    [{ ...request('x'), replicas: -1 }, 'SCHEMA'],
    [request('llama-nomodel', { model: 'no-such-model' }), 'UNKNOWN_MODEL'],
    [request('llama-nover', { version: 'v9' }), 'UNKNOWN_VERSION'],
    [{ ...request('x'), vllmArgs: ['--load-format=pt'] }, 'SCHEMA'],
    ['x'.repeat(70 * 1024), 'TOO_LARGE'],
  ];
  for (const [body, reason] of cases) {
    const messageId = await topic.publishMessage({ data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });
    const rej = await eventually(
      `rejection of ${reason}`,
      async () => (await rollouts.listRejected(undefined, 500)).find((r) => r.messageId === messageId),
      (x) => x !== undefined,
    );
    assert.equal(rej!.reason, reason, JSON.stringify(rej));
    assert.ok(rej!.message.length > 10);
    if (reason === 'SCHEMA') assert.ok(rej!.issues.length > 0);
  }
});

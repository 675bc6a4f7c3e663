/**
 * The serving stand-in on the local stack (issue #18): a version deployed through ferry's pipeline
 * streams every byte of its shards from the Storage emulator before /health turns 200, answers a
 * completion through the API server's Service proxy, exposes vLLM's metrics to ferry through the pod
 * proxy, and prints vLLM's and the Run:ai streamer's log lines through the pod log API; a flag vLLM
 * does not know crash-loops the pod and the rollout is rolled back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { deployAndFinish } from '../helpers/deploy-wait.ts';
import { uploadVersion as uploadReferenceVersion, LLAMA_DIR } from '../helpers/upload-version.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { clusterProvider } from '../../shared/adapters/kubernetes.ts';
import type { Rollout } from '../../shared/domain/rollout.ts';
import { parseVllmActivity } from '../../shared/domain/teardown-run.ts';
import type { DeployRequestInput } from '../../shared/domain/deploy-request.ts';
import { FirestoreTeardownStore } from '../../shared/adapters/firestore-teardown.ts';
import { recordTargetActivity } from '../../shared/app/target-activity.ts';
import { memoryLogger } from '../../shared/adapters/logging.ts';
import { systemClock } from '../../shared/ports/clock.ts';

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
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const rollouts = new FirestoreRolloutState(db);
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
const topic = pubsub.topic(env.FERRY_DEPLOY_TOPIC, { batching: { maxMessages: 1 } });
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const core = admin.makeApiClient(CoreV1Api);
const ferryKc = new KubeConfig();
ferryKc.loadFromFile(env.KUBECONFIG);
const ferryCore = ferryKc.makeApiClient(CoreV1Api);
const model = uniqueName('serve');
const NS = 'ferry-serve-it';
const SHARD_BYTES = readdirSync(LLAMA_DIR)
  .filter((f) => f.endsWith('.safetensors'))
  .reduce((n, f) => n + statSync(join(LLAMA_DIR, f)).size, 0);

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

const deploy = (r: DeployRequestInput, timeoutMs = 150_000): Promise<Rollout> => deployAndFinish(topic, rollouts, r, timeoutMs);

/** A request through the API server (as admin: ferry's role may only GET proxies). */
async function apiserver(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const server = admin.getCurrentCluster()!.server;
  const opts: Parameters<typeof httpsRequest>[1] = { method, headers: body === undefined ? {} : { 'content-type': 'application/json' } };
  await admin.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${server}${path}`, opts, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const podsOf = async (name: string) =>
  (await core.listNamespacedPod({ namespace: NS, labelSelector: `app.kubernetes.io/instance=${name}` })).items.filter((p) => !p.metadata?.deletionTimestamp);

before(async () => {
  await uploadReferenceVersion(env, model, 'v1');
});
after(async () => {
  await pubsub.close();
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
});

test('a deployed version streams every byte, then serves completions and metrics through the API server', async () => {
  const r = await deploy(request('llama-serve'));
  assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);
  const [pod] = (await podsOf('llama-serve')).filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  assert.ok(pod, 'a Ready pod');
  const podName = pod.metadata!.name!;
  assert.match(pod.status!.podIP!, /^10\.4\.\d+\.\d+$/, 'a pod IP the API server proxies to');

  // Logs through the pod log API, as ferry's user (kubectl logs).
  const logs = await ferryCore.readNamespacedPodLog({ namespace: NS, name: podName, container: 'vllm', timestamps: true });
  const streamed = /\[RunAI Streamer\] Overall time to stream (.+) of all files to cpu: ([\d.]+)s, (.+)\/s/.exec(logs);
  assert.ok(streamed, logs);
  const kib = (SHARD_BYTES / 1024).toFixed(1);
  assert.ok(streamed[1] === `${kib} KiB` || streamed[1]!.endsWith('MiB') || streamed[1]!.endsWith('Bytes'), `${streamed[1]} for ${SHARD_BYTES} bytes`);
  assert.match(logs, /Model loading took \d+\.\d{4} GiB and \d+\.\d{6} seconds/);
  // /health only answers once the load is done: the server starts after the streamer's last line.
  const lines = logs.split('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  assert.ok(at(/Overall time to stream/) < at(/Starting vLLM API server/), 'the server starts after the weights are streamed');
  const loadedAt = Date.parse(lines[at(/Model loading took/)]!.split(' ')[0]!);
  const readySince = Date.parse(String(pod.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime));
  assert.ok(readySince >= loadedAt - 1000, `Ready (${readySince}) after the load (${loadedAt})`);

  // A completion through the Service proxy; temperature 0 is deterministic.
  const prompt = { model: `gs://${env.FERRY_BUCKET}/models/${model}/v1`, prompt: 'The ferry crosses', max_tokens: 8, temperature: 0 };
  const path = `/api/v1/namespaces/${NS}/services/llama-serve:http/proxy/v1/completions`;
  const first = await eventually(
    'a completion through the Service proxy',
    () => apiserver('POST', path, prompt),
    (x) => x.status === 200,
  );
  const body = JSON.parse(first.text) as { object: string; choices: Array<{ text: string }>; usage: { completion_tokens: number } };
  assert.equal(body.object, 'text_completion');
  assert.equal(body.usage.completion_tokens, 8);
  assert.equal(body.choices[0]!.text.trim().split(' ').length, 8);
  const again = JSON.parse((await apiserver('POST', path, prompt)).text) as typeof body;
  assert.equal(again.choices[0]!.text, body.choices[0]!.text);
  const models = JSON.parse((await apiserver('GET', `/api/v1/namespaces/${NS}/services/llama-serve:http/proxy/v1/models`)).text) as {
    data: Array<{ id: string }>;
  };
  assert.deepEqual(
    models.data.map((m) => m.id),
    [prompt.model],
  );
  const unknown = await apiserver('POST', path, { ...prompt, model: 'nope' });
  assert.equal(unknown.status, 404);

  // ferry's own client reads /metrics through the pod proxy (what teardown's target activity does).
  const client = await clusterProvider({ localKubeconfig: env.KUBECONFIG }).get('local');
  const metrics = await client.podProxyGet!(NS, podName, 8000, '/metrics');
  assert.match(metrics, /^vllm:num_requests_running\{model_name="gs:\/\/[^"]+",engine="0"\} 0\.0$/m);
  assert.match(metrics, /^vllm:generation_tokens_total\{[^}]+\} 16\.0$/m);
  assert.deepEqual(parseVllmActivity(metrics), { requests: 2, busy: false });

  // Teardown's target activity reads the same counters through the API server.
  // Scoped to this file's targets: other files' targets keep the activity their own tests expect.
  const firestoreStore = new FirestoreTeardownStore(db);
  const store = Object.assign(Object.create(firestoreStore) as FirestoreTeardownStore, {
    listTargets: async () => (await firestoreStore.listTargets()).filter((t) => t.target.namespace === NS),
  });
  await recordTargetActivity({ store, clusters: clusterProvider({ localKubeconfig: env.KUBECONFIG }), clock: systemClock, logger: memoryLogger() });
  const activity = (await store.listActivity()).find((a) => a.target.namespace === NS && a.target.name === 'llama-serve');
  assert.ok(activity, 'activity recorded for the target');
  assert.equal(activity.source, 'metrics', activity.metricsError ?? '');
  assert.equal(activity.requests, 2);
  assert.equal(activity.metricsError, null);
});

// The policy (infra/local/policy.json) admits --max-model-len with any value, so the bad value reaches
// vLLM's parser (an unknown flag would be refused by the policy before any rollout).
test('a flag value vLLM refuses crash-loops the pod and the rollout is rolled back', async () => {
  const good = await deploy(request('llama-flag'));
  assert.equal(good.phase, 'succeeded', `${good.reason}: ${good.message}`);
  const bad = await deploy(request('llama-flag', { vllmArgs: ['--max-model-len=not-a-number'] }), 240_000);
  assert.equal(bad.phase, 'rolled_back', `${bad.reason}: ${bad.message}`);
  assert.ok(
    bad.history.some((h) => h.phase === 'failed'),
    JSON.stringify(bad.history),
  );
});

test('the crash-looping container says why, through the pod log API', async () => {
  await deploy(request('llama-flag2'));
  // Applied directly (no rollback), so the broken pod stays to be read.
  const { AppsV1Api, PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
  const apps = admin.makeApiClient(AppsV1Api);
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'llama-flag2' });
  const c = d.spec!.template.spec!.containers[0]!;
  await apps.patchNamespacedDeployment(
    {
      namespace: NS,
      name: 'llama-flag2',
      body: { spec: { template: { spec: { containers: [{ name: c.name, args: [...(c.args ?? []), '--tensor-parallel-size=two'] }] } } } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  const crashing = await eventually(
    'a crash-looping pod',
    () => podsOf('llama-flag2'),
    (ps) =>
      ps.some((p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 && p.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode === 2),
    90_000,
  );
  const pod = crashing.find((p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1)!;
  const previous = await ferryCore.readNamespacedPodLog({ namespace: NS, name: pod.metadata!.name!, container: 'vllm', previous: true });
  assert.match(previous, /vllm serve: error: argument --tensor-parallel-size\/-tp: invalid int value: 'two'/);
});

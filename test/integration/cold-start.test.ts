/**
 * Cold-start telemetry on the local stack (issue #19): ferry's Kubernetes adapter reads a real
 * streamed load's log through the kube-apiserver's pod log API (the simulated kubelet serves
 * `/containerLogs`), and the parsed figures match the checkpoint's bytes; the Firestore adapter reads
 * a model's recent measured load rates from rollout documents (shared/domain/cold-start.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { deployAndFinish } from '../helpers/deploy-wait.ts';
import { uploadVersion, LLAMA_DIR } from '../helpers/upload-version.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { clusterProvider } from '../../shared/adapters/kubernetes.ts';
import type { DeployRequestInput } from '../../shared/domain/deploy-request.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';
import { FerryError } from '../../shared/domain/errors.ts';
import {
  loadedAt,
  nodeZone,
  parseLoadLines,
  podColdStart,
  podTimeline,
  streamedBytes,
  summarizeColdStarts,
  predictLoad,
  describeColdStart,
} from '../../shared/domain/cold-start.ts';
import { naturalsizeBinary } from '../../infra/local/vllm-sim/listing.ts';

const skip = !process.env['FERRY_TEST_STACK']
  ? 'needs the local stack: run it through `npm test` (or set FERRY_TEST_STACK=1 with the env of a running `npm start`)'
  : false;
const env = skip
  ? ({} as Record<string, string>)
  : stackEnv(
      'GOOGLE_CLOUD_PROJECT',
      'STORAGE_EMULATOR_HOST',
      'FIRESTORE_EMULATOR_HOST',
      'PUBSUB_EMULATOR_HOST',
      'FERRY_BUCKET',
      'FERRY_DEPLOY_TOPIC',
      'KUBECONFIG',
      'FERRY_KUBE_ADMIN_KUBECONFIG',
    );
const model = uniqueName('coldstart');
const NS = 'ferry-coldstart-it';
const SHARD_BYTES = readdirSync(LLAMA_DIR)
  .filter((f) => f.endsWith('.safetensors'))
  .reduce((n, f) => n + statSync(join(LLAMA_DIR, f)).size, 0);

let pubsub: PubSub | undefined;
let version: VersionDoc | undefined;
const admin = new KubeConfig();

before(async () => {
  if (skip) return;
  admin.loadFromFile(env['FERRY_KUBE_ADMIN_KUBECONFIG']!);
  pubsub = new PubSub({ projectId: env['GOOGLE_CLOUD_PROJECT']! });
});
after(async () => {
  if (skip) return;
  await pubsub?.close();
  await admin
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name: NS })
    .catch(() => undefined);
});

test('a streamed load read through the pod log API by ferry parses to the checkpoint bytes', { skip }, async () => {
  version = await uploadVersion(env, model, 'v1');
  const db = firestoreClient(env['GOOGLE_CLOUD_PROJECT']!);
  const rollouts = new FirestoreRolloutState(db);
  const request: DeployRequestInput = {
    apiVersion: 'ferry/v1',
    model,
    version: 'v1',
    target: { cluster: 'local', namespace: NS, name: 'llama-cold' },
    replicas: 1,
    progressDeadlineSeconds: 60,
    requestedBy: { source: 'pubsub', principal: 'integration-test' },
  };
  const r = await deployAndFinish(pubsub!.topic(env['FERRY_DEPLOY_TOPIC']!, { batching: { maxMessages: 1 } }), rollouts, request);
  assert.equal(r.phase, 'succeeded', `${r.reason}: ${r.message}`);

  const client = await clusterProvider({ localKubeconfig: env['KUBECONFIG']! }).get('local');
  const pods = (await client.listPods(NS, 'app.kubernetes.io/instance=llama-cold')).filter((p) =>
    p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  const pod = pods[0];
  assert.ok(pod, 'a Ready pod');
  const name = pod.metadata!.name!;

  // As ferry's own identity (the ferry-deployer role: `get` on pods/log, infra/gke-rbac-rules.json).
  const log = await client.readPodLog!(NS, name, { container: 'vllm', timestamps: true });
  const load = parseLoadLines(log);
  assert.ok(load, log);
  assert.equal(load.source, 'runai-streamer');
  assert.equal(load.parserFor, 'v0.11.2');
  // The checkpoint's streamed bytes: every byte of each shard (headers + tensors), as validation recorded them.
  const expected = streamedBytes(version.summary);
  assert.equal(expected, SHARD_BYTES, 'the version records the shards the stand-in streams');
  // The line prints naturalsize (one decimal of its unit): the same text, and within its rounding.
  assert.match(load.line, new RegExp(`Overall time to stream ${naturalsizeBinary(SHARD_BYTES).replace('.', '\\.')} of all files to cpu`));
  assert.ok(Math.abs(load.bytes! - SHARD_BYTES) <= 0.05 * 1024, `${load.bytes} ≈ ${SHARD_BYTES}`);
  assert.ok(load.seconds > 0);
  assert.ok(load.gibPerSecond! > 0);

  // The timeline: scheduled ≤ started ≤ loaded ≤ Ready, the load's time from the kubelet's stamp.
  const t = podTimeline(pod);
  assert.ok(load.at, 'timestamps=true stamps the line');
  const loaded = loadedAt(load, t.startedAt);
  const ms = (x: string | null) => Date.parse(x ?? 'NaN');
  assert.ok(ms(t.scheduledAt) <= ms(t.startedAt) + 1000, `${t.scheduledAt} ≤ ${t.startedAt}`);
  assert.ok(ms(t.startedAt) <= ms(loaded), `${t.startedAt} ≤ ${loaded}`);
  // Ready's lastTransitionTime has whole seconds (metav1.Time): allow the truncation.
  assert.ok(ms(loaded) <= ms(t.readyAt) + 1000, `${loaded} ≤ ${t.readyAt}`);

  // The record the rollout stores for this pod: its node's zone from the simulated node's labels.
  const node = (await client.listNodes()).find((n) => n.metadata?.name === pod.spec?.nodeName);
  const record = podColdStart(pod, log, nodeZone(node));
  assert.match(record.zone ?? '', /^us-central1-[ab]$/);
  assert.equal(record.loadedAt, loaded);
  const summary = summarizeColdStarts([record], predictLoad(expected!, 'bucket'));
  assert.equal(summary.measured?.bytes, load.bytes);
  assert.match(describeColdStart(summary), /^loaded \d+\.\d KiB in \d+\.\d s \(\d+\.\d+ GiB\/s; predicted 0\.0 s from the bucket\)$/);

  // limitBytes is honoured; a pod that is not there is CLUSTER_NOT_FOUND.
  const head = await client.readPodLog!(NS, name, { container: 'vllm', limitBytes: 64 });
  assert.ok(Buffer.byteLength(head) <= 64 && head.length > 0, JSON.stringify(head));
  await assert.rejects(client.readPodLog!(NS, 'no-such-pod', { container: 'vllm' }), (e: unknown) => e instanceof FerryError && e.code === 'CLUSTER_NOT_FOUND');
});

test("recentLoadRates: the model's newest succeeded rollouts' measured rates, skipping the rest", { skip }, async () => {
  const db = firestoreClient(env['GOOGLE_CLOUD_PROJECT']!);
  const rollouts = new FirestoreRolloutState(db);
  const m = uniqueName('rates');
  const measured = (gibPerSecond: number | null) => ({
    pods: [],
    predicted: null,
    measured: gibPerSecond === null ? null : { seconds: 10, bytes: null, gibPerSecond },
  });
  // Written directly: only the fields the query reads matter here.
  const docs: Array<{ id: string; model: string; phase: string; createdAt: string; coldStart?: unknown }> = [
    { id: 'a', model: m, phase: 'succeeded', createdAt: '2026-12-01T00:00:00.000Z', coldStart: measured(1.0) },
    { id: 'b', model: m, phase: 'succeeded', createdAt: '2026-12-02T00:00:00.000Z', coldStart: measured(1.1) },
    { id: 'c', model: m, phase: 'failed', createdAt: '2026-12-03T00:00:00.000Z', coldStart: measured(0.1) },
    { id: 'd', model: m, phase: 'succeeded', createdAt: '2026-12-04T00:00:00.000Z' },
    { id: 'e', model: m, phase: 'succeeded', createdAt: '2026-12-05T00:00:00.000Z', coldStart: measured(null) },
    { id: 'f', model: m, phase: 'succeeded', createdAt: '2026-12-06T00:00:00.000Z', coldStart: measured(1.2) },
    { id: 'g', model: `${m}-other`, phase: 'succeeded', createdAt: '2026-12-07T00:00:00.000Z', coldStart: measured(9) },
  ];
  await Promise.all(docs.map(({ id, ...d }) => db.collection('rollouts').doc(`${m}-${id}`).set(d)));
  try {
    assert.deepEqual(await rollouts.recentLoadRates(m, 10), [1.2, 1.1, 1.0]);
    assert.deepEqual(await rollouts.recentLoadRates(m, 2), [1.2, 1.1]);
    assert.deepEqual(await rollouts.recentLoadRates(m, 0), []);
    assert.deepEqual(await rollouts.recentLoadRates(`${m}-none`, 5), []);
  } finally {
    await Promise.all(docs.map(({ id }) => db.collection('rollouts').doc(`${m}-${id}`).delete()));
  }
});

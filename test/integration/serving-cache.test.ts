/**
 * The serving stand-in's zonal cache on the local stack (issue #18, docs/serving-sim.md "Time"): a
 * deploy with `cache.mode: all-zones` creates, through ferry's own cache path, an Anywhere Cache in
 * each zone of the pool (us-central1-a and -b) on the stack's Storage Control server; each simulated
 * vLLM pod then asks that server (real client, gRPC) for the cache of its node's zone and reads through
 * it. With admit-on-first-miss, a load in a zone where an earlier load read the same objects comes
 * from the cache; the first load in a zone comes from the bucket and fills it. Three deploys, one
 * after the other, on two zones: at least two land in the same zone, so at least one load is a hit.
 * Byte counts are read from the stand-in's own log line through the pod log API; no time is asserted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { deployAndFinish } from '../helpers/deploy-wait.ts';
import { uploadVersion as uploadReferenceVersion, LLAMA_DIR } from '../helpers/upload-version.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { StorageControlCacheControl } from '../../shared/adapters/storage-control.ts';
import { storageControlAdmin } from '../../infra/local/storage-control-grpc-server.ts';
import type { Rollout } from '../../shared/domain/rollout.ts';
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
  'FERRY_STORAGE_CONTROL_API_ENDPOINT',
  'FERRY_STORAGE_CONTROL_ADMIN_HOST',
);
const BUCKET = env.FERRY_BUCKET;
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const rollouts = new FirestoreRolloutState(db);
const control = new StorageControlCacheControl({ apiEndpoint: env.FERRY_STORAGE_CONTROL_API_ENDPOINT, projectId: env.GOOGLE_CLOUD_PROJECT });
const fake = storageControlAdmin(env.FERRY_STORAGE_CONTROL_ADMIN_HOST);
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
const topic = pubsub.topic(env.FERRY_DEPLOY_TOPIC, { batching: { maxMessages: 1 } });
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const core = admin.makeApiClient(CoreV1Api);
const ferryKc = new KubeConfig();
ferryKc.loadFromFile(env.KUBECONFIG);
const ferryCore = ferryKc.makeApiClient(CoreV1Api);
const model = uniqueName('cached');
const NS = 'ferry-serve-cache-it';
const SHARD_BYTES = readdirSync(LLAMA_DIR)
  .filter((f) => f.endsWith('.safetensors'))
  .reduce((n, f) => n + statSync(join(LLAMA_DIR, f)).size, 0);

const request = (name: string): DeployRequestInput => ({
  apiVersion: 'ferry/v1',
  model,
  version: 'v1',
  target: { cluster: 'local', namespace: NS, name },
  accelerator: { type: 'nvidia-l4', count: 1 },
  replicas: 1,
  progressDeadlineSeconds: 60,
  requestedBy: { source: 'pubsub', principal: 'serving-cache-test' },
  cache: { mode: 'all-zones', admissionPolicy: 'admit-on-first-miss' },
});

const deploy = (r: DeployRequestInput): Promise<Rollout> => deployAndFinish(topic, rollouts, r);

/** No caches of the bucket, in the Storage Control server and in Firestore (as caches.test.ts does). */
async function resetCaches(): Promise<void> {
  await fake.reset(BUCKET);
  const snap = await db.collection('caches').where('bucket', '==', BUCKET).get();
  await Promise.all(snap.docs.map((d) => d.ref.delete()));
}

interface LoadLine {
  zone: string;
  cacheState: string;
  cacheBytes: number;
  bucketBytes: number;
  ingestedBytes: number;
}

/** The stand-in's own line (not vLLM's): `[ferry vllm-sim] simulated load sources: …`. */
function loadLine(logs: string): LoadLine | null {
  const m = /\[ferry vllm-sim\] simulated load sources: zone=(\S+) cache=(\S+) cache_bytes=(\d+) bucket_bytes=(\d+) ingested_bytes=(\d+)/.exec(logs);
  return m ? { zone: m[1]!, cacheState: m[2]!, cacheBytes: Number(m[3]), bucketBytes: Number(m[4]), ingestedBytes: Number(m[5]) } : null;
}

before(async () => {
  await resetCaches();
  await uploadReferenceVersion(env, model, 'v1');
});
after(async () => {
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
  await resetCaches().catch(() => undefined);
  await control.close();
  await pubsub.close();
});

test('a second load in a zone whose cache holds the weights reads them from the cache, not the bucket', async () => {
  const loads: LoadLine[] = [];
  for (const name of ['cached-1', 'cached-2', 'cached-3']) {
    const r = await deploy(request(name));
    assert.equal(r.phase, 'succeeded', `${name}: ${r.reason}: ${r.message}`);
    const pods = (await core.listNamespacedPod({ namespace: NS, labelSelector: `app.kubernetes.io/instance=${name}` })).items.filter(
      (p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    assert.equal(pods.length, 1, `one Ready pod for ${name}`);
    const pod = pods[0]!;
    const node = await core.readNode({ name: pod.spec!.nodeName! });
    const zone = node.metadata!.labels!['topology.kubernetes.io/zone']!;
    // Through the pod log API, as ferry's user (kubectl logs).
    const logs = await ferryCore.readNamespacedPodLog({ namespace: NS, name: pod.metadata!.name!, container: 'vllm' });
    const line = loadLine(logs);
    assert.ok(line, logs);
    assert.equal(line.zone, zone, 'the pod read through the cache of its node’s zone');
    assert.equal(line.cacheState, 'RUNNING', 'ferry created a cache in every zone of the pool before applying');
    assert.equal(line.cacheBytes + line.bucketBytes, SHARD_BYTES, 'every shard byte from one source or the other');
    const earlierInZone = loads.some((l) => l.zone === zone);
    if (earlierInZone) {
      // admit-on-first-miss: the earlier load in this zone ingested every object.
      assert.deepEqual([line.cacheBytes, line.bucketBytes, line.ingestedBytes], [SHARD_BYTES, 0, 0], `${name} in ${zone}: a hit`);
    } else {
      assert.deepEqual(
        [line.cacheBytes, line.bucketBytes, line.ingestedBytes],
        [0, SHARD_BYTES, SHARD_BYTES],
        `${name} in ${zone}: first load, a miss that fills`,
      );
    }
    loads.push(line);
    // The streamer's summary line is still there, with the load's effective rate.
    assert.match(logs, /\[RunAI Streamer\] Overall time to stream .+ of all files to cpu: [\d.]+s, .+\/s/);
  }
  assert.ok(
    loads.some((l) => l.cacheBytes === SHARD_BYTES),
    `three loads over two zones: at least one from the cache (${JSON.stringify(loads)})`,
  );
});

/**
 * The serving profile's extra objects, applied for real: a deploy request with autoscaling and a
 * Spot→flex-start capacity class renders a ComputeClass, a PodMonitoring and an HPA next to the
 * Deployment and Service; the `ferry` user (least-privilege RBAC) server-side applies them with the
 * generic applyObject against the local kube-apiserver 1.20 (minimal PodMonitoring/ComputeClass CRDs
 * installed by infra/local/kube.ts; the autoscaling/v2 HPA goes in as v2beta2, which 1.20 serves),
 * and the admin reads them back. Then: re-applying is a no-op, a profile change updates the HPA,
 * turning autoscaling off prunes the stale objects, and kinds the cluster does not serve are
 * CLUSTER_API_MISSING. A TPU Deployment is accepted too (it stays Pending: no TPU nodes).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig, CoreV1Api, AppsV1Api, KubernetesObjectApi, ApiException } from '@kubernetes/client-node';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { clusterProvider } from '../../shared/adapters/kubernetes.ts';
import { DeployRequest, type DeployRequestInput } from '../../shared/domain/deploy-request.ts';
import { render, type KubeObject } from '../../shared/domain/render.ts';
import { objectsToApply, staleObjects, type Rendered } from '../../shared/domain/rendered-spec.ts';
import { isFerryError } from '../../shared/domain/errors.ts';
import type { ClusterClient } from '../../shared/ports/cluster.ts';

const env = stackEnv('KUBECONFIG', 'FERRY_KUBE_ADMIN_KUBECONFIG');
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const adminObjects = KubernetesObjectApi.makeApiClient(admin);
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const NS = uniqueName('ferry-sp');
const GiB = 1024 ** 3;
let cluster: ClusterClient;

const request = (over: Partial<DeployRequestInput> = {}): DeployRequest =>
  DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'llama',
    version: 'v1',
    target: { cluster: 'local', namespace: NS, name: 'llama' },
    accelerator: { type: 'nvidia-l4', count: 1 },
    requestedBy: { source: 'cli', principal: 'integration-test' },
    ...over,
  });
const rendered = (req: DeployRequest, rolloutId = 'r-sp-1'): Rendered =>
  render({
    request: req,
    rolloutId,
    bucket: 'ferry-test-models',
    checkpoint: { uri: `gs://ferry-test-models/models/${req.model}/${req.version}`, tensorBytes: 16 * GiB, digest: 'sha256:abc', shards: 4 },
  });

/** What the rollout engine will do with a spec: namespace first, then every object in apply order. */
async function applyAll(spec: Rendered): Promise<KubeObject[]> {
  await cluster.ensureNamespace(NS);
  const live: KubeObject[] = [];
  for (const obj of objectsToApply(spec)) live.push(await cluster.applyObject(obj));
  return live;
}

const read = (apiVersion: string, kind: string, name: string, namespace?: string) =>
  adminObjects.read({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } }) as Promise<KubeObject & { spec: Record<string, unknown> }>;

const notFound = async (p: Promise<unknown>) => {
  try {
    await p;
    return false;
  } catch (e) {
    return e instanceof ApiException && e.code === 404;
  }
};

before(async () => {
  cluster = await clusterProvider({ localKubeconfig: env.KUBECONFIG }).get('local');
});
after(async () => {
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
});

const autoscaled = request({
  autoscaling: { profile: 'throughput', minReplicas: 1, maxReplicas: 3 },
  capacity: { computeClass: 'spot-then-flex-start' },
});

test('HPA, PodMonitoring and ComputeClass are server-side applied by the ferry user and read back as rendered', async () => {
  const spec = rendered(autoscaled);
  assert.deepEqual(
    spec.extras.map((o) => o.kind),
    ['ComputeClass', 'PodMonitoring', 'HorizontalPodAutoscaler'],
  );
  assert.deepEqual(
    objectsToApply(spec).map((o) => o.kind),
    ['ComputeClass', 'Service', 'Deployment', 'PodMonitoring', 'HorizontalPodAutoscaler'],
  );
  const live = await applyAll(spec);
  assert.equal(live.length, 5);
  // the local 1.20 apiserver has no autoscaling/v2: the adapter applied the HPA as v2beta2
  assert.equal(live[4]!.apiVersion, 'autoscaling/v2beta2');

  const [cc, pm, hpa] = spec.extras as [KubeObject, KubeObject, KubeObject];
  const liveCc = await read('cloud.google.com/v1', 'ComputeClass', cc.metadata.name);
  assert.deepEqual(liveCc.spec, cc['spec']);
  assert.equal(liveCc.metadata.namespace, undefined, 'ComputeClass is cluster-scoped');
  const livePm = await read('monitoring.googleapis.com/v1', 'PodMonitoring', 'llama', NS);
  assert.deepEqual(livePm.spec, pm['spec']);
  assert.deepEqual(livePm.metadata.labels, pm.metadata.labels);

  const liveHpa = await read('autoscaling/v2beta2', 'HorizontalPodAutoscaler', 'llama', NS);
  const h = liveHpa.spec as Record<string, any>;
  assert.deepEqual(h['scaleTargetRef'], { apiVersion: 'apps/v1', kind: 'Deployment', name: 'llama' });
  assert.equal(h['minReplicas'], 1);
  assert.equal(h['maxReplicas'], 3);
  assert.equal(h['metrics'][0].type, 'Pods');
  assert.equal(h['metrics'][0].pods.metric.name, 'prometheus.googleapis.com|vllm:num_requests_waiting|gauge');
  assert.deepEqual(h['metrics'][0].pods.target, { type: 'AverageValue', averageValue: '5' });
  assert.equal(h['behavior'].scaleDown.stabilizationWindowSeconds, (hpa['spec'] as any).behavior.scaleDown.stabilizationWindowSeconds);

  const d = await apps.readNamespacedDeployment({ name: 'llama', namespace: NS });
  assert.equal(d.spec!.template.spec!.nodeSelector!['cloud.google.com/compute-class'], cc.metadata.name);
  assert.equal(d.spec!.template.spec!.nodeSelector!['cloud.google.com/gke-accelerator'], 'nvidia-l4');
  // ferry left replicas to the HPA: the field is not among what ferry's apply owns
  const ferryFields = JSON.stringify(d.metadata!.managedFields!.filter((f) => f.manager === 'ferry').map((f) => f.fieldsV1));
  assert.ok(!ferryFields.includes('"f:replicas"'), ferryFields);
});

test('re-applying the same spec changes nothing; a profile change updates the HPA in place', async () => {
  const spec = rendered(autoscaled);
  const before_ = await read('monitoring.googleapis.com/v1', 'PodMonitoring', 'llama', NS);
  const hpaBefore = await read('autoscaling/v2beta2', 'HorizontalPodAutoscaler', 'llama', NS);
  await applyAll(spec);
  const after_ = await read('monitoring.googleapis.com/v1', 'PodMonitoring', 'llama', NS);
  const hpaAfter = await read('autoscaling/v2beta2', 'HorizontalPodAutoscaler', 'llama', NS);
  const rv = (o: KubeObject) => (o.metadata as Record<string, unknown>)['resourceVersion'];
  assert.equal(rv(after_), rv(before_));
  assert.equal(rv(hpaAfter), rv(hpaBefore));

  const latency = rendered(request({ ...autoscaled, autoscaling: { profile: 'latency', minReplicas: 2, maxReplicas: 4, target: 0.75 } }), 'r-sp-2');
  await applyAll(latency);
  const h = (await read('autoscaling/v2beta2', 'HorizontalPodAutoscaler', 'llama', NS)).spec as Record<string, any>;
  assert.equal(h['metrics'].length, 1);
  assert.equal(h['metrics'][0].pods.metric.name, 'prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge');
  assert.deepEqual(h['metrics'][0].pods.target, { type: 'AverageValue', averageValue: '750m' });
  assert.equal(h['minReplicas'], 2);
});

test('turning autoscaling off: the stale HPA and PodMonitoring are pruned, the Deployment gets replicas back', async () => {
  const previous = rendered(autoscaled);
  const next = rendered(request({ replicas: 2 }), 'r-sp-3');
  assert.deepEqual(next.extras, []);
  const stale = staleObjects(previous, next);
  assert.deepEqual(stale.map((r) => r.kind).sort(), ['HorizontalPodAutoscaler', 'PodMonitoring']);
  await applyAll(next);
  for (const ref of stale) await cluster.deleteObject(ref);
  for (const ref of stale) await cluster.deleteObject(ref); // NotFound is success
  assert.ok(await notFound(read('autoscaling/v2beta2', 'HorizontalPodAutoscaler', 'llama', NS)));
  assert.ok(await notFound(read('monitoring.googleapis.com/v1', 'PodMonitoring', 'llama', NS)));
  const d = await apps.readNamespacedDeployment({ name: 'llama', namespace: NS });
  assert.equal(d.spec!.replicas, 2);
  assert.equal(d.spec!.template.spec!.nodeSelector!['cloud.google.com/compute-class'], undefined);
  // the shared ComputeClass stays (cluster-scoped, other targets may select it)
  await read('cloud.google.com/v1', 'ComputeClass', 'ferry-spot-flex-nvidia-l4-x1');
});

test('a TPU Deployment is accepted: google.com/tpu limits, TPU accelerator + topology selectors, vllm-tpu image', async () => {
  const tpu = rendered(
    request({ target: { cluster: 'local', namespace: NS, name: 'llama-tpu' }, accelerator: { type: 'tpu-v6e-slice', topology: '2x4' } }),
    'r-sp-tpu',
  );
  await applyAll(tpu);
  const d = await apps.readNamespacedDeployment({ name: 'llama-tpu', namespace: NS });
  const pod = d.spec!.template.spec!;
  assert.deepEqual(pod.nodeSelector, { 'cloud.google.com/gke-tpu-accelerator': 'tpu-v6e-slice', 'cloud.google.com/gke-tpu-topology': '2x4' });
  assert.deepEqual(pod.containers[0]!.resources!.limits, { 'google.com/tpu': '8' });
  assert.match(pod.containers[0]!.image!, /^vllm\/vllm-tpu:/);
});

test('kinds the cluster does not serve are CLUSTER_API_MISSING (not retryable)', async () => {
  const missing = async (obj: KubeObject) => {
    try {
      await cluster.applyObject(obj);
    } catch (e) {
      assert.ok(isFerryError(e), String(e));
      assert.equal(e.code, 'CLUSTER_API_MISSING', e.message);
      assert.equal(e.retryable, false);
      return;
    }
    assert.fail('expected CLUSTER_API_MISSING');
  };
  await missing({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: NS } });
  await missing({ apiVersion: 'cloud.google.com/v1', kind: 'NotAKind', metadata: { name: 'w' } });
  // deleting what the cluster cannot have is success
  await cluster.deleteObject({ apiVersion: 'example.com/v1', kind: 'Widget', name: 'w', namespace: NS });
});

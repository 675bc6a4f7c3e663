/**
 * The local Kubernetes (real etcd, kube-apiserver, kube-controller-manager, kube-scheduler 1.20.2 +
 * simulated GKE GPU nodes) behaves the way ferry's deploy controller relies on:
 *  (a) a Deployment server-side applied by user `ferry` (fieldManager ferry, force) with a GPU
 *      request and an accelerator nodeSelector rolls out: the real scheduler binds its pods to a
 *      matching simulated node, which reports them Running/Ready;
 *  (b) a Deployment whose image tag starts with `fail` crash-loops and ends with Progressing =
 *      ProgressDeadlineExceeded;
 *  (c) RBAC is on: `ferry` may apply Deployments but may not delete nodes or read secrets;
 *  (d) re-applying a previous spec rolls back: the revision moves on and the old ReplicaSet is reused.
 *
 * Starts its own stack in a temp dir on free ports. Asserts behaviour only; polls generously.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Deployment, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import { startKube, type KubeStack } from '../../infra/local/kube.ts';

const WAIT_MS = 60_000;
const REVISION = 'deployment.kubernetes.io/revision';

let kube: KubeStack | undefined;
let dir = '';
let ferryApps: AppsV1Api;
let ferryCore: CoreV1Api;
let adminCore: CoreV1Api;

function client(kubeconfig: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc;
}

function status(e: unknown): number | undefined {
  const c = (e as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await sleep(250);
  }
}

function deployment(ns: string, name: string, tag: string, extra: Partial<NonNullable<V1Deployment['spec']>> = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      ...extra,
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { 'cloud.google.com/gke-accelerator': 'nvidia-l4' },
          containers: [
            {
              name: 'vllm',
              image: `vllm/vllm-openai:${tag}`,
              ports: [{ name: 'http', containerPort: 8000 }],
              // Quantities as strings: 1.20's server-side apply rejects a JSON number here
              // ("expected string, got …"); newer API servers accept both.
              resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } },
            },
          ],
        },
      },
    },
  };
}

async function apply(d: V1Deployment): Promise<V1Deployment> {
  return ferryApps.patchNamespacedDeployment(
    { name: d.metadata!.name!, namespace: d.metadata!.namespace!, body: d, fieldManager: 'ferry', force: true },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
}

/** kubectl rollout status's verdict (kubectl pkg/polymorphichelpers/rollout_status.go): 'done', 'failed' or undefined (still going). */
function rolloutVerdict(d: V1Deployment): 'done' | 'failed' | undefined {
  const s = d.status ?? {};
  if ((d.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) return undefined;
  if (s.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')) return 'failed';
  const want = d.spec?.replicas ?? 1;
  if ((s.updatedReplicas ?? 0) < want) return undefined;
  if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0)) return undefined;
  if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0)) return undefined;
  return 'done';
}

async function waitRollout(ns: string, name: string): Promise<V1Deployment> {
  return waitFor(`rollout of ${ns}/${name}`, async () => {
    const d = await ferryApps.readNamespacedDeployment({ name, namespace: ns });
    const v = rolloutVerdict(d);
    if (v === 'failed') throw new Error(`rollout of ${ns}/${name} failed: ${JSON.stringify(d.status?.conditions)}`);
    return v === 'done' ? d : undefined;
  });
}

async function ensureNamespace(ns: string): Promise<void> {
  try {
    await ferryCore.createNamespace({ body: { metadata: { name: ns } } });
  } catch (e) {
    if (status(e) !== 409) throw e;
  }
}

async function podsOf(ns: string, app: string): Promise<V1Pod[]> {
  return (await ferryCore.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items;
}

async function replicaSetsOf(ns: string, app: string): Promise<V1ReplicaSet[]> {
  return (await ferryApps.listNamespacedReplicaSet({ namespace: ns, labelSelector: `app=${app}` })).items;
}

const condition = (p: V1Pod, type: string): string | undefined => p.status?.conditions?.find((c) => c.type === type)?.status;

describe('local Kubernetes stack', { timeout: 300_000 }, () => {
  before(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'ferry-kube-test-'));
      kube = await startKube({ dir, simulator: { podReadyDelayMs: 1000 } });
      ferryApps = client(kube.kubeconfig).makeApiClient(AppsV1Api);
      ferryCore = client(kube.kubeconfig).makeApiClient(CoreV1Api);
      adminCore = client(kube.adminKubeconfig).makeApiClient(CoreV1Api);
    },
    { timeout: 120_000 },
  );

  after(async () => {
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('registers GKE-like GPU nodes in two zones', async () => {
    const nodes = (await ferryCore.listNode()).items;
    assert.equal(nodes.length, kube!.nodes.length);
    const zones = new Set(nodes.map((n) => n.metadata?.labels?.['topology.kubernetes.io/zone']));
    assert.ok(zones.size >= 2, `zones: ${[...zones].join(', ')}`);
    for (const n of nodes) {
      const l = n.metadata?.labels ?? {};
      for (const key of [
        'cloud.google.com/gke-accelerator',
        'cloud.google.com/gke-nodepool',
        'topology.kubernetes.io/zone',
        'topology.kubernetes.io/region',
        'node.kubernetes.io/instance-type',
      ]) {
        assert.ok(l[key], `${n.metadata?.name} lacks label ${key}`);
      }
      assert.equal(l['kubernetes.io/hostname'], n.metadata?.name);
      assert.equal(l['kubernetes.io/os'], 'linux');
      assert.equal(l['kubernetes.io/arch'], 'amd64');
      assert.ok(Number(n.status?.allocatable?.['nvidia.com/gpu']) > 0);
      assert.equal(n.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
      assert.ok(!n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready'), 'node keeps the not-ready taint');
    }
  });

  it('(a) rolls out a server-side applied GPU Deployment onto a matching simulated node', async () => {
    const ns = 'ferry-a';
    await ensureNamespace(ns);
    const applied = await apply(deployment(ns, 'vllm-a', 'v0.6.3'));
    assert.ok(applied.metadata?.managedFields?.some((f) => f.manager === 'ferry' && f.operation === 'Apply'));

    const d = await waitRollout(ns, 'vllm-a');
    assert.equal(d.status?.observedGeneration, d.metadata?.generation);
    assert.equal(d.status?.updatedReplicas, 2);
    assert.equal(d.status?.availableReplicas, 2);
    assert.equal(d.status?.replicas, 2);

    const l4 = new Set(kube!.nodes.filter((n) => n.accelerator === 'nvidia-l4').map((n) => n.name));
    const pods = await waitFor('two Running pods', async () => {
      const ps = (await podsOf(ns, 'vllm-a')).filter((p) => !p.metadata?.deletionTimestamp);
      return ps.length === 2 ? ps : undefined;
    });
    for (const p of pods) {
      assert.equal(p.status?.phase, 'Running');
      assert.equal(condition(p, 'Ready'), 'True');
      assert.equal(condition(p, 'ContainersReady'), 'True');
      assert.equal(condition(p, 'PodScheduled'), 'True');
      assert.ok(l4.has(p.spec?.nodeName ?? ''), `pod on ${p.spec?.nodeName}, not an L4 node`);
      const cs = p.status?.containerStatuses?.[0];
      assert.equal(cs?.ready, true);
      assert.ok(cs?.state?.running?.startedAt);
      assert.ok(cs?.containerID);
      assert.ok(p.status?.podIP);
      assert.ok(p.status?.hostIP);
    }
  });

  it('(b) ends a crash-looping rollout with ProgressDeadlineExceeded', async () => {
    const ns = 'ferry-b';
    await ensureNamespace(ns);
    await apply(deployment(ns, 'vllm-b', 'fail-123', { replicas: 1, progressDeadlineSeconds: 10 }));
    const d = await waitFor(
      'ProgressDeadlineExceeded',
      async () => {
        const x = await ferryApps.readNamespacedDeployment({ name: 'vllm-b', namespace: ns });
        return rolloutVerdict(x) === 'failed' ? x : undefined;
      },
      90_000,
    );
    const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
    assert.equal(progressing?.status, 'False');
    assert.equal(progressing?.reason, 'ProgressDeadlineExceeded');

    const pod = await waitFor('a crash-looping pod', async () => {
      const [p] = await podsOf(ns, 'vllm-b');
      const cs = p?.status?.containerStatuses?.[0];
      return cs?.state?.waiting?.reason === 'CrashLoopBackOff' && (cs.restartCount ?? 0) >= 2 ? p : undefined;
    });
    assert.equal(pod.status?.phase, 'Running');
    assert.equal(condition(pod, 'Ready'), 'False');
    assert.equal(pod.status?.containerStatuses?.[0]?.ready, false);
  });

  it('(c) enforces RBAC on the ferry user', async () => {
    const ns = 'ferry-c';
    await ensureNamespace(ns);
    await apply(deployment(ns, 'vllm-c', 'v1', { replicas: 1 }));
    await waitRollout(ns, 'vllm-c');

    const node = kube!.nodes[0]!.name;
    await assert.rejects(ferryCore.deleteNode({ name: node }), (e: unknown) => status(e) === 403);
    await assert.rejects(ferryCore.listNamespacedSecret({ namespace: 'kube-system' }), (e: unknown) => status(e) === 403);
    await assert.rejects(ferryCore.readNamespacedSecret({ name: 'x', namespace: ns }), (e: unknown) => status(e) === 403);
    // The same requests pass authorization as admin: the 403s above come from RBAC.
    await adminCore.listNamespacedSecret({ namespace: 'kube-system' });
    assert.equal((await adminCore.readNode({ name: node })).metadata?.name, node);
    // What ferry needs to watch is readable.
    await ferryCore.listNode();
    await ferryCore.listNamespacedPod({ namespace: ns });
  });

  it('(d) rolls back by re-applying the previous spec, reusing the old ReplicaSet', async () => {
    const ns = 'ferry-d';
    await ensureNamespace(ns);
    const v1 = deployment(ns, 'vllm-d', 'v1');
    await apply(v1);
    const d1 = await waitRollout(ns, 'vllm-d');
    const rev1 = Number(d1.metadata?.annotations?.[REVISION]);
    const [rs1] = await replicaSetsOf(ns, 'vllm-d');
    assert.ok(rs1?.metadata?.uid);

    await apply(deployment(ns, 'vllm-d', 'v2'));
    const d2 = await waitRollout(ns, 'vllm-d');
    const rev2 = Number(d2.metadata?.annotations?.[REVISION]);
    assert.ok(rev2 > rev1, `revision ${rev1} → ${rev2}`);
    assert.equal((await replicaSetsOf(ns, 'vllm-d')).length, 2);

    await apply(v1);
    const d3 = await waitRollout(ns, 'vllm-d');
    const rev3 = Number(d3.metadata?.annotations?.[REVISION]);
    assert.ok(rev3 > rev2, `revision ${rev2} → ${rev3}`);

    const sets = await replicaSetsOf(ns, 'vllm-d');
    assert.equal(sets.length, 2, 'no third ReplicaSet: the old one is reused');
    const reused = sets.find((r) => r.metadata?.uid === rs1.metadata?.uid);
    assert.ok(reused, 'the first ReplicaSet still exists');
    assert.equal(Number(reused.metadata?.annotations?.[REVISION]), rev3);
    assert.equal(reused.spec?.replicas, 2);
    assert.equal(sets.find((r) => r !== reused)?.spec?.replicas, 0);

    const pods = await waitFor('only v1 pods left', async () => {
      const ps = await podsOf(ns, 'vllm-d');
      return ps.length === 2 && ps.every((p) => p.spec?.containers[0]?.image === 'vllm/vllm-openai:v1') ? ps : undefined;
    });
    for (const p of pods) assert.equal(condition(p, 'Ready'), 'True');
  });
});

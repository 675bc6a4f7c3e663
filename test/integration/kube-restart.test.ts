/**
 * The control plane's stateless pieces come back (issue #23: "restarts a dead piece or stops with a
 * message naming it"): with the stack's own watch policy (watch-pieces.ts) over the stack's own
 * pieces (stack-pieces.ts `kubePieces`),
 *  (a) kube-controller-manager and kube-scheduler killed with SIGKILL at once are each restarted,
 *      one log line each, and a Deployment created afterwards rolls out: pods scheduled and Ready;
 *  (b) a hung kube-scheduler (SIGSTOP: alive, but its /healthz no longer answers) is replaced;
 *  (c) kube-apiserver killed with SIGKILL is restarted with the cluster intact (its state is in etcd):
 *      the Deployment from (a) is still there, and a new one rolls out.
 *
 * Starts its own Kubernetes (etcd, apiserver, controller-manager, scheduler, simulated nodes) in a
 * temp dir on free ports, so killing its pieces cannot disturb the shared stack of `npm test`
 * (integration files run one at a time anyway: run-tests.ts `--test-concurrency=1`). Waits on
 * conditions only, generously.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { kubeBinariesPresent, startKube, type KubeStack } from '../../infra/local/kube.ts';
import { kubePieces, KUBE_HEALTH_EVERY_MS } from '../../infra/local/stack-pieces.ts';
import { watchPieces, type Watcher } from '../../infra/local/watch-pieces.ts';

const NS = 'ferry-restart';
const skip = kubeBinariesPresent() ? false : 'the Kubernetes binaries are not built (bash infra/local/build-kubernetes.sh)';

let kube: KubeStack | undefined;
let watcher: Watcher | undefined;
let dir = '';
let apps: AppsV1Api;
let core: CoreV1Api;
const lines: string[] = [];
let fatal: string | undefined;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (fatal) throw new Error(`the watch stopped the stack while waiting for ${what}: ${fatal}`);
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}\n${lines.join('\n')}`);
    await sleep(250);
  }
}

const component = (name: string) => kube!.components.find((c) => c.name === name)!;

/** The restart of `name` that follows the death of `pid`: a new process, ready, and its log line. */
async function restarted(name: string, pid: number): Promise<void> {
  await waitFor(`${name} to be back`, async () =>
    component(name).process().pid !== pid && lines.some((l) => l === `watch: ${name} is back`) ? true : undefined,
  );
}

function deployment(name: string): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { 'cloud.google.com/gke-accelerator': 'nvidia-l4' },
          containers: [
            {
              name: 'vllm',
              image: 'vllm/vllm-openai:v0.11.2',
              resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } },
            },
          ],
        },
      },
    },
  };
}

/** Creates the Deployment and waits until both pods are bound to a node and Ready, and the Deployment says so. */
async function rollsOut(name: string): Promise<void> {
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name) });
  await waitFor(`${name}: 2 pods scheduled and Ready`, async () => {
    const pods = (await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${name}` })).items;
    const ready = pods.filter((p) => p.spec?.nodeName && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === 2 ? true : undefined;
  });
  await waitFor(`${name}: the Deployment counts 2 available replicas`, async () => {
    const d = await apps.readNamespacedDeployment({ name, namespace: NS });
    return (d.status?.availableReplicas ?? 0) === 2 && (d.status?.updatedReplicas ?? 0) === 2 ? true : undefined;
  });
}

describe('the stack restarts the control plane pieces that keep no state', { skip, timeout: 480_000 }, () => {
  before(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'ferry-kube-restart-'));
      kube = await startKube({ dir, simulator: { podReadyDelayMs: 500 } });
      watcher = watchPieces(kubePieces(kube), {
        log: (m) => lines.push(m),
        stopping: () => false,
        onFatal: (m) => {
          fatal = m;
        },
        intervalMs: 500,
      });
      const kc = new KubeConfig();
      kc.loadFromFile(kube.adminKubeconfig);
      apps = kc.makeApiClient(AppsV1Api);
      core = kc.makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: NS } } });
    },
    { timeout: 180_000 },
  );

  after(async () => {
    watcher?.stop();
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the controller-manager and the scheduler answer /healthz on their secure ports', async () => {
    assert.equal(await component('kube-controller-manager').healthy!(), true);
    assert.equal(await component('kube-scheduler').healthy!(), true);
    assert.equal(component('etcd').restart, undefined, 'etcd holds the only copy of the cluster: not restarted');
  });

  it('kill -9 of the controller-manager and the scheduler: both restarted, then a Deployment rolls out', async () => {
    const kcm = component('kube-controller-manager').process().pid;
    const sched = component('kube-scheduler').process().pid;
    process.kill(kcm, 'SIGKILL');
    process.kill(sched, 'SIGKILL');
    await restarted('kube-controller-manager', kcm);
    await restarted('kube-scheduler', sched);
    assert.ok(
      lines.some((l) => l.startsWith(`watch: kube-controller-manager died (pid ${kcm} exited on a signal); restarting it (1/`)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith(`watch: kube-scheduler died (pid ${sched} exited on a signal); restarting it (1/`)),
      lines.join('\n'),
    );
    assert.equal(await component('kube-controller-manager').healthy!(), true);
    assert.equal(await component('kube-scheduler').healthy!(), true);
    await rollsOut('after-kill');
  });

  it('a hung scheduler (SIGSTOP) stops answering /healthz and is replaced', async () => {
    const sched = component('kube-scheduler').process().pid;
    const before = lines.length;
    process.kill(sched, 'SIGSTOP');
    await waitFor(
      'the hung scheduler to be replaced',
      async () => (component('kube-scheduler').process().pid !== sched && lines.slice(before).includes('watch: kube-scheduler is back') ? true : undefined),
      KUBE_HEALTH_EVERY_MS * 3 + 120_000,
    );
    assert.ok(
      lines.slice(before).some((l) => l.startsWith('watch: kube-scheduler died (it stopped answering')),
      lines.slice(before).join('\n'),
    );
    await rollsOut('after-hang');
  });

  it('kill -9 of the apiserver: restarted with the cluster intact, and a Deployment rolls out', async () => {
    const api = component('kube-apiserver').process().pid;
    process.kill(api, 'SIGKILL');
    await restarted('kube-apiserver', api);
    const kept = await waitFor('the Deployment made before the restart', () => apps.readNamespacedDeployment({ name: 'after-kill', namespace: NS }));
    assert.equal(kept.status?.availableReplicas, 2);
    await rollsOut('after-apiserver');
    assert.equal(fatal, undefined);
  });
});

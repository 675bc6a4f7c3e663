/**
 * Plays the kubelets of a GKE GPU cluster against a real kube-apiserver (the way KWOK does):
 * registers Node objects labelled exactly as GKE labels them, keeps them Ready, and moves the pods
 * the real scheduler binds to them through Running/Ready, so the real deployment controller
 * finishes rollouts — or fails them:
 *
 *  - a container whose image TAG starts with `fail` (e.g. `vllm/vllm-openai:fail-123`) never gets
 *    Ready: the pod is Running with that container waiting in `CrashLoopBackOff` and its
 *    restartCount climbing, as a real crash-looping container would be;
 *  - the pod annotation `sim.ferry.dev/ready-delay-ms` overrides the Ready delay of one pod;
 *  - pods being deleted are deleted at once (gracePeriodSeconds 0): there is no kubelet to finish
 *    a graceful deletion, and without this rollouts never complete.
 *
 * With `serving` (the local stack passes it), a pod whose first container is a vLLM image with a
 * command line runs a simulated vLLM server (./vllm-sim/): it parses the flags like `vllm serve`,
 * streams the gs:// model's shards from the Storage emulator, and listens on a real pod IP
 * (10.4.<node>.<n>, see ./vllm-sim/network.ts) that the API server's pod and service proxy reach.
 * The pod turns Ready when its readiness probe path answers 200, as the kubelet's prober would have
 * it; a container that exits crash-loops with its real exit code, and is started again after the
 * back-off. Other pods (no command line, no serving) only get a made-up IP and a Ready flag.
 *
 * Alone: ./node_modules/.bin/node infra/local/node-simulator.ts --kubeconfig K [--ready-delay-ms N]
 */
import { createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { KubeConfig, CoreV1Api, Watch, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Node, V1NodeCondition, V1Pod, V1ContainerStatus, V1Container, V1Taint } from '@kubernetes/client-node';
import { startVllmContainer, type ServingSimOptions, type VllmContainer } from './vllm-sim/container.ts';
import { allocatePodIp, ensurePodNetwork } from './vllm-sim/network.ts';
import { startKubeletLogServer, type KubeletLogServer } from './vllm-sim/kubelet.ts';
import { parseServeArgs } from './vllm-sim/args.ts';

export interface SimulatedNodeSpec {
  name: string;
  zone: string;
  /** GKE accelerator name, e.g. nvidia-l4, nvidia-h100-80gb. */
  accelerator: string;
  gpus: number;
  /** GCE machine type (default: the usual one for the accelerator and GPU count). */
  machineType?: string;
  /** GKE node pool (default: derived from the accelerator). */
  nodePool?: string;
}

export interface SimulatedNode {
  name: string;
  zone: string;
  region: string;
  accelerator: string;
  gpus: number;
  machineType: string;
  nodePool: string;
}

export interface SimulatorOptions {
  nodes?: SimulatedNodeSpec[];
  /** A bound pod turns Running/Ready this long after it was bound (default 1500 ms). */
  podReadyDelayMs?: number;
  /** Region of the zones (default: derived from the first node's zone, else us-central1). */
  region?: string;
  /** Taint GPU nodes `nvidia.com/gpu=present:NoSchedule`, as GKE does in mixed clusters (default false). */
  gpuTaint?: boolean;
  /** First crash-loop back-off (doubles up to 30 s, as the kubelet's does from 10 s; default 2000 ms). */
  crashLoopBackoffMs?: number;
  /** Node heartbeat period (default 10 s). */
  heartbeatMs?: number;
  /** Run a simulated vLLM server in pods that have a vLLM image and a command line (./vllm-sim/). */
  serving?: ServingSimOptions;
  /** How often the simulated prober polls a serving pod's readiness path (default 250 ms). */
  probeEveryMs?: number;
  /** PEM certificate and key for the simulated kubelets' log endpoints (with serving; kube.ts passes the apiserver's). */
  kubeletTls?: { cert: string; key: string };
  log?: (msg: string) => void;
}

export interface NodeSimulator {
  nodes: SimulatedNode[];
  /** Log lines of a pod's container (current, or the previous instance), as the kubelet keeps them. */
  containerLogs(namespace: string, pod: string, opts?: { previous?: boolean }): Array<{ at: Date; line: string }> | undefined;
  /** Why serving is off, when it was asked for and could not be set up (null: on, or not asked). */
  servingDisabled: string | null;
  stop(): Promise<void>;
}

export const READY_DELAY_ANNOTATION = 'sim.ferry.dev/ready-delay-ms';

export const DEFAULT_SIMULATED_NODES: SimulatedNodeSpec[] = [
  { name: 'gke-ferry-l4-pool-3f9a1c2e-7k2p', zone: 'us-central1-a', accelerator: 'nvidia-l4', gpus: 4, nodePool: 'l4-pool' },
  { name: 'gke-ferry-l4-pool-b81d44a0-q9xm', zone: 'us-central1-b', accelerator: 'nvidia-l4', gpus: 4, nodePool: 'l4-pool' },
  {
    name: 'gke-ferry-h100-pool-5c07e6d3-m4tz',
    zone: 'us-central1-a',
    accelerator: 'nvidia-h100-80gb',
    gpus: 8,
    nodePool: 'h100-pool',
  },
];

/** Usual GCE machine shapes per accelerator: machine type, vCPUs and GiB of memory by GPU count. */
const MACHINES: Record<string, Record<number, [string, number, number]>> = {
  'nvidia-l4': { 1: ['g2-standard-8', 8, 32], 2: ['g2-standard-24', 24, 96], 4: ['g2-standard-48', 48, 192], 8: ['g2-standard-96', 96, 384] },
  'nvidia-h100-80gb': { 1: ['a3-highgpu-1g', 26, 234], 2: ['a3-highgpu-2g', 52, 468], 4: ['a3-highgpu-4g', 104, 936], 8: ['a3-highgpu-8g', 208, 1872] },
  'nvidia-a100-80gb': { 1: ['a2-ultragpu-1g', 12, 170], 2: ['a2-ultragpu-2g', 24, 340], 4: ['a2-ultragpu-4g', 48, 680], 8: ['a2-ultragpu-8g', 96, 1360] },
  'nvidia-tesla-a100': { 1: ['a2-highgpu-1g', 12, 85], 2: ['a2-highgpu-2g', 24, 170], 4: ['a2-highgpu-4g', 48, 340], 8: ['a2-highgpu-8g', 96, 680] },
  'nvidia-tesla-t4': { 1: ['n1-standard-8', 8, 30], 2: ['n1-standard-16', 16, 60], 4: ['n1-standard-32', 32, 120] },
};

function machineShape(accelerator: string, gpus: number, machineType?: string): { type: string; cpus: number; memGiB: number } {
  const known = MACHINES[accelerator]?.[gpus];
  if (known && (!machineType || machineType === known[0])) return { type: known[0], cpus: known[1], memGiB: known[2] };
  const m = /-(\d+)g?$/.exec(machineType ?? '');
  const cpus = m ? Number(m[1]) : Math.max(8, gpus * 12);
  return { type: machineType ?? `custom-${cpus}-${cpus * 4096}`, cpus, memGiB: cpus * 4 };
}

/** GKE's allocatable CPU: capacity minus 6% of core 1, 1% of core 2, 0.5% of cores 3-4, 0.25% above. */
function allocatableMilliCpu(cpus: number): number {
  const reserved = 60 + (cpus > 1 ? 10 : 0) + Math.min(Math.max(cpus - 2, 0), 2) * 5 + Math.max(cpus - 4, 0) * 2.5;
  return Math.floor(cpus * 1000 - reserved);
}

/** GKE's allocatable memory (KiB): reserve 25/20/10/6/2% of successive slices, minus 100Mi eviction. */
function allocatableMemKi(memGiB: number): number {
  const slices: Array<[number, number]> = [
    [4, 0.25],
    [4, 0.2],
    [8, 0.1],
    [112, 0.06],
    [Infinity, 0.02],
  ];
  let left = memGiB;
  let reservedGiB = 0;
  for (const [size, frac] of slices) {
    const take = Math.min(left, size);
    reservedGiB += take * frac;
    left -= take;
    if (left <= 0) break;
  }
  return Math.floor((memGiB - reservedGiB) * 1024 * 1024 - 100 * 1024);
}

/** The tag of an image reference ('' when it has none). */
export function imageTag(image: string): string {
  const noDigest = image.split('@')[0] ?? '';
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(colon + 1) : '';
}

function isFailingImage(image: string | undefined): boolean {
  return imageTag(image ?? '').startsWith('fail');
}

function imageId(image: string): string {
  let repo = (image.split('@')[0] ?? '').replace(/:[^/:]*$/, '');
  const first = repo.split('/')[0] ?? '';
  if (!repo.includes('/')) repo = `docker.io/library/${repo}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') repo = `docker.io/${repo}`;
  return `${repo}@sha256:${createHash('sha256').update(image).digest('hex')}`;
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

function errCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown; statusCode?: unknown })?.code ?? (e as { statusCode?: unknown })?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

function errText(e: unknown): string {
  const code = errCode(e);
  const body = (e as { body?: unknown })?.body;
  let msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  if (typeof body === 'string') {
    try {
      msg = (JSON.parse(body) as { message?: string }).message ?? msg;
    } catch {
      /* keep */
    }
  }
  return code ? `${code}: ${msg}` : String(msg);
}

interface PodState {
  uid: string;
  namespace: string;
  name: string;
  /** new → creating (ContainerCreating sent) → waiting (Ready timer) → running | crashing; or deleting. */
  stage: 'new' | 'creating' | 'waiting' | 'running' | 'crashing' | 'deleting';
  timer?: NodeJS.Timeout;
  boundAt: string;
  startedAt?: string;
  podIP?: string;
  restarts: number;
  /** Serving pods: the running simulated vLLM, and the previous instance's logs. */
  container?: VllmContainer;
  previousLogs?: Array<{ at: Date; line: string }>;
  containerName?: string;
  containerStartedAt?: Date;
  ready?: boolean;
}

const VLLM_IMAGE_RE = /(^|\/)vllm-(openai|tpu)(:|@|$)/;

export async function startNodeSimulator(kubeconfigPath: string, opts: SimulatorOptions = {}): Promise<NodeSimulator> {
  const log = opts.log ?? (() => undefined);
  const say = (m: string): void => log(`[node-simulator] ${m}`);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const readyDelay = opts.podReadyDelayMs ?? 1500;
  const backoff0 = opts.crashLoopBackoffMs ?? 2000;
  const specs = opts.nodes ?? DEFAULT_SIMULATED_NODES;
  const defaultRegion = opts.region ?? (specs[0]?.zone.replace(/-[a-z]$/, '') || 'us-central1');

  const nodes: SimulatedNode[] = specs.map((s) => {
    const shape = machineShape(s.accelerator, s.gpus, s.machineType);
    return {
      name: s.name,
      zone: s.zone,
      region: opts.region ?? (s.zone.replace(/-[a-z]$/, '') || defaultRegion),
      accelerator: s.accelerator,
      gpus: s.gpus,
      machineType: shape.type,
      nodePool: s.nodePool ?? `${s.accelerator.replace(/^nvidia-(tesla-)?/, '')}-pool`,
    };
  });
  const byName = new Map(nodes.map((n, i) => [n.name, { node: n, index: i, nextIp: 2 }]));

  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
    return t;
  };
  const wakers = new Set<() => void>();
  /** Sleeps ms; stop() ends every pause at once. */
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      wakers.add(done);
    });
  const cancel = (t: NodeJS.Timeout | undefined): void => {
    if (t) {
      clearTimeout(t);
      timers.delete(t);
    }
  };

  // ---- nodes --------------------------------------------------------------------------------
  const kubeletPorts = new Map<string, number>();
  const pods = new Map<string, PodState>();
  const createdAt = new Date();
  const conditions = (now: Date): V1NodeCondition[] => [
    ...(
      [
        ['MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
        ['DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
        ['PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
      ] as Array<[string, string, string]>
    ).map(([type, reason, message]) => ({
      type,
      status: 'False',
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: createdAt,
    })),
    {
      type: 'Ready',
      status: 'True',
      reason: 'KubeletReady',
      message: 'kubelet is posting ready status. AppArmor enabled',
      lastHeartbeatTime: now,
      lastTransitionTime: createdAt,
    },
    {
      type: 'NetworkUnavailable',
      status: 'False',
      reason: 'RouteCreated',
      message: 'NodeController create implicit route',
      lastHeartbeatTime: createdAt,
      lastTransitionTime: createdAt,
    },
  ];

  const nodeObject = (n: SimulatedNode, index: number): V1Node => {
    const shape = machineShape(n.accelerator, n.gpus, n.machineType);
    const capacity: Record<string, string> = {
      cpu: String(shape.cpus),
      memory: `${shape.memGiB * 1024 * 1024}Ki`,
      pods: '110',
      'ephemeral-storage': '98831908Ki',
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
      'attachable-volumes-gce-pd': '127',
    };
    const allocatable: Record<string, string> = {
      ...capacity,
      cpu: `${allocatableMilliCpu(shape.cpus)}m`,
      memory: `${allocatableMemKi(shape.memGiB)}Ki`,
      'ephemeral-storage': '47060071478',
    };
    if (n.gpus > 0) capacity['nvidia.com/gpu'] = allocatable['nvidia.com/gpu'] = String(n.gpus);
    const taints: V1Taint[] = opts.gpuTaint && n.gpus > 0 ? [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] : [];
    const family = n.machineType.split('-')[0] ?? 'n1';
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n.name,
        labels: {
          'beta.kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/instance-type': n.machineType,
          'beta.kubernetes.io/os': 'linux',
          'cloud.google.com/gke-accelerator': n.accelerator,
          'cloud.google.com/gke-boot-disk': 'pd-balanced',
          'cloud.google.com/gke-container-runtime': 'containerd',
          'cloud.google.com/gke-cpu-scaling-level': String(shape.cpus),
          'cloud.google.com/gke-gpu': 'true',
          'cloud.google.com/gke-nodepool': n.nodePool,
          'cloud.google.com/gke-os-distribution': 'cos',
          'cloud.google.com/gke-provisioning': 'standard',
          'cloud.google.com/machine-family': family,
          'failure-domain.beta.kubernetes.io/region': n.region,
          'failure-domain.beta.kubernetes.io/zone': n.zone,
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/hostname': n.name,
          'kubernetes.io/os': 'linux',
          'node.kubernetes.io/instance-type': n.machineType,
          'topology.kubernetes.io/region': n.region,
          'topology.kubernetes.io/zone': n.zone,
          'sim.ferry.dev/simulated': 'true',
        },
        annotations: {
          'node.alpha.kubernetes.io/ttl': '0',
          'container.googleapis.com/instance_id': String(BigInt('0x' + createHash('sha256').update(n.name).digest('hex').slice(0, 15))),
        },
      },
      spec: {
        podCIDR: `10.4.${index}.0/24`,
        podCIDRs: [`10.4.${index}.0/24`],
        providerID: `gce://ferry-local/${n.zone}/${n.name}`,
        taints,
      },
      status: {
        capacity,
        allocatable,
        conditions: conditions(new Date()),
        addresses: [
          { type: 'InternalIP', address: `10.128.0.${10 + index}` },
          { type: 'Hostname', address: n.name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: kubeletPorts.get(n.name) ?? 10250 } },
        nodeInfo: {
          machineID: hex(16),
          systemUUID: hex(16),
          bootID: `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`,
          kernelVersion: '6.1.100+',
          osImage: 'Container-Optimized OS from Google',
          containerRuntimeVersion: 'containerd://1.7.22',
          kubeletVersion: 'v1.20.2',
          kubeProxyVersion: 'v1.20.2',
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
      },
    };
  };

  // Serving pods need routable pod IPs and the kubelet's log endpoint on each node's InternalIP.
  let servingDisabled: string | null = null;
  if (opts.serving) {
    servingDisabled = ensurePodNetwork();
    if (servingDisabled) say(`serving simulation is off: ${servingDisabled}; vLLM pods only get a Ready flag`);
  }
  const serving = opts.serving && !servingDisabled ? opts.serving : undefined;
  const kubeletServers: KubeletLogServer[] = [];
  if (serving && opts.kubeletTls) {
    for (const [i, n] of nodes.entries()) {
      const srv = await startKubeletLogServer({
        ip: `10.128.0.${10 + i}`,
        ...opts.kubeletTls,
        logs: (ns, pod, container, previous) => {
          const st = [...pods.values()].find((p) => p.namespace === ns && p.name === pod);
          if (!st || container !== st.containerName) return undefined;
          return previous ? st.previousLogs : (st.container?.logs ?? st.previousLogs);
        },
      });
      kubeletServers.push(srv);
      kubeletPorts.set(n.name, srv.port);
    }
  }

  const register = async (n: SimulatedNode, i: number): Promise<void> => {
    const obj = nodeObject(n, i);
    try {
      await core.createNode({ body: obj });
    } catch (e) {
      if (errCode(e) !== 409) throw new Error(`node-simulator: cannot register node ${n.name}: ${errText(e)}`, { cause: e });
      await core.patchNode({ name: n.name, body: { metadata: { labels: obj.metadata!.labels } } }, merge);
    }
    // The TaintNodesByCondition admission plugin gives every new node the not-ready taint, which
    // only the node lifecycle controller (not run here) would lift: set the taints we want.
    await core.patchNode({ name: n.name, body: { spec: { taints: obj.spec!.taints?.length ? obj.spec!.taints : null } } }, merge);
    // Status sent on create is kept, but a node that existed already needs it too.
    await core.patchNodeStatus({ name: n.name, body: { status: obj.status } }, merge);
  };
  try {
    for (const [i, n] of nodes.entries()) await register(n, i);
  } catch (e) {
    await Promise.allSettled(kubeletServers.map((k) => k.close()));
    throw e;
  }
  say(`registered ${nodes.length} node(s): ${nodes.map((n) => `${n.name} (${n.gpus}x ${n.accelerator}, ${n.zone})`).join(', ')}`);

  const heartbeat = setInterval(() => {
    if (stopped) return;
    const now = new Date();
    for (const [i, n] of nodes.entries()) {
      core.patchNodeStatus({ name: n.name, body: { status: { conditions: conditions(now) } } }, merge).catch((e: unknown) => {
        if (stopped) return;
        if (errCode(e) !== 404) return say(`heartbeat of ${n.name} failed: ${errText(e)}`);
        say(`node ${n.name} was deleted: registering it again`);
        register(n, i).catch((e2: unknown) => say(errText(e2)));
      });
    }
  }, opts.heartbeatMs ?? 10_000);

  // ---- pods ---------------------------------------------------------------------------------

  // ---- serving (simulated vLLM in the pod) ----------------------------------------------------
  const probeEvery = opts.probeEveryMs ?? 250;
  const isServingPod = (pod: V1Pod): boolean => {
    const c = pod.spec?.containers?.[0];
    if (!serving || !c || isFailingImage(c.image)) return false;
    return VLLM_IMAGE_RE.test(c.image ?? '') && ((c.args?.length ?? 0) > 0 || (c.command?.length ?? 0) > 0);
  };
  const usedIps = (): Set<string> => new Set([...pods.values()].map((p) => p.podIP).filter((x): x is string => !!x));

  type Mode = 'creating' | 'running';
  const containerStatus = (c: V1Container, mode: Mode, failing: boolean, st: PodState): V1ContainerStatus => {
    const base = { name: c.name, image: c.image ?? '', imageID: '', ready: false, started: false, restartCount: 0 };
    if (mode === 'creating') return { ...base, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} };
    const ids = { imageID: imageId(c.image ?? ''), containerID: `containerd://${hex(32)}` };
    if (!failing) {
      return { ...base, ...ids, ready: true, started: true, state: { running: { startedAt: new Date(st.startedAt!) } }, lastState: {} };
    }
    const backoffS = Math.min(10 * 2 ** Math.max(st.restarts - 1, 0), 300);
    return {
      ...base,
      ...ids,
      restartCount: st.restarts,
      state: {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${backoffS}s restarting failed container=${c.name} pod=${st.name}_${st.namespace}(${st.uid})`,
        },
      },
      lastState: {
        terminated: {
          exitCode: 1,
          reason: 'Error',
          startedAt: new Date(Date.now() - 1000),
          finishedAt: new Date(),
          containerID: `containerd://${hex(32)}`,
        },
      },
    };
  };

  /** What the kubelet would report: ContainerCreating first, then Running (Ready or crash-looping). */
  const patchStatus = async (st: PodState, pod: V1Pod, mode: Mode): Promise<void> => {
    const now = new Date().toISOString();
    const node = byName.get(pod.spec?.nodeName ?? '');
    if (!node) return;
    const containers = pod.spec?.containers ?? [];
    const failing = new Set(containers.filter((c) => isFailingImage(c.image)).map((c) => c.name));
    if (mode === 'running') {
      st.startedAt ??= now;
      if (!st.podIP) {
        st.podIP = `10.4.${node.index}.${node.nextIp}`;
        node.nextIp = node.nextIp >= 254 ? 2 : node.nextIp + 1;
      }
    }
    const ready = mode === 'running' && failing.size === 0;
    const unready = mode === 'creating' ? containers.map((c) => c.name) : [...failing];
    const notReady = ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${unready.join(' ')}]` };
    const cond = (type: string, ok: boolean, since: string, extra: object = {}) => ({
      type,
      status: ok ? 'True' : 'False',
      lastProbeTime: null,
      lastTransitionTime: since,
      ...extra,
    });
    const inits = pod.spec?.initContainers ?? [];
    const body = {
      status: {
        phase: mode === 'running' ? 'Running' : 'Pending',
        conditions: [
          cond('Initialized', true, st.boundAt),
          cond('Ready', ready, now, notReady),
          cond('ContainersReady', ready, now, notReady),
          cond('PodScheduled', true, st.boundAt),
        ],
        hostIP: `10.128.0.${10 + node.index}`,
        ...(st.podIP ? { podIP: st.podIP, podIPs: [{ ip: st.podIP }] } : {}),
        startTime: st.boundAt,
        containerStatuses: containers.map((c) => containerStatus(c, mode, failing.has(c.name), st)),
        ...(inits.length
          ? {
              initContainerStatuses: inits.map((c) => ({
                name: c.name,
                image: c.image ?? '',
                imageID: imageId(c.image ?? ''),
                containerID: `containerd://${hex(32)}`,
                ready: true,
                restartCount: 0,
                state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: st.boundAt, finishedAt: st.boundAt } },
              })),
            }
          : {}),
      },
    };
    await core.patchNamespacedPodStatus({ name: st.name, namespace: st.namespace, body }, merge);
  };

  const forget = (uid: string): void => {
    const st = pods.get(uid);
    if (!st) return;
    cancel(st.timer);
    stopContainer(st);
    pods.delete(uid);
  };

  const alive = (st: PodState): boolean => !stopped && pods.get(st.uid) === st && st.stage !== 'deleting';

  const crashLoop = (st: PodState, pod: V1Pod): void => {
    const wait = Math.min(backoff0 * 2 ** Math.max(st.restarts - 1, 0), 30_000);
    st.timer = later(wait, () => {
      if (!alive(st)) return;
      st.restarts += 1;
      patchStatus(st, pod, 'running').then(
        () => alive(st) && crashLoop(st, pod),
        (e: unknown) => {
          if (errCode(e) === 404) return forget(st.uid);
          say(`crash-loop update of ${st.namespace}/${st.name} failed (${errText(e)}); retrying`);
          if (alive(st)) crashLoop(st, pod);
        },
      );
    });
  };

  const goRunning = (st: PodState, pod: V1Pod): void => {
    if (!alive(st)) return;
    if (isServingPod(pod)) {
      runServing(st, pod).catch((e: unknown) => say(`pod ${st.namespace}/${st.name}: ${errText(e)}`));
      return;
    }
    const failing = (pod.spec?.containers ?? []).some((c) => isFailingImage(c.image));
    if (failing) st.restarts = Math.max(st.restarts, 1);
    patchStatus(st, pod, 'running').then(
      () => {
        if (!alive(st)) return;
        st.stage = failing ? 'crashing' : 'running';
        say(`pod ${st.namespace}/${st.name} on ${pod.spec?.nodeName}: Running, ${failing ? 'CrashLoopBackOff' : 'Ready'}`);
        if (failing) crashLoop(st, pod);
      },
      (e: unknown) => {
        if (errCode(e) === 404) return forget(st.uid);
        say(`status update of ${st.namespace}/${st.name} failed (${errText(e)}); retrying`);
        st.timer = later(500, () => goRunning(st, pod));
      },
    );
  };

  /** Status of a serving pod: Running, Ready once probed, or its container crash-looping. */
  const patchServing = async (st: PodState, pod: V1Pod, crash?: { exitCode: number; startedAt: Date; finishedAt: Date }): Promise<void> => {
    const node = byName.get(pod.spec?.nodeName ?? '');
    if (!node) return;
    const containers = pod.spec?.containers ?? [];
    const ready = !crash && st.ready === true;
    const main = containers[0]!;
    const notReady = ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${main.name}]` };
    const cond = (type: string, ok: boolean, since: string, extra: object = {}) => ({
      type,
      status: ok ? 'True' : 'False',
      lastProbeTime: null,
      lastTransitionTime: since,
      ...extra,
    });
    const now = new Date().toISOString();
    const ids = { imageID: imageId(main.image ?? ''), containerID: `containerd://${createHash('sha256').update(`${st.uid}/${st.restarts}`).digest('hex')}` };
    const mainStatus: V1ContainerStatus = crash
      ? {
          name: main.name,
          image: main.image ?? '',
          ...ids,
          ready: false,
          started: false,
          restartCount: st.restarts,
          state: {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: `back-off ${Math.min(10 * 2 ** Math.max(st.restarts - 1, 0), 300)}s restarting failed container=${main.name} pod=${st.name}_${st.namespace}(${st.uid})`,
            },
          },
          lastState: {
            terminated: { exitCode: crash.exitCode, reason: 'Error', startedAt: crash.startedAt, finishedAt: crash.finishedAt, containerID: ids.containerID },
          },
        }
      : {
          name: main.name,
          image: main.image ?? '',
          ...ids,
          ready,
          started: ready,
          restartCount: st.restarts,
          state: { running: { startedAt: st.containerStartedAt ?? new Date() } },
          lastState: {},
        };
    const body = {
      status: {
        phase: 'Running',
        conditions: [
          cond('Initialized', true, st.boundAt),
          cond('Ready', ready, now, notReady),
          cond('ContainersReady', ready, now, notReady),
          cond('PodScheduled', true, st.boundAt),
        ],
        hostIP: `10.128.0.${10 + node.index}`,
        podIP: st.podIP,
        podIPs: [{ ip: st.podIP }],
        startTime: st.boundAt,
        containerStatuses: [mainStatus, ...containers.slice(1).map((c) => containerStatus(c, 'running', false, st))],
      },
    };
    await core.patchNamespacedPodStatus({ name: st.name, namespace: st.namespace, body }, merge);
  };

  const patchServingRetrying = (st: PodState, pod: V1Pod, crash?: { exitCode: number; startedAt: Date; finishedAt: Date }): Promise<void> =>
    patchServing(st, pod, crash).catch(async (e: unknown) => {
      if (errCode(e) === 404) return forget(st.uid);
      if (!alive(st)) return;
      say(`status update of ${st.namespace}/${st.name} failed (${errText(e)}); retrying`);
      await pause(500);
      if (alive(st)) await patchServingRetrying(st, pod, crash);
    });

  /** Starts (or restarts) the pod's simulated vLLM, probes it, and crash-loops it when it exits. */
  const runServing = async (st: PodState, pod: V1Pod): Promise<void> => {
    if (!alive(st) || !serving) return;
    const main = pod.spec!.containers[0]!;
    const node = byName.get(pod.spec?.nodeName ?? '')!;
    if (!st.podIP) {
      const parsed = parseServeArgs(main.command, main.args ?? []);
      const port = parsed.ok ? parsed.args.port : 8000;
      const ip = await allocatePodIp(node.index, port, usedIps(), node.nextIp);
      if (!ip) {
        say(`no free pod IP on ${node.node.name} for ${st.namespace}/${st.name}; retrying`);
        st.timer = later(2000, () => void runServing(st, pod));
        return;
      }
      node.nextIp = (Number(ip.split('.')[3]) % 254) + 1;
      st.podIP = ip;
    }
    const env: Record<string, string> = {};
    for (const e of main.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    const gpus = Number(main.resources?.limits?.['nvidia.com/gpu'] ?? main.resources?.limits?.['google.com/tpu'] ?? 0);
    st.ready = false;
    st.containerStartedAt = new Date();
    st.containerName = main.name;
    const c = startVllmContainer(
      { pod: `${st.namespace}/${st.name}`, command: main.command, args: main.args ?? [], env, gpus, ip: st.podIP, zone: node.node.zone },
      serving,
    );
    st.container = c;
    st.stage = 'running';
    await patchServingRetrying(st, pod);
    say(`pod ${st.namespace}/${st.name} on ${node.node.name}: Running at ${st.podIP}, vLLM loading`);
    // The kubelet's prober: GET the readiness path until it answers 200.
    const probe = main.readinessProbe?.httpGet ?? main.startupProbe?.httpGet;
    const path = probe?.path ?? '/health';
    let exited = false;
    void c.exited.then(async (code) => {
      exited = true;
      if (!alive(st) || st.container !== c) return;
      st.previousLogs = c.logs;
      st.container = undefined;
      st.ready = false;
      st.restarts += 1;
      const finishedAt = new Date();
      say(`pod ${st.namespace}/${st.name}: vLLM exited with code ${code}; CrashLoopBackOff`);
      await patchServingRetrying(st, pod, { exitCode: code, startedAt: st.containerStartedAt!, finishedAt });
      const wait = Math.min(backoff0 * 2 ** Math.max(st.restarts - 1, 0), 30_000);
      if (alive(st)) st.timer = later(wait, () => void runServing(st, pod));
    });
    while (alive(st) && st.container === c && !exited) {
      let ok = false;
      try {
        const r = await fetch(`http://${st.podIP}:${c.port}${path}`, { signal: AbortSignal.timeout(5000) });
        ok = r.status >= 200 && r.status < 400;
        await r.body?.cancel();
      } catch {
        /* not listening yet */
      }
      if (ok && alive(st) && st.container === c) {
        st.ready = true;
        await patchServingRetrying(st, pod);
        say(`pod ${st.namespace}/${st.name}: vLLM healthy, Ready`);
        return;
      }
      await pause(probeEvery);
    }
  };

  const stopContainer = (st: PodState): void => {
    const c = st.container;
    st.container = undefined;
    if (c) void c.stop();
  };

  const forceDelete = (st: PodState): void => {
    st.stage = 'deleting';
    stopContainer(st);
    cancel(st.timer);
    const { name, namespace, uid } = st;
    core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid } } }).then(
      () => say(`pod ${namespace}/${name} deleted`),
      (e: unknown) => {
        if (errCode(e) === 404 || errCode(e) === 409) return; // gone already, or a new pod of that name
        say(`deleting pod ${namespace}/${name} failed (${errText(e)}); retrying`);
        st.timer = later(1000, () => pods.get(uid) === st && forceDelete(st));
      },
    );
  };

  const reconcile = (pod: V1Pod): void => {
    const uid = pod.metadata?.uid;
    const name = pod.metadata?.name;
    const namespace = pod.metadata?.namespace;
    if (!uid || !name || !namespace || !byName.has(pod.spec?.nodeName ?? '')) return;
    let st = pods.get(uid);
    if (!st) {
      st = { uid, name, namespace, stage: 'new', restarts: 0, boundAt: new Date().toISOString() };
      pods.set(uid, st);
    }
    const state = st;
    if (pod.metadata?.deletionTimestamp) {
      if (state.stage !== 'deleting') forceDelete(state);
      return;
    }
    if (state.stage !== 'new') return; // timers drive it from here
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      state.stage = 'running';
      return;
    }
    if (phase === 'Running') {
      // Seen at a (re-)list, e.g. after a simulator restart: carry on from where it is.
      const failing = (pod.spec?.containers ?? []).some((c) => isFailingImage(c.image));
      state.stage = failing ? 'crashing' : 'running';
      state.podIP = pod.status?.podIP;
      if (pod.status?.startTime) state.boundAt = new Date(pod.status.startTime).toISOString();
      state.startedAt = state.boundAt;
      state.restarts = Math.max(1, ...(pod.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));
      if (failing) crashLoop(state, pod);
      return;
    }
    state.stage = 'creating';
    const annotated = Number(pod.metadata?.annotations?.[READY_DELAY_ANNOTATION] ?? NaN);
    const delay = Number.isFinite(annotated) && annotated >= 0 ? annotated : readyDelay;
    const waitForReady = (): void => {
      if (!alive(state)) return;
      state.stage = 'waiting';
      state.timer = later(delay, () => goRunning(state, pod));
    };
    patchStatus(state, pod, 'creating').then(waitForReady, (e: unknown) => {
      if (errCode(e) === 404) return forget(uid);
      say(`status update of ${namespace}/${name} failed (${errText(e)})`);
      waitForReady();
    });
  };

  // List, then watch from the list's resourceVersion; re-list when the watch breaks.
  const watch = new Watch(kc);
  let abort: AbortController | undefined;
  let resourceVersion = '';
  const listAll = async (): Promise<void> => {
    const list = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName!=' });
    resourceVersion = list.metadata?.resourceVersion ?? '';
    const seen = new Set<string>();
    for (const p of list.items) {
      if (p.metadata?.uid) seen.add(p.metadata.uid);
      try {
        reconcile(p);
      } catch (e) {
        say(`pod ${p.metadata?.namespace}/${p.metadata?.name}: ${errText(e)}`);
      }
    }
    for (const uid of [...pods.keys()]) if (!seen.has(uid)) forget(uid);
  };
  const loop = async (): Promise<void> => {
    let needList = true;
    while (!stopped) {
      try {
        if (needList) {
          await listAll();
          needList = false;
        }
        const since = Date.now();
        const ended = new Promise<unknown>((resolve) => {
          void watch
            .watch(
              '/api/v1/pods',
              { resourceVersion, allowWatchBookmarks: true, fieldSelector: 'spec.nodeName!=', timeoutSeconds: 25 },
              (type: string, obj: V1Pod & { code?: number }) => {
                if (type === 'ERROR') {
                  needList = true; // 410 Gone and friends
                  return;
                }
                if (obj?.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
                if (type === 'BOOKMARK') return;
                try {
                  if (type === 'DELETED') forget(obj.metadata?.uid ?? '');
                  else reconcile(obj);
                } catch (e) {
                  say(`pod ${obj?.metadata?.namespace}/${obj?.metadata?.name}: ${errText(e)}`);
                }
              },
              resolve,
            )
            .then((c) => {
              abort = c;
              if (stopped) c.abort();
            });
        });
        const err = await ended;
        abort = undefined;
        if (err && !stopped) {
          const name = (err as { name?: string }).name;
          if (name !== 'AbortError' && name !== 'TimeoutError') say(`pod watch ended: ${errText(err)}; re-listing`);
          needList = true;
          await pause(500);
        } else if (Date.now() - since < 1000) {
          await pause(250); // closed at once: don't spin
        }
      } catch (e) {
        if (stopped) break;
        say(`pod list failed: ${errText(e)}; retrying`);
        needList = true;
        await pause(1000);
      }
    }
  };
  await listAll();
  const running = loop();

  return {
    nodes,
    servingDisabled,
    containerLogs(namespace, name, o = {}) {
      const st = [...pods.values()].find((p) => p.namespace === namespace && p.name === name);
      if (!st) return undefined;
      return o.previous ? st.previousLogs : (st.container?.logs ?? st.previousLogs ?? []);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.allSettled([...pods.values()].map((p) => p.container?.stop()));
      await Promise.allSettled(kubeletServers.map((k) => k.close()));
      clearInterval(heartbeat);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const wake of [...wakers]) wake();
      abort?.abort();
      await Promise.race([running, new Promise((r) => setTimeout(r, 2000).unref())]);
    },
  };
}

// ---- standalone ---------------------------------------------------------------------------------
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (flag: string): string | undefined => {
    const i = process.argv.indexOf(flag);
    return i >= 0 ? process.argv[i + 1] : process.argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
  };
  const kubeconfig = arg('--kubeconfig') ?? process.env['KUBECONFIG'];
  if (!kubeconfig) {
    process.stderr.write('usage: node infra/local/node-simulator.ts --kubeconfig <admin kubeconfig> [--ready-delay-ms N]\n');
    process.exit(2);
  }
  const delay = arg('--ready-delay-ms');
  const sim = await startNodeSimulator(kubeconfig, {
    ...(delay ? { podReadyDelayMs: Number(delay) } : {}),
    log: (m) => process.stdout.write(`${new Date().toISOString()} ${m}\n`),
  });
  const quit = (): void => void sim.stop().then(() => process.exit(0));
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
}

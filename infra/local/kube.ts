/**
 * A real Kubernetes control plane on 127.0.0.1 for the local stack and the integration tests:
 * etcd, kube-apiserver, kube-controller-manager and kube-scheduler (1.20.2, built once from
 * Debian's source package by infra/local/build-kubernetes.sh), plus simulated GKE GPU nodes
 * (./node-simulator.ts) that play the kubelet so the real controllers finish or fail rollouts.
 *
 * Every start is fresh: the state directory `<dir>/kube` (etcd data, certificates, tokens,
 * kubeconfigs, logs) is recreated. Two users matter to callers:
 *  - `ferry` (kubeconfig): least-privilege RBAC, exactly what the deploy controller needs;
 *  - `admin` (adminKubeconfig): group system:masters, for tests and the simulator.
 */
import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync, accessSync, constants, readdirSync, statSync } from 'node:fs';
import { join, delimiter, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { KubeConfig, RbacAuthorizationV1Api, ApiextensionsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1ClusterRole, V1ClusterRoleBinding, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { startProcess, waitUntil, freeStablePort, httpAnswers, tailLog, type ManagedProcess } from './proc.ts';
import { startNodeSimulator, type SimulatorOptions, type SimulatedNode } from './node-simulator.ts';

export type { SimulatorOptions } from './node-simulator.ts';

export const KUBE_VERSION = '1.20.2';
export const KUBE_BIN_DIR = join(process.env['FERRY_CACHE_DIR'] ?? join(homedir(), '.cache', 'ferry'), `k8s-${KUBE_VERSION}`);
const KUBE_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
const BUILD_HINT = "run `bash infra/local/build-kubernetes.sh` (builds them once from Debian's source package, ~5-8 min, and installs etcd-server)";

/**
 * The RBAC role of the `ferry` user: what the deploy controller needs, nothing more. Its rules are
 * infra/gke-rbac-rules.json, the same file Terraform renders into the production ClusterRole
 * (output gke_rbac_manifest), so the local stack runs ferry with exactly the rights GKE gives it.
 */
export const FERRY_CLUSTER_ROLE: V1ClusterRole = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name: 'ferry-deployer' },
  rules: JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'gke-rbac-rules.json'), 'utf8')) as V1ClusterRole['rules'],
};

/** Minimal CRDs of the GKE kinds ferry renders (PodMonitoring, ComputeClass), installed at start. */
export const LOCAL_CRDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'crds');

/**
 * Server-side applies every CRD in `dir` (JSON, one per file; a top-level "//" key is a comment) with
 * `kc` (an admin), then waits until each is Established, so their kinds can be applied right away.
 */
export async function installLocalCrds(kc: KubeConfig, dir: string = LOCAL_CRDS_DIR, timeoutMs = 30_000): Promise<string[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const crds = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const { '//': _comment, ...crd } = JSON.parse(readFileSync(join(dir, f), 'utf8')) as V1CustomResourceDefinition & { '//'?: string };
      return crd as V1CustomResourceDefinition;
    });
  for (const crd of crds) {
    await api.patchCustomResourceDefinition({ name: crd.metadata!.name!, body: crd, fieldManager: 'ferry-local', force: true }, ssa);
  }
  const names = crds.map((c) => c.metadata!.name!);
  await waitUntil(
    `CRDs ${names.join(', ')} established`,
    async () => {
      for (const name of names) {
        const live = await api.readCustomResourceDefinition({ name });
        if (!live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 100 },
  );
  return names;
}

export interface KubeStackOptions {
  /** State directory; data, certificates and logs go under `<dir>/kube` (wiped at each start). */
  dir: string;
  /** Fixed ports; each one left out is picked free. */
  ports?: { etcdClient?: number; etcdPeer?: number; apiserver?: number };
  log?: (msg: string) => void;
  /** Where kube-apiserver, kube-controller-manager and kube-scheduler are (default KUBE_BIN_DIR). */
  binDir?: string;
  /** Simulated GKE nodes (default: the simulator's default nodes); false: no nodes at all. */
  simulator?: SimulatorOptions | false;
}

export interface KubeStack {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Kubeconfig of user `ferry` (least-privilege RBAC, ClusterRole `ferry-deployer`). */
  kubeconfig: string;
  /** Kubeconfig of user `admin` (group system:masters). */
  adminKubeconfig: string;
  nodes: Array<{ name: string; zone: string; accelerator: string; gpus: number }>;
  /** Process ids of etcd, kube-apiserver, kube-controller-manager, kube-scheduler. */
  pids: Record<string, number>;
  /** Those processes as started (the first instance of each; see `components` for the current ones). */
  processes: ManagedProcess[];
  /** Each component, as the running stack watches it (stack-pieces.ts `kubePieces`). */
  components: KubeComponent[];
  /** Directory of the components' logs. */
  logDir: string;
  stop(): Promise<void>;
}

/**
 * One process of the control plane. kube-controller-manager and kube-scheduler keep no state of their
 * own (everything they act on is in the apiserver, that is etcd; they rebuild their caches by listing
 * and watching) and run without leader election (`--leader-elect=false`), so a dead one can be started
 * again with the same flags: `restart` stops what is left of it (its whole process group), starts it,
 * and waits until it is ready again. `healthy` asks its /healthz on its secure port (127.0.0.1 only).
 * The apiserver keeps its state in etcd (a process of its own whose data directory is on disk) and
 * reuses its serving certificate in `--cert-dir`, so it restarts too (ready again at /readyz). etcd has
 * no `restart`: see docs/reliability.md.
 */
export interface KubeComponent {
  name: string;
  /** Its current process (a new one after each restart). */
  process(): ManagedProcess;
  restart?: () => Promise<void>;
  healthy?: () => Promise<boolean>;
}

/**
 * The build recipe of infra/local/build-kubernetes.sh (its BUILD_ID): 1.20.2 with reflect2 1.0.2
 * vendored, without which a Go ≥ 1.18 build of the apiserver crashes on custom resources.
 */
export const KUBE_BUILD_ID = `k8s-${KUBE_VERSION}+reflect2-1.0.2`;

/**
 * True when kube-apiserver, kube-controller-manager, kube-scheduler (built by the current recipe,
 * KUBE_BUILD_ID) and etcd are all present.
 */
export function kubeBinariesPresent(binDir: string = KUBE_BIN_DIR): boolean {
  let buildId = '';
  try {
    buildId = readFileSync(join(binDir, 'build-id'), 'utf8').trim();
  } catch {
    /* an older build, or none */
  }
  return buildId === KUBE_BUILD_ID && KUBE_BINARIES.every((b) => isExecutable(join(binDir, b))) && findEtcd() !== undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findEtcd(): string | undefined {
  const fromEnv = process.env['FERRY_ETCD_BIN'];
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  for (const d of [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    if (d && isExecutable(join(d, 'etcd'))) return join(d, 'etcd');
  }
  return undefined;
}

interface Token {
  token: string;
  user: string;
  groups: string[];
}

function kubeconfigYaml(server: string, caPem: string, user: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: ferry-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${user}@ferry-local`,
    '  context:',
    '    cluster: ferry-local',
    `    user: ${user}`,
    '    namespace: default',
    `current-context: ${user}@ferry-local`,
    '',
  ].join('\n');
}

/** GET over TLS with a bearer token, trusting `ca`; resolves with the status and body. */
function httpsGet(url: string, token: string | undefined, ca: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const PIDS_FILE = 'pids.json';

/**
 * A previous stack in the same directory whose owner was killed outright (SIGKILL leaves no chance
 * to clean up) still runs: stop its processes — only those whose command line names this directory.
 */
async function killStale(root: string, log: (m: string) => void): Promise<void> {
  let pids: Record<string, number>;
  try {
    pids = JSON.parse(readFileSync(join(root, PIDS_FILE), 'utf8')) as Record<string, number>;
  } catch {
    return;
  }
  const alive: number[] = [];
  for (const [name, pid] of Object.entries(pids)) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes(root)) continue;
    log(`stopping ${name} (pid ${pid}) left over from a previous run in ${root}`);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    alive.push(pid);
  }
  for (let i = 0; i < 50 && alive.some((pid) => existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`).length > 0); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The log's text from byte `from` on ('' when unreadable). */
function logSince(file: string, from: number): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

function logSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * True when GET https://127.0.0.1:<port>/healthz answers 200 "ok", anonymously, trusting the
 * self-signed certificate the component wrote to its `--cert-dir` (any `*.crt` there).
 */
async function healthz(port: number, certDir: string): Promise<boolean> {
  let ca = '';
  try {
    for (const f of readdirSync(certDir)) if (f.endsWith('.crt')) ca += readFileSync(join(certDir, f), 'utf8');
  } catch {
    return false;
  }
  if (!ca) return false;
  try {
    const r = await httpsGet(`https://127.0.0.1:${port}/healthz`, undefined, ca, 5000);
    return r.status === 200 && r.body.trim() === 'ok';
  } catch {
    return false;
  }
}

export async function startKube(opts: KubeStackOptions): Promise<KubeStack> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const binDir = opts.binDir ?? KUBE_BIN_DIR;
  for (const b of KUBE_BINARIES) {
    if (!isExecutable(join(binDir, b))) throw new Error(`${b} is missing from ${binDir}: ${BUILD_HINT}.`);
  }
  const etcdBin = findEtcd();
  if (!etcdBin) {
    throw new Error(`etcd is not installed (Debian package etcd-server): apt-get install etcd-server, or ${BUILD_HINT}.`);
  }

  const root = join(opts.dir, 'kube');
  await killStale(root, log);
  rmSync(root, { recursive: true, force: true });
  const logDir = join(root, 'logs');
  const certDir = join(root, 'certs');
  for (const d of [root, logDir, certDir]) mkdirSync(d, { recursive: true, mode: 0o700 });

  const etcdClient = opts.ports?.etcdClient ?? (await freeStablePort());
  const etcdPeer = opts.ports?.etcdPeer ?? (await freeStablePort());
  const apiPort = opts.ports?.apiserver ?? (await freeStablePort());
  const server = `https://127.0.0.1:${apiPort}`;

  // Service-account signing key pair (the apiserver insists on one), made without openssl.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  writeFileSync(join(root, 'sa.pub'), publicKey, { mode: 0o600 });
  writeFileSync(join(root, 'sa.key'), privateKey, { mode: 0o600 });

  const tok = (): string => randomBytes(24).toString('hex');
  const tokens = {
    admin: { token: tok(), user: 'admin', groups: ['system:masters'] },
    ferry: { token: tok(), user: 'ferry', groups: [] },
    // With --use-service-account-credentials=false every controller acts as this one identity,
    // which therefore needs the union of the controllers' roles: system:masters is the simple way.
    controllerManager: { token: tok(), user: 'system:kube-controller-manager', groups: ['system:masters'] },
    // The bootstrap ClusterRoleBindings system:kube-scheduler and system:volume-scheduler cover it.
    scheduler: { token: tok(), user: 'system:kube-scheduler', groups: [] },
  } satisfies Record<string, Token>;
  writeFileSync(
    join(root, 'tokens.csv'),
    Object.values(tokens)
      .map((t: Token) => `${t.token},${t.user},${t.user}` + (t.groups.length ? `,"${t.groups.join(',')}"` : ''))
      .join('\n') + '\n',
    { mode: 0o600 },
  );

  const procs: ManagedProcess[] = [];
  const died = new Map<string, number | null>();
  // Safety net: if this Node process ends without stop() — an uncaught error, or a signal nobody
  // else handles — don't leave the servers behind (their process groups are detached from ours).
  const killAll = (): void => {
    for (const p of procs) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (sig: NodeJS.Signals): void => {
    if (process.listenerCount(sig) > 1) return; // someone else handles it (and calls stop())
    killAll();
    unhook();
    process.kill(process.pid, sig); // default action, as if we had not been listening
  };
  const unhook = (): void => {
    process.off('exit', killAll);
    for (const sig of signals) process.off(sig, onSignal);
  };
  process.on('exit', killAll);
  for (const sig of signals) process.on(sig, onSignal);
  let simulator: Awaited<ReturnType<typeof startNodeSimulator>> | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await simulator?.stop().catch(() => undefined);
      const [etcd, apiserver, ...rest] = procs;
      await Promise.allSettled(rest.map((p) => p.stop(3000)));
      await apiserver?.stop(5000);
      await etcd?.stop(5000);
      unhook();
    })();
    return stopping;
  };

  /** Starts a component; `replacing` is its dead (or hung) instance, whose place it takes. */
  const start = (name: string, command: string, args: string[], replacing?: ManagedProcess): ManagedProcess => {
    const p = startProcess({ name, command, args, logFile: join(logDir, `${name}.log`) });
    const at = replacing ? procs.indexOf(replacing) : -1;
    if (at >= 0) procs.splice(at, 1, p);
    else procs.push(p);
    void p.exited.then((code) => {
      if (stopping) return;
      died.set(name, code);
      log(`${name} exited unexpectedly (code ${code}); the last lines of ${p.logFile}:\n${tailLog(p.logFile)}`);
    });
    writeFileSync(join(root, PIDS_FILE), JSON.stringify(Object.fromEntries(procs.map((x) => [x.name, x.pid]))));
    return p;
  };

  try {
    // etcd: fresh data directory, loopback only.
    const etcd = start('etcd', etcdBin, [
      '--name=default',
      `--data-dir=${join(root, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster-state=new',
      '--listen-metrics-urls=',
    ]);
    await waitUntil('etcd', () => httpAnswers(`http://127.0.0.1:${etcdClient}/health`, (s) => s === 200), {
      proc: etcd,
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    log(`etcd ready on 127.0.0.1:${etcdClient} (${Date.now() - t0} ms)`);

    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      '--insecure-port=0',
      `--cert-dir=${certDir}`,
      `--token-auth-file=${join(root, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(root, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(root, 'sa.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      // No kubelet mounts tokens, so the ServiceAccount admission plugin would only get in the way.
      '--disable-admission-plugins=ServiceAccount',
      // As on GKE: pods requesting nvidia.com/gpu tolerate the GPU nodes' taint.
      '--enable-admission-plugins=ExtendedResourceToleration',
      '--allow-privileged=true',
      // The simulated kubelets' log endpoints listen on the nodes' InternalIPs (node-simulator.ts);
      // the default order tries the Hostname first, which does not resolve here.
      '--kubelet-preferred-address-types=InternalIP',
      '--profiling=false',
      '--logtostderr=true',
      '--v=0',
    ];
    let apiserver = start('kube-apiserver', join(binDir, 'kube-apiserver'), apiserverArgs);
    const crtFile = join(certDir, 'apiserver.crt');
    let ca = '';
    const apiserverReady = (p: ManagedProcess): Promise<void> =>
      waitUntil(
        'kube-apiserver',
        async () => {
          if (!ca) {
            if (!existsSync(crtFile)) return false;
            ca = readFileSync(crtFile, 'utf8');
            if (!ca.includes('END CERTIFICATE')) return ((ca = ''), false);
          }
          const r = await httpsGet(`${server}/readyz`, tokens.admin.token, ca);
          return r.status === 200;
        },
        { proc: p, timeoutMs: 60_000, intervalMs: 100 },
      );
    await apiserverReady(apiserver);
    log(`kube-apiserver ready at ${server} (${Date.now() - t0} ms)`);

    const kubeconfigs: Record<keyof typeof tokens, string> = {
      admin: join(root, 'admin.kubeconfig'),
      ferry: join(root, 'ferry.kubeconfig'),
      controllerManager: join(root, 'controller-manager.kubeconfig'),
      scheduler: join(root, 'scheduler.kubeconfig'),
    };
    for (const [k, t] of Object.entries(tokens) as Array<[keyof typeof tokens, Token]>) {
      writeFileSync(kubeconfigs[k], kubeconfigYaml(server, ca, t.user, t.token), { mode: 0o600 });
    }

    // /healthz on a secure port of their own, bound to 127.0.0.1 (1.20.2 `--help`: `--secure-port`
    // "If 0, don't serve HTTPS at all"; a self-signed certificate is written to `--cert-dir`;
    // `--authorization-always-allow-paths` defaults to [/healthz]; without `--authentication-kubeconfig`
    // "all token requests are considered to be anonymous"), so the stack can ask whether they answer.
    const healthPorts = { kcm: await freeStablePort(), sched: await freeStablePort() };
    const secureServing = (name: string, port: number): string[] => [
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${join(root, `${name}-certs`)}`,
    ];
    const kcmArgs = [
      `--kubeconfig=${kubeconfigs.controllerManager}`,
      // deployment/replicaset: rollouts; garbagecollector: owned ReplicaSets/pods go with their owner;
      // namespace: namespace deletion; endpoint/endpointslice: Services get endpoints of Ready pods.
      '--controllers=deployment,replicaset,garbagecollector,namespace,endpoint,endpointslice',
      // One instance, restarted by the stack when it dies (KubeComponent): nothing to elect.
      '--leader-elect=false',
      '--port=0',
      ...secureServing('kube-controller-manager', healthPorts.kcm),
      '--use-service-account-credentials=false',
      '--logtostderr=true',
      '--v=0',
    ];
    const schedArgs = [
      `--kubeconfig=${kubeconfigs.scheduler}`,
      '--leader-elect=false',
      '--port=0',
      ...secureServing('kube-scheduler', healthPorts.sched),
      '--logtostderr=true',
      '--v=0',
      // server: its start; node_tree: each node it sees (our readiness signal); scheduler: each binding.
      '--vmodule=server=1,node_tree=2,scheduler=2',
    ];
    let kcm = start('kube-controller-manager', join(binDir, 'kube-controller-manager'), kcmArgs);
    let sched = start('kube-scheduler', join(binDir, 'kube-scheduler'), schedArgs);

    // RBAC for the ferry user, applied as admin (server-side apply: idempotent).
    const adminKc = new KubeConfig();
    adminKc.loadFromFile(kubeconfigs.admin);
    const rbac = adminKc.makeApiClient(RbacAuthorizationV1Api);
    const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
    await rbac.patchClusterRole({ name: 'ferry-deployer', body: FERRY_CLUSTER_ROLE, fieldManager: 'ferry-local', force: true }, ssa);
    const binding: V1ClusterRoleBinding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'ferry-deployer' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ferry-deployer' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'ferry' }],
    };
    await rbac.patchClusterRoleBinding({ name: 'ferry-deployer', body: binding, fieldManager: 'ferry-local', force: true }, ssa);
    const crds = await installLocalCrds(adminKc);
    log(`CRDs established: ${crds.join(', ')} (${Date.now() - t0} ms)`);

    let nodes: SimulatedNode[] = [];
    if (opts.simulator !== false) {
      // Serving pods' kubelet log endpoints present the apiserver's self-signed certificate (kubelet.ts).
      const kubeletTls = { cert: ca, key: readFileSync(join(certDir, 'apiserver.key'), 'utf8') };
      simulator = await startNodeSimulator(kubeconfigs.admin, { ...(opts.simulator ?? {}), kubeletTls, log });
      nodes = simulator.nodes;
    }

    // The controllers are ready once their informers have synced (1.20.2's log lines). `from`: the log's
    // length when this instance started (the log is appended to across restarts).
    const kcmReady = (p: ManagedProcess, from: number): Promise<void> =>
      waitUntil('kube-controller-manager', async () => logSince(p.logFile, from).includes('Caches are synced for deployment'), {
        proc: p,
        timeoutMs: 60_000,
        intervalMs: 100,
      });
    // The scheduler logs no cache-sync line, but (--vmodule node_tree=2) each node entering its node tree.
    const schedReady = (p: ManagedProcess, from: number): Promise<void> =>
      waitUntil(
        'kube-scheduler',
        async () => {
          const text = logSince(p.logFile, from);
          return text.includes('Starting Kubernetes Scheduler') && nodes.every((n) => text.includes(`Added node "${n.name}"`));
        },
        { proc: p, timeoutMs: 60_000, intervalMs: 100 },
      );
    await kcmReady(kcm, 0);
    await schedReady(sched, 0);
    log(`Kubernetes ${KUBE_VERSION} ready (${Date.now() - t0} ms): ${nodes.length} simulated node(s); KUBECONFIG=${kubeconfigs.ferry}`);

    /** Stops what is left of `old` (a hung instance, or the process group of a dead one), starts it again, waits until ready. */
    const again = async (old: ManagedProcess, command: string, args: string[], ready: (p: ManagedProcess, from: number) => Promise<void>) => {
      await old.stop(2000);
      // The stack is being stopped: start nothing it would not stop.
      if (stopping) throw new Error(`${old.name}: not restarted, the cluster is stopping`);
      const from = logSize(old.logFile);
      const p = start(old.name, command, args, old);
      await ready(p, from);
      return p;
    };
    const components: KubeComponent[] = [
      { name: 'etcd', process: () => etcd },
      {
        name: 'kube-apiserver',
        process: () => apiserver,
        restart: async () => {
          apiserver = await again(apiserver, join(binDir, 'kube-apiserver'), apiserverArgs, (p) => apiserverReady(p));
        },
      },
      {
        name: 'kube-controller-manager',
        process: () => kcm,
        restart: async () => {
          kcm = await again(kcm, join(binDir, 'kube-controller-manager'), kcmArgs, kcmReady);
        },
        healthy: () => healthz(healthPorts.kcm, join(root, 'kube-controller-manager-certs')),
      },
      {
        name: 'kube-scheduler',
        process: () => sched,
        restart: async () => {
          sched = await again(sched, join(binDir, 'kube-scheduler'), schedArgs, schedReady);
        },
        healthy: () => healthz(healthPorts.sched, join(root, 'kube-scheduler-certs')),
      },
    ];

    return {
      server,
      kubeconfig: kubeconfigs.ferry,
      adminKubeconfig: kubeconfigs.admin,
      nodes: nodes.map((n) => ({ name: n.name, zone: n.zone, accelerator: n.accelerator, gpus: n.gpus })),
      pids: Object.fromEntries(procs.map((p) => [p.name, p.pid])),
      processes: [...procs],
      components,
      logDir,
      stop,
    };
  } catch (e) {
    // A step that failed because a server died: say which one, and why.
    let err = e instanceof Error ? e : new Error(String(e));
    await new Promise((r) => setTimeout(r, 200));
    const dead = procs.filter((p) => died.has(p.name) && !err.message.includes(p.name));
    if (dead.length) {
      err = new Error(`${err.message}\n` + dead.map((p) => `${p.name} exited with code ${died.get(p.name)}:\n${tailLog(p.logFile)}`).join('\n'));
    }
    await stop();
    throw err;
  }
}

/** Last lines of each component's log (for error reports). */
export function kubeLogTails(logDir: string, lines = 15): string {
  return ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((n) => `--- ${n}\n${tailLog(join(logDir, `${n}.log`), lines)}`).join('\n');
}

/**
 * The local stack (`npm start`): Google's Firestore/Pub/Sub emulators and the Firebase Storage
 * emulator, a real Kubernetes control plane with simulated GKE GPU nodes, and every Cloud Function
 * served by functions-framework — wired the way Eventarc, Pub/Sub push and Cloud Scheduler wire them
 * in production. Everything listens on 127.0.0.1 only. Ctrl-C stops every process it started.
 */
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { PubSub } from '@google-cloud/pubsub';
import { startProcess, waitUntil, portOpen, stopAll, type ManagedProcess } from './proc.ts';
import { startEmulators, checkEmulatorPrerequisites, freeEmulatorPorts, freeStablePort, type EmulatorStack } from './emulators.ts';
import { startKube, kubeBinariesPresent, type KubeStack } from './kube.ts';
import { FUNCTIONS } from '../../functions/manifest.ts';
import { startStorageControlGrpcServer, type StorageControlGrpcServer } from './storage-control-grpc-server.ts';
import { servingRatesFromEnv } from './vllm-sim/time-model.ts';
import { startGkeServer, type GkeServer } from './gke-server.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../shared/domain/teardown-inventory.ts';
import { seedLocalPolicy } from './seed-policy.ts';
import { provePaths } from './stack-health.ts';
import { watchPieces, type Watcher } from './watch-pieces.ts';
import { stackPieces } from './stack-pieces.ts';
import { cleanLeftovers, recordStackProcesses, PROCESS_RECORD } from './leftovers.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_PROJECT = 'demo-ferry';
export const DEFAULT_BUCKET = 'ferry-models-local';

export interface StackOptions {
  /** State directory: logs, data, generated configs (default .ferry/stack). */
  dir?: string;
  projectId?: string;
  bucket?: string;
  /** 'default' uses firebase.json's and the documented ports; 'free' picks free ports (tests). */
  ports?: 'default' | 'free';
  /** Simulated pods become Ready this long after being bound (ms). */
  podReadyDelayMs?: number;
  /** Local Cloud Scheduler period for scheduled functions, overriding each function's own. */
  scheduleEverySeconds?: number;
  /** The Storage Control fake turns a new Anywhere Cache RUNNING this long after creation (ms, default 1500). */
  cacheCreateDelayMs?: number;
  /** Time model of the serving stand-in (default: FERRY_SIM_* env, then time-model.ts defaults; docs/serving-sim.md). */
  serving?: { bytesPerSecond?: number; cacheClientBytesPerSecond?: number };
  /** Where to write KEY=VALUE lines for the CLI (default .ferry/local.env; null: don't). */
  envFile?: string | null;
  log?: (msg: string) => void;
  /** A dead piece that cannot be restarted stopped the stack (default: print the message, exit 1). */
  onFatal?: (message: string) => void;
}

export interface Stack {
  env: Record<string, string>;
  functionUrls: Record<string, string>;
  kube: KubeStack;
  emulators: EmulatorStack;
  stop(): Promise<void>;
}

const DEFAULT_FUNCTION_PORT = 7001;

async function pickPort(mode: 'default' | 'free', preferred: number): Promise<number> {
  if (mode === 'default' && !(await portOpen(preferred))) return preferred;
  return freeStablePort();
}

/** Names what is missing, or builds it when it can build itself. Throws with one clear message. */
export function ensurePrerequisites(log: (m: string) => void): void {
  const problems = checkEmulatorPrerequisites();
  if (problems.length) {
    throw new Error(`The local stack cannot start:\n  - ${problems.join('\n  - ')}`);
  }
  if (!kubeBinariesPresent()) {
    log("Kubernetes binaries are not built yet: building them once from Debian's source package (~5 min)…");
    const r = spawnSync('bash', [join(REPO_ROOT, 'infra/local/build-kubernetes.sh')], { stdio: 'inherit' });
    if (r.status !== 0) {
      throw new Error('Building Kubernetes failed (see the output above). Re-run: bash infra/local/build-kubernetes.sh');
    }
  }
}

function slackSecret(dir: string): string {
  const file = join(dir, 'slack-signing-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

/** The console's dev token (FERRY_CONSOLE_DEV_TOKEN), kept across restarts like the Slack secret. */
function consoleDevToken(dir: string): string {
  const file = join(dir, 'console-dev-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

/** The console's address with the dev token (opening it signs the browser in with a cookie). */
export const consoleSignInUrl = (env: Record<string, string | undefined>): string | undefined =>
  env['FERRY_URL_CONSOLE'] && env['FERRY_CONSOLE_DEV_TOKEN'] ? `${env['FERRY_URL_CONSOLE']}/models?token=${env['FERRY_CONSOLE_DEV_TOKEN']}` : undefined;

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? ((m: string) => process.stdout.write(`[ferry] ${m}\n`));
  const dir = resolve(opts.dir ?? join(REPO_ROOT, '.ferry', 'stack'));
  const projectId = opts.projectId ?? DEFAULT_PROJECT;
  const bucket = opts.bucket ?? DEFAULT_BUCKET;
  const ports = opts.ports ?? 'default';
  mkdirSync(join(dir, 'logs'), { recursive: true });

  // A previous stack of this checkout killed outright left processes, ports and sockets: clean them (leftovers.ts).
  const defaultDir = opts.dir === undefined;
  await cleanLeftovers({
    dir,
    repoRoot: REPO_ROOT,
    log,
    siblings: true,
    ...(defaultDir ? { staleRecords: { file: STACK_RECORD, alsoRemove: [join(REPO_ROOT, '.ferry', 'local.env')] } } : {}),
  });

  ensurePrerequisites(log);
  const unrecord = recordStackProcesses(dir);

  const functionPorts: Record<string, number> = {};
  let next = DEFAULT_FUNCTION_PORT;
  for (const fn of FUNCTIONS) functionPorts[fn.name] = await pickPort(ports, next++);
  const functionUrls = Object.fromEntries(Object.entries(functionPorts).map(([name, port]) => [name, `http://127.0.0.1:${port}`]));
  const uploadFn = FUNCTIONS.find((f) => f.trigger.kind === 'storage');

  let kube: KubeStack | undefined;
  let emulators: EmulatorStack | undefined;
  let host: ManagedProcess | undefined;
  const timers: NodeJS.Timeout[] = [];
  let watcher: Watcher | undefined;
  let pubsub: PubSub | undefined;
  let storageControl: StorageControlGrpcServer | undefined;
  let clusterDirectory: GkeServer | undefined;
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const t of timers) clearInterval(t);
    watcher?.stop();
    await pubsub?.close().catch(() => undefined);
    await host?.stop();
    await storageControl?.stop().catch(() => undefined);
    await clusterDirectory?.stop().catch(() => undefined);
    await Promise.allSettled([kube?.stop(), emulators?.stop()]);
    await stopAll();
    unrecord();
    rmSync(join(dir, PROCESS_RECORD), { force: true });
  };

  try {
    log('starting Firestore, Pub/Sub and Storage emulators and the Kubernetes control plane…');
    const started = await Promise.allSettled([
      startEmulators({
        dir,
        projectId,
        bucket,
        ...(ports === 'free' ? { ports: await freeEmulatorPorts() } : {}),
        ...(uploadFn ? { uploadFunctionUrl: functionUrls[uploadFn.name]! } : {}),
        log,
      }),
      startKube({
        dir,
        ...(ports === 'free' ? { ports: { etcdClient: await freeStablePort(), etcdPeer: await freeStablePort(), apiserver: await freeStablePort() } } : {}),
        log,
        // vLLM pods run the serving stand-in (infra/local/vllm-sim), streaming from the Storage emulator.
        // Zonal caches are asked of the Storage Control server below (started later, hence the getter).
        simulator: {
          podReadyDelayMs: opts.podReadyDelayMs ?? 1500,
          serving: {
            storageHost: () => emulators?.storageHost,
            storageControl: () => (storageControl ? { endpoint: storageControl.endpoint, adminHost: storageControl.adminHost } : undefined),
            ...servingRatesFromEnv(process.env),
            ...opts.serving,
          },
        },
      }),
    ]);
    if (started[0].status === 'fulfilled') emulators = started[0].value;
    if (started[1].status === 'fulfilled') kube = started[1].value;
    const failed = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed.length) throw new Error(failed.map((f) => String(f.reason?.message ?? f.reason)).join('\n\n'));
    const em = emulators!;
    const k = kube!;
    // No emulator exists for Storage Control (Anywhere Cache): a server speaking its gRPC wire
    // protocol, which the production adapter's real client reaches through
    // FERRY_STORAGE_CONTROL_API_ENDPOINT (functions, CLI and tests alike). The Storage emulator has no
    // bucket metadata, so the bucket's location comes from FERRY_BUCKET_LOCATION (the server enforces it).
    const bucketLocation = process.env['FERRY_BUCKET_LOCATION'] ?? 'US-CENTRAL1';
    storageControl = await startStorageControlGrpcServer({
      port: await pickPort(ports, 7090),
      adminPort: await pickPort(ports, 7094),
      defaultLocation: bucketLocation,
      createDelayMs: opts.cacheCreateDelayMs ?? 1500,
    });

    // No emulator exists for GKE's cluster API either: a GKE + Compute REST server (gke-server.ts)
    // that the production adapter reaches through the real client (FERRY_GKE_API_ENDPOINT). It
    // holds one managed regional cluster made now, so it is never idle within a day; tests seed
    // their own. It is a list, not the Kubernetes above: scaling its pools removes no simulated node.
    clusterDirectory = await startGkeServer({
      port: await pickPort(ports, 7091),
      project: projectId,
      seed: [
        {
          location: 'us-central1',
          name: 'ferry-local-gpu',
          labels: { [MANAGED_LABEL_KEY]: MANAGED_LABEL_VALUE },
          nodePools: [
            // Regional (3 zones): GKE sizes are per zone (docs/UPSTREAM.md G7).
            { name: 'l4-pool', nodeCount: 1, zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'], autoscaling: null },
            {
              name: 'h100-pool',
              nodeCount: 1,
              zones: ['us-central1-a', 'us-central1-b', 'us-central1-c'],
              autoscaling: { limits: 'total', minNodeCount: 1, maxNodeCount: 3, locationPolicy: 'ANY' },
            },
          ],
        },
      ],
    });

    const env: Record<string, string> = {
      ...em.env,
      GOOGLE_CLOUD_PROJECT: projectId,
      KUBECONFIG: k.kubeconfig,
      FERRY_KUBE_ADMIN_KUBECONFIG: k.adminKubeconfig,
      FERRY_BUCKET: bucket,
      FERRY_MODEL_BUCKETS: bucket,
      FERRY_MODEL_PREFIX: 'models/',
      FERRY_DEPLOY_TOPIC: 'ferry-deploy-requests',
      FERRY_RESULTS_TOPIC: 'ferry-deploy-results',
      // Admitted rollouts are followed by followRollout on its own subscription (README "Deploy
      // requests and rollouts"); FERRY_DEPLOY_FOLLOW_SECONDS keeps its default (480 s).
      FERRY_FOLLOW_TOPIC: 'ferry-follow-requests',
      // The deploy policy in a database of its own, as in production (infra/firestore.tf); the
      // Firestore emulator opens a named database on first use.
      FERRY_POLICY_DATABASE: 'ferry-policy',
      FERRY_SLACK_SIGNING_SECRET: slackSecret(dir),
      // Chat-ops locally: the Slack user id ULOCALDEV may run every /ferry command (sign requests with
      // the secret above), and replies may go to http://127.0.0.1 — never set that flag in production.
      // Set FERRY_SLACK_READ_USERS / FERRY_SLACK_DEPLOY_USERS before `npm start` to use your own ids.
      FERRY_SLACK_READ_USERS: process.env['FERRY_SLACK_READ_USERS'] ?? 'ULOCALDEV',
      FERRY_SLACK_DEPLOY_USERS: process.env['FERRY_SLACK_DEPLOY_USERS'] ?? 'ULOCALDEV',
      FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL: '1',
      // The web console locally: no IAP, a dev token instead (in the URL printed below).
      FERRY_CONSOLE_DEV_TOKEN: consoleDevToken(dir),
      FERRY_STACK_DIR: dir,
      FERRY_STORAGE_CONTROL_API_ENDPOINT: storageControl.endpoint,
      // Test hooks of that server (tests only; no function reads it).
      FERRY_STORAGE_CONTROL_ADMIN_HOST: storageControl.adminHost,
      FERRY_BUCKET_LOCATION: bucketLocation,
      // No GKE locally: teardown lists, scales and deletes clusters in the fake directory above.
      FERRY_GKE_API_ENDPOINT: clusterDirectory.endpoint,
      FERRY_COMPUTE_API_ENDPOINT: clusterDirectory.endpoint,
      // Nothing local should probe the GCE metadata server for credentials (it is not there).
      METADATA_SERVER_DETECTION: 'none',
    };
    for (const fn of FUNCTIONS) env[`FERRY_URL_${fn.name.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()}`] = functionUrls[fn.name]!;
    // Where a Slack app's slash command would POST (the HTTP function that verifies and answers it).
    const slack = FUNCTIONS.find((f) => (f.name as string) === 'slackCommand');
    if (slack) env['FERRY_SLACK_URL'] = functionUrls[slack.name]!;

    // The deploy policy the demo and the tests deploy within (infra/local/policy.json).
    if ((await seedLocalPolicy({ projectId, firestoreHost: env['FIRESTORE_EMULATOR_HOST']!, databaseId: env['FERRY_POLICY_DATABASE']! })) === 'seeded')
      log('deploy policy seeded from infra/local/policy.json');

    log('starting the Cloud Functions (functions-framework)…');
    const startHost = async () => {
      const h = startProcess({
        name: 'functions',
        command: process.execPath,
        args: [join(REPO_ROOT, 'infra/local/functions-host.ts'), JSON.stringify(functionPorts)],
        logFile: join(dir, 'logs', 'functions.log'),
        env: { ...process.env, ...env, FERRY_LOG_LEVEL: process.env['FERRY_LOG_LEVEL'] ?? 'debug' },
        cwd: REPO_ROOT,
      });
      host = h;
      for (const fn of FUNCTIONS) {
        await waitUntil(`function ${fn.name}`, () => portOpen(functionPorts[fn.name]!), { proc: h, timeoutMs: 30_000 });
      }
    };
    await startHost();
    // Every piece is watched: a dead functions host is restarted (events it missed are redelivered
    // by the event delivery and Pub/Sub push); any other dead piece stops the stack, naming it.
    watcher = watchPieces(
      stackPieces({
        dir,
        host: () => host,
        restartHost: startHost,
        emulators: em,
        kube: k,
        storageControlEndpoint: storageControl.endpoint,
        gkeEndpoint: clusterDirectory.endpoint,
      }),
      {
        log,
        stopping: () => stopping,
        onFatal: async (message) => {
          await stop();
          (
            opts.onFatal ??
            ((m: string) => {
              process.stderr.write(`${m}\n`);
              process.exit(1);
            })
          )(message);
        },
      },
    );

    // Pub/Sub push subscriptions and the local Cloud Scheduler.
    pubsub = new PubSub({ projectId, apiEndpoint: em.pubsubHost });
    for (const fn of FUNCTIONS) {
      const t = fn.trigger as { kind: string; topicEnv?: string; defaultTopic?: string; localEverySeconds?: number; localKeepsPeriod?: boolean };
      if (t.kind !== 'pubsub' && t.kind !== 'schedule') continue;
      const topicName = env[t.topicEnv!] ?? t.defaultTopic!;
      env[t.topicEnv!] = topicName;
      const [topic] = await pubsub.topic(topicName).get({ autoCreate: true });
      const endpoint = `${functionUrls[fn.name]}/projects/${projectId}/topics/${topicName}`;
      // As infra/pubsub.tf: followRollout holds its push while it follows a rollout
      // (FERRY_DEPLOY_FOLLOW_SECONDS), so its deadline (600 s, the maximum) outlasts the follow.
      const ackDeadlineSeconds = fn.name === 'followRollout' ? 600 : fn.name === 'onDeployRequest' ? 300 : 60;
      await topic.createSubscription(`${fn.name}-push`, { pushConfig: { pushEndpoint: endpoint }, ackDeadlineSeconds });
      if (t.kind === 'schedule') {
        const every = (t.localKeepsPeriod ? t.localEverySeconds : undefined) ?? opts.scheduleEverySeconds ?? t.localEverySeconds ?? 60;
        const tick = () => void topic.publishMessage({ json: { scheduledAt: new Date().toISOString() } }).catch(() => undefined);
        timers.push(setInterval(tick, every * 1000));
      }
    }
    const resultsTopic = env['FERRY_RESULTS_TOPIC']!;
    await pubsub.topic(resultsTopic).get({ autoCreate: true });

    const envFile = opts.envFile === undefined ? join(REPO_ROOT, '.ferry', 'local.env') : opts.envFile;
    if (envFile) {
      mkdirSync(dirname(envFile), { recursive: true });
      const body = Object.entries(env)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k2, v]) => `${k2}=${v}`)
        .join('\n');
      // 0600: it holds the local Slack signing secret.
      writeFileSync(envFile, `# written by \`npm start\` (${new Date().toISOString()}); removed when it stops\n${body}\n`, { mode: 0o600 });
      chmodSync(envFile, 0o600); // the mode above applies only to a new file
    }
    // `ready` means every path carried a real message (issue #23), not just that ports are open.
    await provePaths(env, log);
    return { env, functionUrls, kube: k, emulators: em, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Record of a running `npm start`, so `npm run demo` and tests can reuse it. */
export interface StackRecord {
  pid: number;
  env: Record<string, string>;
  functionUrls: Record<string, string>;
  startedAt: string;
}

export const STACK_RECORD = join(REPO_ROOT, '.ferry', 'stack.json');

export function runningStack(): StackRecord | undefined {
  if (!existsSync(STACK_RECORD)) return undefined;
  try {
    const rec = JSON.parse(readFileSync(STACK_RECORD, 'utf8')) as StackRecord;
    process.kill(rec.pid, 0);
    return rec;
  } catch {
    return undefined;
  }
}

async function cli(): Promise<void> {
  const existing = runningStack();
  if (existing) {
    process.stdout.write(`ferry: the local stack is already running (pid ${existing.pid}); see .ferry/local.env\n`);
    process.exit(0);
  }
  const t0 = Date.now();
  let stack: Stack;
  try {
    stack = await startStack({
      scheduleEverySeconds: Number(process.env['FERRY_LOCAL_SCHEDULE_SECONDS'] ?? 5),
      // A dead piece stopped the stack (watch-pieces.ts): nothing may point at it any more.
      onFatal: (m) => {
        rmSync(STACK_RECORD, { force: true });
        rmSync(join(REPO_ROOT, '.ferry', 'local.env'), { force: true });
        process.stderr.write(`${m}\n`);
        process.exit(1);
      },
    });
  } catch (e) {
    process.stderr.write(`ferry: the local stack failed to start:\n${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  const rec: StackRecord = { pid: process.pid, env: stack.env, functionUrls: stack.functionUrls, startedAt: new Date().toISOString() };
  writeFileSync(STACK_RECORD, JSON.stringify(rec, null, 2), { mode: 0o600 });
  chmodSync(STACK_RECORD, 0o600);
  for (const [name, url] of Object.entries(stack.functionUrls)) process.stdout.write(`  ${name.padEnd(22)} ${url}\n`);
  process.stdout.write(`  logs                   ${stack.env['FERRY_STACK_DIR']}/logs\n`);
  process.stdout.write(`  web console            ${consoleSignInUrl(stack.env)}\n`);
  process.stdout.write(`ferry: ready in ${((Date.now() - t0) / 1000).toFixed(1)} s — env in .ferry/local.env; Ctrl-C stops everything\n`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nferry: stopping…\n');
    await stack.stop();
    rmSync(STACK_RECORD, { force: true });
    rmSync(join(REPO_ROOT, '.ferry', 'local.env'), { force: true });
    process.stdout.write('ferry: stopped\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await cli();

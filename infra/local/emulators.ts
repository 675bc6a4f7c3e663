/**
 * The Google Cloud emulators for local runs and tests, started through the Firebase Emulator Suite
 * (firebase-tools 14.27, offline) from the repository's firebase.json:
 *
 *   - Firestore and Pub/Sub: Google's own emulators, preinstalled as Debian packages
 *     (google-cloud-cli-firestore-emulator, google-cloud-cli-pubsub-emulator). firebase-tools would
 *     download them; the *_EMULATOR_BINARY_PATH overrides point it at the installed ones instead.
 *     The Firestore jar has no Main-Class, so a manifest-only launcher jar (Main-Class + Class-Path)
 *     is built once into the cache.
 *   - Storage: firebase-tools' own Node implementation of the GCS JSON API. It insists on starting a
 *     "rules runtime" jar that cannot be downloaded here; infra/local/rules-runtime/RulesRuntime.java
 *     is an always-permit stand-in compiled once with javac into the cache. storage.rules are NOT
 *     evaluated locally (GCS JSON API calls never consult them anyway).
 *   - Storage events: no Functions emulator. infra/local/storage-events-tap.ts is preloaded into the
 *     firebase process and takes the Storage emulator's finalize events where it emits them; a
 *     bounded queue with retries (infra/local/event-delivery.ts) delivers them to ferry's
 *     functions-framework upload handler as Eventarc would (binary-mode CloudEvents, at least once).
 *
 * Run alone: `./node_modules/.bin/node infra/local/emulators.ts` (state under .ferry/emulators-dev;
 * prints `export KEY=VALUE` lines; Ctrl-C stops everything).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freeStablePort, portOpen, startProcess, tailLog, waitUntil, type ManagedProcess } from './proc.ts';

export { freeStablePort };

export interface EmulatorPorts {
  firestore: number;
  pubsub: number;
  storage: number;
  functions: number;
  hub: number;
  logging: number;
  eventarc: number;
  tasks: number;
}

export interface EmulatorOptions {
  /** State directory; logs and the generated config go under dir/emulators. */
  dir: string;
  /** A demo-* project id (firebase then never reaches for real credentials or the network). */
  projectId: string;
  /** The bucket ferry watches (written into the firebase config; events of every bucket are delivered). */
  bucket: string;
  /**
   * Ports; any not given are firebase.json's, or a free port when that one is busy. Tests should
   * pass free ports for all of them.
   */
  ports?: Partial<EmulatorPorts>;
  /** Where finalize CloudEvents are delivered. Unset: events are logged and dropped. */
  uploadFunctionUrl?: string;
  /** Deliver Storage events (default true). */
  functions?: boolean;
  /** Deliveries in flight at once (default 8). */
  eventConcurrency?: number;
  /** Startup budget (default 120 s). */
  timeoutMs?: number;
  log?: (m: string) => void;
}

export interface EmulatorStack {
  projectId: string;
  /** 127.0.0.1:P (FIRESTORE_EMULATOR_HOST form). */
  firestoreHost: string;
  /** 127.0.0.1:P (PUBSUB_EMULATOR_HOST form). */
  pubsubHost: string;
  /** http://127.0.0.1:P (the STORAGE_EMULATOR_HOST form @google-cloud/storage wants). */
  storageHost: string;
  ports: EmulatorPorts;
  /** GOOGLE_CLOUD_PROJECT, FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, STORAGE_EMULATOR_HOST, FIREBASE_STORAGE_EMULATOR_HOST, FERRY_EVENTS_URL (event delivery status). */
  env: Record<string, string>;
  /** The firebase process's log (every emulator's output is relayed into it). */
  logFile: string;
  /** The Storage-event delivery's status API (http://127.0.0.1:P; GET /status, /deliveries?prefix=), when delivering. */
  eventDeliveryUrl?: string;
  /** The firebase process and everything it spawned (the JVMs run in their own sessions). */
  processes(): ProcInfo[];
  /** The firebase process (Storage emulator and event delivery inside; the stack watches it). */
  firebase: ManagedProcess;
  stop(): Promise<void>;
}

export interface ProcInfo {
  pid: number;
  comm: string;
  rssKiB: number;
  /** /proc/PID/stat starttime: tells the process apart from a later one that reuses its pid. */
  starttime: string;
}

/** True while that very process (not a zombie, not a reuse of its pid) still runs. */
export function processAlive(p: ProcInfo): boolean {
  const now = readStat(p.pid);
  return now !== undefined && now.starttime === p.starttime;
}

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const rootConfigFile = join(repoRoot, 'firebase.json');
const eventsTap = join(here, 'storage-events-tap.ts');
const rulesRuntimeSource = join(here, 'rules-runtime', 'RulesRuntime.java');
const firebaseCli = join(repoRoot, 'node_modules', 'firebase-tools', 'lib', 'bin', 'firebase.js');
const repoNode = join(repoRoot, 'node_modules', 'node', 'bin', 'node');

const SDK_PLATFORM = '/usr/lib/google-cloud-sdk/platform';
const FIRESTORE_JAR = `${SDK_PLATFORM}/cloud-firestore-emulator/cloud-firestore-emulator.jar`;
const PUBSUB_LAUNCHER = `${SDK_PLATFORM}/pubsub-emulator/bin/cloud-pubsub-emulator`;
const FIRESTORE_MAIN = 'com.google.cloud.datastore.emulator.firestore.CloudFirestore';

const PORT_KEYS = ['firestore', 'pubsub', 'storage', 'functions', 'hub', 'logging', 'eventarc', 'tasks'] as const;
const FALLBACK_PORTS: EmulatorPorts = {
  firestore: 8080,
  pubsub: 8085,
  storage: 9199,
  functions: 5001,
  hub: 4400,
  logging: 4500,
  eventarc: 9299,
  tasks: 9499,
};

type JsonObject = Record<string, unknown>;

function readRootConfig(): JsonObject {
  return JSON.parse(readFileSync(rootConfigFile, 'utf8')) as JsonObject;
}

/** The fixed ports in the root firebase.json (defaults where it has none). */
export function defaultPorts(): EmulatorPorts {
  const emus = (readRootConfig()['emulators'] ?? {}) as Record<string, { port?: number } | undefined>;
  const out = { ...FALLBACK_PORTS };
  for (const k of PORT_KEYS) {
    const p = emus[k]?.port;
    if (typeof p === 'number') out[k] = p;
  }
  return out;
}

/** A free port for every emulator (what tests and parallel stacks should pass as `ports`). */
export async function freeEmulatorPorts(): Promise<EmulatorPorts> {
  const out = { ...FALLBACK_PORTS };
  const used = new Set<number>();
  for (const k of PORT_KEYS) {
    const p = await freeStablePort(used);
    used.add(p);
    out[k] = p;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Prerequisites

function commandWorks(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

/** Human messages naming what to install; [] when everything is present. */
export function checkEmulatorPrerequisites(): string[] {
  const problems: string[] = [];
  if (!commandWorks('java', ['-version'])) {
    problems.push('Java is missing (the Firestore, Pub/Sub and Storage-rules emulators are JVM programs): apt-get install openjdk-17-jre-headless');
  }
  const art = builtArtifacts();
  const built = existsSync(art.rulesJar) && existsSync(art.firestoreJar);
  if (!built && !(commandWorks('javac', ['-version']) && commandWorks('jar', ['--version']))) {
    problems.push(
      'javac/jar are missing (needed once to build the Storage rules-runtime stand-in and the Firestore launcher jar): apt-get install openjdk-17-jdk-headless',
    );
  }
  const missingPkgs: string[] = [];
  if (!existsSync(FIRESTORE_JAR)) missingPkgs.push(`google-cloud-cli-firestore-emulator (expected ${FIRESTORE_JAR})`);
  if (!existsSync(PUBSUB_LAUNCHER)) missingPkgs.push(`google-cloud-cli-pubsub-emulator (expected ${PUBSUB_LAUNCHER})`);
  if (missingPkgs.length) {
    problems.push(
      `Google's emulators are missing: ${missingPkgs.join('; ')}. They come preinstalled on the machine image as Debian ` +
        'packages whose apt source is not reachable from here, so they cannot be reinstalled on this machine: use a machine ' +
        'image that has them (packages google-cloud-cli-firestore-emulator and google-cloud-cli-pubsub-emulator).',
    );
  }
  if (!existsSync(firebaseCli)) {
    problems.push(`firebase-tools is not installed in ${join(repoRoot, 'node_modules')}: run npm ci at the repository root`);
  }
  if (nodeForFirebase() === undefined) {
    problems.push(
      'Node 24 is needed to run firebase with the TypeScript storage-events tap: run npm ci at the repository root (it installs node@24 into node_modules)',
    );
  }
  return problems;
}

function nodeForFirebase(): string | undefined {
  if (existsSync(repoNode)) return repoNode;
  if (Number(process.versions.node.split('.')[0]) === 24) return process.execPath;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Cached artifacts (built once with the JDK)

function cacheRoot(): string {
  const base = process.env['FERRY_CACHE_DIR'] || join(homedir(), '.cache', 'ferry');
  return join(base, 'emulators');
}

function sha(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

function builtArtifacts(): { rulesJar: string; firestoreJar: string } {
  const root = cacheRoot();
  const src = existsSync(rulesRuntimeSource) ? readFileSync(rulesRuntimeSource, 'utf8') : '';
  return {
    rulesJar: join(root, `rules-runtime-${sha(src)}.jar`),
    firestoreJar: join(root, `firestore-launcher-${sha(FIRESTORE_JAR, FIRESTORE_MAIN)}.jar`),
  };
}

function run(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
}

/** Builds the two jars unless already cached; atomic (build in a temp dir, then rename). */
export function ensureArtifacts(log: (m: string) => void = () => {}): { rulesJar: string; firestoreJar: string } {
  const art = builtArtifacts();
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  if (!existsSync(art.rulesJar)) {
    log(`building the Storage rules-runtime stand-in -> ${art.rulesJar}`);
    const tmp = mkdtempSync(join(root, 'build-'));
    try {
      mkdirSync(join(tmp, 'classes'));
      run('javac', ['--release', '11', '-d', join(tmp, 'classes'), rulesRuntimeSource]);
      run('jar', ['--create', '--file', join(tmp, 'out.jar'), '--main-class', 'RulesRuntime', '-C', join(tmp, 'classes'), '.']);
      renameSync(join(tmp, 'out.jar'), art.rulesJar);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (!existsSync(art.firestoreJar)) {
    log(`building the Firestore launcher jar -> ${art.firestoreJar}`);
    const tmp = mkdtempSync(join(root, 'build-'));
    try {
      // Manifest-only jar: firebase runs `java -jar <it> --port ...`; Class-Path pulls in the real one.
      writeFileSync(join(tmp, 'MANIFEST.MF'), `Manifest-Version: 1.0\nMain-Class: ${FIRESTORE_MAIN}\nClass-Path: ${pathToFileURL(FIRESTORE_JAR).href}\n`);
      mkdirSync(join(tmp, 'empty'));
      run('jar', ['--create', '--file', join(tmp, 'out.jar'), '--manifest', join(tmp, 'MANIFEST.MF'), '-C', join(tmp, 'empty'), '.']);
      renameSync(join(tmp, 'out.jar'), art.firestoreJar);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return art;
}

// ---------------------------------------------------------------------------------------------
// /proc helpers: firebase starts the Firestore and Pub/Sub JVMs detached (their own sessions), so
// killing firebase's process group does not reach them; track the whole descendant tree instead.

interface ProcStat {
  pid: number;
  ppid: number;
  starttime: string;
  comm: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    // f[0]=state f[1]=ppid ... f[19]=starttime
    if (f[0] === 'Z') return undefined;
    return { pid, ppid: Number(f[1]), starttime: f[19] ?? '', comm };
  } catch {
    return undefined;
  }
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = readStat(Number(e));
    if (st) out.push(st);
  }
  return out;
}

function descendants(root: number): ProcStat[] {
  const stats = allStats();
  const kids = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const list = kids.get(s.ppid) ?? [];
    list.push(s);
    kids.set(s.ppid, list);
  }
  const self = stats.find((s) => s.pid === root);
  const out: ProcStat[] = self ? [self] : [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      queue.push(k.pid);
    }
  }
  return out;
}

function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function sameProcessAlive(p: ProcStat): boolean {
  const now = readStat(p.pid);
  return now !== undefined && now.starttime === p.starttime;
}

// ---------------------------------------------------------------------------------------------

async function choosePorts(wanted: Partial<EmulatorPorts> | undefined, log: (m: string) => void): Promise<EmulatorPorts> {
  const defaults = defaultPorts();
  const out = { ...defaults };
  const used = new Set<number>(Object.values(defaults));
  for (const k of PORT_KEYS) {
    const given = wanted?.[k];
    if (given !== undefined) {
      out[k] = given;
    } else if (await portOpen(defaults[k])) {
      const p = await freeStablePort(used);
      log(`port ${defaults[k]} (${k}) is busy; using ${p}`);
      out[k] = p;
    }
    used.add(out[k]);
  }
  return out;
}

function writeGeneratedConfig(opts: EmulatorOptions, emuDir: string, ports: EmulatorPorts): string {
  const cfg = readRootConfig();
  const emus = { ...((cfg['emulators'] ?? {}) as JsonObject) };
  for (const k of PORT_KEYS) {
    emus[k] = { ...((emus[k] ?? {}) as JsonObject), host: '127.0.0.1', port: ports[k] };
  }
  emus['ui'] = { enabled: false };
  emus['singleProjectMode'] = true;
  cfg['emulators'] = emus;
  // firebase resolves these with path.join(projectDir, …), so they must be relative to emuDir.
  // firebase refuses a rules file outside the project directory: use a copy.
  const storage = (cfg['storage'] ?? {}) as JsonObject;
  copyFileSync(join(repoRoot, String(storage['rules'] ?? 'storage.rules')), join(emuDir, 'storage.rules'));
  cfg['storage'] = { ...storage, rules: 'storage.rules' };
  // No Functions emulator (see the header): storage events go through the tap.
  delete cfg['functions'];
  delete emus['functions'];
  const file = join(emuDir, 'firebase.json');
  writeFileSync(file, JSON.stringify(cfg, null, 2) + '\n');
  return file;
}

/** The tap's status API answers (it is installed, and knows where to deliver). */
async function deliveryReady(url: string): Promise<boolean> {
  const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) return false;
  const body = (await res.json()) as { url?: unknown };
  return typeof body.url === 'string' || body.url === null;
}

/** Written by firebase into its cwd (emuDir), one per JVM emulator. */
const JVM_LOGS = ['firestore-debug.log', 'pubsub-debug.log'];

/**
 * firebase only checks that a port is free before starting a JVM, and reports the emulator ready
 * once *something* listens there; a JVM that lost its port to another process is only visible in
 * its own log.
 */
function bindFailure(emuDir: string): string | undefined {
  for (const f of JVM_LOGS) {
    let text: string;
    try {
      text = readFileSync(join(emuDir, f), 'utf8');
    } catch {
      continue;
    }
    if (/BindException|Address already in use/.test(text)) {
      return `${f.replace(/-debug\.log$/, '')} emulator could not bind its port (another process took it): see ${join(emuDir, f)}`;
    }
  }
  return undefined;
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status < 500;
}

export async function startEmulators(opts: EmulatorOptions): Promise<EmulatorStack> {
  const log = opts.log ?? (() => {});
  if (!/^demo-[a-z0-9-]+$/.test(opts.projectId)) {
    throw new Error(`projectId must be a demo-* project id (got ${opts.projectId}): demo projects never touch real resources`);
  }
  const problems = checkEmulatorPrerequisites();
  if (problems.length) throw new Error(`cannot start the emulators:\n  - ${problems.join('\n  - ')}`);
  const withFunctions = opts.functions ?? true;
  const art = ensureArtifacts(log);
  const emuDir = resolve(opts.dir, 'emulators');
  mkdirSync(emuDir, { recursive: true });
  const ports = await choosePorts(opts.ports, log);
  const configFile = writeGeneratedConfig(opts, emuDir, ports);
  const logFile = join(emuDir, 'firebase.log');
  writeFileSync(logFile, '');
  for (const f of JVM_LOGS) rmSync(join(emuDir, f), { force: true }); // firebase recreates them

  const only = ['firestore', 'pubsub', 'storage'].join(',');
  const deliveryPort = withFunctions ? await freeStablePort(new Set(Object.values(ports))) : 0;
  const eventDeliveryUrl = withFunctions ? `http://127.0.0.1:${deliveryPort}` : undefined;
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A caller's emulator variables must not leak into firebase.
  for (const k of Object.keys(env)) if (k.endsWith('_EMULATOR_HOST')) delete env[k];
  Object.assign(env, {
    CI: 'true',
    NO_UPDATE_NOTIFIER: '1',
    // The functions emulator runs `npm show firebase-functions` at every start (10 s timeout): answer from the cache.
    npm_config_offline: 'true',
    FIRESTORE_EMULATOR_BINARY_PATH: art.firestoreJar,
    PUBSUB_EMULATOR_BINARY_PATH: PUBSUB_LAUNCHER,
    STORAGE_EMULATOR_BINARY_PATH: art.rulesJar,
    FERRY_BUCKET: opts.bucket,
    FERRY_UPLOAD_FUNCTION_URL: withFunctions ? (opts.uploadFunctionUrl ?? '') : '',
    FERRY_EVENT_DELIVERY_PORT: String(deliveryPort),
    FERRY_EVENT_CONCURRENCY: String(opts.eventConcurrency ?? 8),
    // The Storage emulator keeps blobs under os.tmpdir()/firebase/storage, shared by every instance
    // on the machine: one stack starting would delete another's objects. Each stack gets its own.
    TMPDIR: join(emuDir, 'tmp'),
  });
  mkdirSync(join(emuDir, 'tmp'), { recursive: true });
  const node = nodeForFirebase()!;
  const args = [
    ...(withFunctions ? ['--import', pathToFileURL(eventsTap).href] : []),
    firebaseCli,
    'emulators:start',
    '--only',
    only,
    '--project',
    opts.projectId,
    '--config',
    configFile,
  ];
  log(`starting: firebase ${args.slice(args.indexOf(firebaseCli) + 1).join(' ')} (log: ${logFile})`);
  const started = Date.now();
  const proc = startProcess({ name: 'firebase emulators', command: node, args, logFile, env, cwd: emuDir });

  const seen = new Map<number, ProcStat>();
  const pidFile = join(emuDir, 'pids');
  const track = (): void => {
    let added = false;
    for (const p of descendants(proc.pid)) {
      if (!seen.has(p.pid)) {
        seen.set(p.pid, p);
        added = true;
      }
    }
    if (added) writeFileSync(pidFile, [...seen.values()].map((p) => `${p.pid} ${p.starttime}\n`).join(''));
  };
  track();
  const reaper = startReaper(proc.pid, pidFile, join(emuDir, 'reaper.log'));
  const stop = makeStop(proc, seen, track, reaper);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  let watching = true;
  // Fails the start as soon as a JVM reports it lost its port (waitUntil's probes swallow errors).
  const clashWatch = (async () => {
    while (watching) {
      const clash = bindFailure(emuDir);
      if (clash) throw new Error(clash);
      await delay(250, false);
    }
  })();
  try {
    const wait = (what: string, probe: () => Promise<boolean>) =>
      waitUntil(
        what,
        async () => {
          track();
          return probe();
        },
        { proc, timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)), intervalMs: 200 },
      );
    const ready = async () => {
      await wait('firebase emulators', async () => readFileSync(logFile, 'utf8').includes('All emulators ready'));
      await wait('Firestore emulator', () => httpOk(`http://127.0.0.1:${ports.firestore}/`));
      await wait('Pub/Sub emulator', () => httpOk(`http://127.0.0.1:${ports.pubsub}/`));
      await wait('Storage emulator', () => httpOk(`http://127.0.0.1:${ports.storage}/storage/v1/b/${encodeURIComponent(opts.bucket)}/o?maxResults=1`));
      if (eventDeliveryUrl) await wait('Storage event delivery', () => deliveryReady(eventDeliveryUrl));
    };
    const readyP = ready();
    readyP.catch(() => undefined); // if the clash watch wins, the stop below fails the waits: nothing to report twice
    await Promise.race([readyP, clashWatch]);
    const clash = bindFailure(emuDir);
    if (clash) throw new Error(clash);
    track();
  } catch (e) {
    await stop();
    const msg = e instanceof Error ? e.message : String(e);
    // waitUntil's errors already end with the log's tail; the rest get it here.
    const tail = msg.includes(tailLog(logFile, 3)) ? '' : `\n--- ${logFile} (tail) ---\n${tailLog(logFile, 40)}`;
    throw new Error(`cannot start the emulators: ${msg}${tail}\n(full log: ${logFile})`, { cause: e });
  } finally {
    watching = false;
    clashWatch.catch(() => undefined);
  }
  log(`emulators ready in ${Date.now() - started} ms`);

  const firestoreHost = `127.0.0.1:${ports.firestore}`;
  const pubsubHost = `127.0.0.1:${ports.pubsub}`;
  const storageHost = `http://127.0.0.1:${ports.storage}`;
  return {
    projectId: opts.projectId,
    firestoreHost,
    pubsubHost,
    storageHost,
    ports,
    logFile,
    ...(eventDeliveryUrl ? { eventDeliveryUrl } : {}),
    env: {
      GOOGLE_CLOUD_PROJECT: opts.projectId,
      FIRESTORE_EMULATOR_HOST: firestoreHost,
      PUBSUB_EMULATOR_HOST: pubsubHost,
      STORAGE_EMULATOR_HOST: storageHost,
      FIREBASE_STORAGE_EMULATOR_HOST: `127.0.0.1:${ports.storage}`,
      ...(eventDeliveryUrl ? { FERRY_EVENTS_URL: eventDeliveryUrl } : {}),
    },
    firebase: proc,
    processes() {
      track();
      return descendants(proc.pid).map((p) => ({ pid: p.pid, comm: p.comm, rssKiB: rssKiB(p.pid), starttime: p.starttime }));
    },
    stop,
  };
}

/**
 * A tiny watchdog in its own session: if this process dies without calling stop() (crash, SIGKILL,
 * a test runner's timeout) or firebase dies on its own, it stops firebase and kills the JVMs that
 * firebase started detached (recorded in pidFile as "pid starttime" lines), so nothing outlives us.
 */
const REAPER_SCRIPT = `
owner=$1 fb=$2 pids=$3
alive() { kill -0 "$1" 2>/dev/null; }
while alive "$owner" && alive "$fb"; do sleep 1; done
if alive "$fb"; then
  kill -INT "$fb" 2>/dev/null
  for _ in $(seq 1 75); do alive "$fb" || break; sleep 0.2; done
fi
kill -KILL -- "-$fb" 2>/dev/null
for sig in TERM KILL; do
  [ -f "$pids" ] || break
  while read -r pid start; do
    now=$(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null)
    [ -n "$now" ] && [ "$now" = "$start" ] && kill "-$sig" "$pid" 2>/dev/null
  done < "$pids"
  sleep 3
done
exit 0
`;

function startReaper(firebasePid: number, pidFile: string, logFile: string): ManagedProcess {
  return startProcess({
    name: 'emulators reaper',
    command: 'bash',
    args: ['-c', REAPER_SCRIPT, 'ferry-emulators-reaper', String(process.pid), String(firebasePid), pidFile],
    logFile,
  });
}

function makeStop(proc: ManagedProcess, seen: Map<number, ProcStat>, track: () => void, reaper: ManagedProcess): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      track();
      // SIGINT is firebase's clean shutdown (it stops each emulator); proc.stop() then sends TERM and
      // KILL to firebase's own process group if it lingers.
      try {
        process.kill(proc.pid, 'SIGINT');
      } catch {
        /* gone */
      }
      await Promise.race([proc.exited, delay(15_000, false)]); // firebase's own handle keeps us alive meanwhile
      await proc.stop(3000);
      // Anything it spawned in another session (the JVMs) and that outlived it.
      const left = [...seen.values()].filter(sameProcessAlive);
      for (const p of left) safeKill(p.pid, 'SIGTERM');
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && left.some(sameProcessAlive)) await delay(100);
      for (const p of left) if (sameProcessAlive(p)) safeKill(p.pid, 'SIGKILL');
      await reaper.stop(1000);
    })());
}

/** A sleep; unref'd ones do not keep the process alive (a timer that lost a race must not delay exit). */
function delay(ms: number, ref = true): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    if (!ref) t.unref();
  });
}

function safeKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

// ---------------------------------------------------------------------------------------------
// Standalone: ./node_modules/.bin/node infra/local/emulators.ts

async function main(): Promise<void> {
  const projectId = process.env['GOOGLE_CLOUD_PROJECT']?.startsWith('demo-') ? process.env['GOOGLE_CLOUD_PROJECT'] : 'demo-ferry';
  const bucket = process.env['FERRY_BUCKET'] || 'ferry-models';
  const uploadFunctionUrl = process.env['FERRY_UPLOAD_FUNCTION_URL'] || undefined;
  const dir = join(repoRoot, '.ferry', 'emulators-dev');
  const log = (m: string) => console.error(`[emulators] ${m}`);
  const stack = await startEmulators({ dir, projectId, bucket, uploadFunctionUrl, log });
  for (const [k, v] of Object.entries(stack.env)) console.log(`export ${k}=${v}`);
  console.log(`export FERRY_BUCKET=${bucket}`);
  log(`bucket ${bucket}; finalize events -> ${uploadFunctionUrl ?? '(unset: set FERRY_UPLOAD_FUNCTION_URL to deliver finalize events)'}`);
  if (stack.eventDeliveryUrl) log(`event delivery status: ${stack.eventDeliveryUrl}/status`);
  log(`log: ${stack.logFile}; Ctrl-C to stop`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  setInterval(() => {}, 1 << 30);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

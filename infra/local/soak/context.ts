/**
 * What every soak scenario shares: the stack's environment, clients of its emulators and of its
 * kube-apiserver, and small helpers (settle a version, upload the reference checkpoint, post a
 * CloudEvent or a Pub/Sub push, sign a Slack request). Everything talks to 127.0.0.1 only.
 */
import { readdirSync, readFileSync, statSync, openSync, readSync, closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { Storage, type Bucket } from '@google-cloud/storage';
import { Firestore } from '@google-cloud/firestore';
import { PubSub, type Topic } from '@google-cloud/pubsub';
import { KubeConfig, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { FirestoreRolloutState } from '../../../shared/adapters/firestore-rollouts.ts';
import { isTerminalPhase, type Rollout } from '../../../shared/domain/rollout.ts';
import { REPO_ROOT } from '../stack.ts';

/** One line of the soak's table. */
export interface Figures {
  scenario: string;
  tried: number;
  /** Answered as designed: acknowledged, or refused with its reason. */
  held: number;
  /** An event or request whose effect never showed. */
  lost: number;
  /** Work done twice (a second validation of one content, a second rollout for one request). */
  duplicated: number;
  /** Still not settled when the scenario's time ran out. */
  stuck: number;
  note: string;
}

export interface Scenario {
  /** What `npm run soak -- <name>` picks it by. */
  name: string;
  /** Group name: picks every scenario of the group. */
  group: string;
  what: string;
  run(ctx: SoakContext): Promise<Figures[]>;
}

export const LLAMA = join(REPO_ROOT, 'test', 'fixtures', 'checkpoints', 'llama-sharded');
export const say = (m: string): void => void process.stderr.write(`[soak] ${m}\n`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const uid = (): string => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
/** Namespaces the local deploy policy admits (infra/local/policy.json: demo, ml, ferry-*). */
export const SOAK_NS = 'ferry-soak';

export interface HttpAnswer {
  status: number;
  text: string;
  ms: number;
}

/** POST with a deadline; a refused connection or a timeout is status 0. */
export async function post(url: string, headers: Record<string, string>, body: string | Buffer, timeoutMs = 120_000): Promise<HttpAnswer> {
  const t0 = Date.now();
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, text: await res.text(), ms: Date.now() - t0 };
  } catch (e) {
    return { status: 0, text: String(e), ms: Date.now() - t0 };
  }
}

/**
 * A declared body of `bytes` spaces: the server may answer (413, or an ack) and close before the client has sent
 * it all; fetch then reports only "fetch failed", so node:http reads the early answer.
 */
export function postEarly(url: string, bytes: number, headers: Record<string, string>): Promise<HttpAnswer> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let answered = false;
    let error = '';
    const done = (a: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      resolve(a);
    };
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': bytes } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), ms: Date.now() - t0 });
        req.destroy();
      });
      res.on('error', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), ms: Date.now() - t0 }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      error = `${e.code ?? ''} ${e.message}`;
    });
    // The connection closed with no answer read (the server cut it at the cap without a word).
    req.on('close', () => setTimeout(() => done({ status: 0, text: `closed without an answer ${error}`, ms: Date.now() - t0 }), 1000));
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let left = bytes;
    const pump = (): void => {
      while (left > 0 && !req.destroyed) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    // Headers first: a server that refuses by Content-Length answers before any byte of the body
    // (then nothing is written, and no EPIPE races the answer); otherwise send it all.
    req.flushHeaders();
    setTimeout(() => {
      if (!answered) pump();
    }, 1500);
  });
}

/** An answer that leaks nothing: no HTML error page, no file paths, no stack trace. */
export const cleanAnswer = (r: HttpAnswer): boolean => r.status > 0 && r.status < 500 && !/<html|\/work\/|node_modules|\n\s+at /i.test(r.text);

/** Waits for `probe` to return something `done` accepts, or gives the last value at the deadline. */
export async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, everyMs = 500): Promise<{ value: T; ok: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v: T;
    try {
      v = await probe();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(everyMs);
      continue;
    }
    if (done(v)) return { value: v, ok: true };
    if (Date.now() > deadline) return { value: v, ok: false };
    await sleep(everyMs);
  }
}

export const percentile = (xs: number[], p: number): number =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN;

export class SoakContext {
  readonly env: Record<string, string>;
  readonly storage: Storage;
  readonly bucket: Bucket;
  readonly db: Firestore;
  readonly rollouts: FirestoreRolloutState;
  readonly pubsub: PubSub;
  readonly deployTopic: Topic;
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;
  readonly urls: { upload: string; deploy: string; slack: string; events: string };
  readonly stackDir: string;

  constructor(env: Record<string, string>) {
    this.env = env;
    for (const [k, v] of Object.entries(env)) if (k.endsWith('_EMULATOR_HOST') || k === 'GOOGLE_CLOUD_PROJECT') process.env[k] = v;
    process.env['METADATA_SERVER_DETECTION'] = 'none';
    const project = env['GOOGLE_CLOUD_PROJECT']!;
    this.storage = new Storage({ projectId: project, apiEndpoint: env['STORAGE_EMULATOR_HOST']! });
    this.bucket = this.storage.bucket(env['FERRY_BUCKET']!);
    this.db = new Firestore({ projectId: project });
    this.rollouts = new FirestoreRolloutState(this.db);
    this.pubsub = new PubSub({ projectId: project });
    this.deployTopic = this.pubsub.topic(env['FERRY_DEPLOY_TOPIC']!, { batching: { maxMessages: 1, maxMilliseconds: 0 } });
    const kc = new KubeConfig();
    kc.loadFromFile(env['FERRY_KUBE_ADMIN_KUBECONFIG']!);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.urls = {
      upload: env['FERRY_URL_ON_CHECKPOINT_UPLOAD']!,
      deploy: env['FERRY_URL_ON_DEPLOY_REQUEST']!,
      slack: env['FERRY_SLACK_URL']!,
      events: env['FERRY_EVENTS_URL']!,
    };
    this.stackDir = env['FERRY_STACK_DIR']!;
  }

  async close(): Promise<void> {
    await this.pubsub.close().catch(() => undefined);
    await this.db.terminate().catch(() => undefined);
  }

  // ---- versions ------------------------------------------------------------------------------

  async version(model: string, v: string): Promise<Record<string, unknown> | undefined> {
    return (await this.db.collection('models').doc(model).collection('versions').doc(v).get()).data();
  }

  async settle(model: string, v: string, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
    const r = await waitFor(
      () => this.version(model, v),
      (d) => !!d && (d['status'] === 'valid' || d['status'] === 'invalid'),
      timeoutMs,
    );
    return r.value;
  }

  /** The Storage emulator drops keep-alive sockets under load (EPIPE): retry a write, as `ferry upload` does. */
  async save(name: string, bytes: Buffer): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.bucket.file(name).save(bytes, { resumable: false });
        return;
      } catch (e) {
        if (attempt >= 5 || !/EPIPE|ECONNRESET|socket hang up/.test(String(e))) throw e;
        await sleep(200 * attempt);
      }
    }
  }

  /** The reference tiny Llama under `prefix`, every file at once. */
  async uploadFixture(prefix: string): Promise<Array<{ name: string; generation: string }>> {
    const out: Array<{ name: string; generation: string }> = [];
    await Promise.all(
      readdirSync(LLAMA).map(async (f) => {
        await this.save(prefix + f, readFileSync(join(LLAMA, f)));
        const [md] = await this.bucket.file(prefix + f).getMetadata();
        out.push({ name: prefix + f, generation: String(md.generation) });
      }),
    );
    return out;
  }

  /** Uploads the reference checkpoint as model/version and waits for it to be valid. */
  async validVersion(model: string, version: string, timeoutMs = 180_000): Promise<boolean> {
    await this.uploadFixture(`models/${model}/${version}/`);
    return (await this.settle(model, version, timeoutMs))?.['status'] === 'valid';
  }

  // ---- CloudEvents and Pub/Sub pushes -------------------------------------------------------------

  ceHeaders(id: string, name: string): Record<string, string> {
    return {
      'content-type': 'application/json',
      'ce-id': id,
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.storage.object.v1.finalized',
      'ce-source': `//storage.googleapis.com/projects/_/buckets/${this.env['FERRY_BUCKET']}`,
      'ce-subject': `objects/${name}`,
    };
  }

  postUpload(headers: Record<string, string>, body: string | Buffer, timeoutMs?: number): Promise<HttpAnswer> {
    return post(this.urls.upload, headers, body, timeoutMs);
  }

  /**
   * A Pub/Sub push to onDeployRequest as the emulator sends it: the push body
   * `{ message: { data, messageId, attributes }, subscription }` to the endpoint path the stack
   * subscribed (/projects/P/topics/T), which functions-framework turns into a messagePublished CloudEvent.
   */
  pushDeploy(body: string | Buffer, timeoutMs?: number, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<HttpAnswer> {
    const path = `/projects/${this.env['GOOGLE_CLOUD_PROJECT']}/topics/${this.env['FERRY_DEPLOY_TOPIC']}`;
    return post(this.urls.deploy + path, headers, body, timeoutMs);
  }

  pushBody(messageId: string, data: unknown): string {
    const raw = typeof data === 'string' ? data : JSON.stringify(data);
    return JSON.stringify({
      message: { data: Buffer.from(raw).toString('base64'), messageId, message_id: messageId, publishTime: new Date().toISOString(), attributes: {} },
      subscription: `projects/${this.env['GOOGLE_CLOUD_PROJECT']}/subscriptions/onDeployRequest-push`,
    });
  }

  postSlack(body: string, headers: Record<string, string>, timeoutMs = 30_000): Promise<HttpAnswer> {
    return post(this.urls.slack, headers, body, timeoutMs);
  }

  publishDeploy(req: unknown): Promise<string> {
    return typeof req === 'string' ? this.deployTopic.publishMessage({ data: Buffer.from(req) }) : this.deployTopic.publishMessage({ json: req });
  }

  // ---- rollouts ----------------------------------------------------------------------------------

  async rolloutForMessage(messageId: string, timeoutMs = 120_000): Promise<string | null> {
    const r = await waitFor(
      () => this.rollouts.rolloutIdForMessage(messageId),
      (x) => x !== null,
      timeoutMs,
    );
    return r.value;
  }

  async rejectionOf(messageId: string, timeoutMs = 60_000): Promise<{ reason: string; message: string } | undefined> {
    const r = await waitFor(
      async () => {
        const snap = await this.db.collection('rejectedRequests').doc(encodeURIComponent(messageId)).get();
        return snap.exists ? (snap.data() as { reason: string; message: string }) : undefined;
      },
      (x) => x !== undefined,
      timeoutMs,
    );
    return r.value;
  }

  /** Every rollout of a target, once all are terminal (or what there is at the deadline). */
  async settledRollouts(targetKey: string, timeoutMs: number): Promise<{ rollouts: Rollout[]; ok: boolean }> {
    const r = await waitFor(
      () => this.rollouts.listRollouts({ targetKey, limit: 500 }),
      (rs) => rs.length > 0 && rs.every((x) => isTerminalPhase(x.phase)),
      timeoutMs,
      1000,
    );
    return { rollouts: r.value, ok: r.ok };
  }

  async deployment(namespace: string, name: string): Promise<{ rolloutId?: string; replicas?: number; image?: string } | undefined> {
    const d = await this.apps.readNamespacedDeployment({ namespace, name }).catch(() => undefined);
    if (!d) return undefined;
    return {
      rolloutId: d.spec?.template.metadata?.annotations?.['ferry.dev/rollout-id'],
      replicas: d.spec?.replicas,
      image: d.spec?.template.spec?.containers[0]?.image,
    };
  }

  /** Frees the simulated GPUs a scenario took (8 L4s in all). */
  async dropNamespace(ns: string): Promise<void> {
    await this.core.deleteNamespace({ name: ns }).catch(() => undefined);
    await waitFor(
      () =>
        this.core.readNamespace({ name: ns }).then(
          () => true,
          () => false,
        ),
      (exists) => !exists,
      60_000,
      1000,
    );
  }

  // ---- processes and logs ----------------------------------------------------------------------

  /** This stack's functions host (its command line names the upload function's port; another stack's does not). */
  hostPid(): number | undefined {
    const port = new URL(this.urls.upload).port;
    const line = spawnSync('pgrep', ['-af', `${REPO_ROOT}/infra/local/functions-host.ts`], { encoding: 'utf8' })
      .stdout.split('\n')
      .find((l) => l.includes(`"onCheckpointUpload":${port},`) || l.includes(`"onCheckpointUpload":${port}}`));
    return line ? Number(line.split(' ')[0]) : undefined;
  }

  /** The functions host's log from byte `from` on (to find the reason a refusal was logged with). */
  functionsLogSince(from: number): string {
    const file = join(this.stackDir, 'logs', 'functions.log');
    if (!existsSync(file)) return '';
    const size = statSync(file).size;
    if (size <= from) return '';
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(size - from, 64 * 1024 * 1024));
      readSync(fd, buf, 0, buf.length, from);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  functionsLogSize(): number {
    const file = join(this.stackDir, 'logs', 'functions.log');
    return existsSync(file) ? statSync(file).size : 0;
  }

  async eventStatus(): Promise<Record<string, number>> {
    return (await (await fetch(`${this.urls.events}/status`)).json()) as Record<string, number>;
  }
}

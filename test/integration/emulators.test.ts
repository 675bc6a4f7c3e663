/**
 * The local emulator stack behaves the way ferry relies on:
 *  (a) an object written to the Storage emulator reaches a functions-framework cloudEvent function as
 *      a google.cloud.storage.object.v1.finalized CloudEvent (through the dev-only event delivery), an
 *      overwrite arrives again with a new generation, an error answer is retried, and a burst of
 *      uploads costs no process per event;
 *  (b) a Pub/Sub push subscription delivers to a functions-framework function as
 *      google.cloud.pubsub.topic.v1.messagePublished with the data and attributes;
 *  (c) Firestore create() of an existing document fails with ALREADY_EXISTS (gRPC 6).
 *
 * Starts its own emulators on free ports in a temp dir (independent of any `npm start` stack).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from 'node:http';
import { spawnSync } from 'node:child_process';
import { cloudEvent, type CloudEvent } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { Storage } from '@google-cloud/storage';
import { PubSub } from '@google-cloud/pubsub';
import { Firestore } from '@google-cloud/firestore';
import { startEmulators, freeEmulatorPorts, processAlive, type EmulatorStack, type ProcInfo } from '../../infra/local/emulators.ts';
import { freePort } from '../../infra/local/proc.ts';

interface Received {
  id: string;
  type: string;
  source: string;
  subject?: string | undefined;
  data: unknown;
}

interface StorageData {
  bucket?: string;
  name?: string;
  size?: string | number;
  generation?: string | number;
  metageneration?: string | number;
}

interface PubSubData {
  subscription?: string;
  message?: { data?: string; attributes?: Record<string, string>; messageId?: string };
}

const PROJECT = 'demo-ferry-emutest';
const BUCKET = 'ferry-emutest-models';
const TOPIC = 'ferry-emutest-topic';
const EVENT_TIMEOUT_MS = 60_000;

const uploads: Received[] = [];
const published: Received[] = [];
const rejected = new Map<string, number>();
cloudEvent('emutestUpload', (ce: CloudEvent<unknown>) => {
  const name = (ce.data as StorageData | undefined)?.name ?? '';
  // reject/…: refused twice, then accepted (the delivery must retry until then).
  if (name.startsWith('reject/') && (rejected.get(name) ?? 0) < 2) {
    rejected.set(name, (rejected.get(name) ?? 0) + 1);
    throw new Error('emutest: rejected on purpose');
  }
  uploads.push({ id: ce.id, type: ce.type, source: ce.source, subject: ce.subject, data: ce.data });
});
cloudEvent('emutestPubsub', (ce: CloudEvent<unknown>) => {
  published.push({ id: ce.id, type: ce.type, source: ce.source, subject: ce.subject, data: ce.data });
});

async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = find();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function close(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

describe('local emulators (firebase-tools: Firestore, Pub/Sub, Storage + event delivery)', { timeout: 300_000 }, () => {
  let dir = '';
  let stack: EmulatorStack | undefined;
  let uploadServer: Server | undefined;
  let pubsubServer: Server | undefined;
  let pubsubPort = 0;
  let storage: Storage;
  let pubsub: PubSub | undefined;
  let firestore: Firestore | undefined;
  let tracked: ProcInfo[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-emulators-test-'));
    uploadServer = getTestServer('emutestUpload');
    pubsubServer = getTestServer('emutestPubsub');
    const uploadPort = await freePort();
    await listen(uploadServer, uploadPort);
    pubsubPort = await freePort();
    await listen(pubsubServer, pubsubPort);

    stack = await startEmulators({
      dir,
      projectId: PROJECT,
      bucket: BUCKET,
      ports: await freeEmulatorPorts(),
      uploadFunctionUrl: `http://127.0.0.1:${uploadPort}/`,
      timeoutMs: 180_000,
      log: (m) => console.log(`[emulators] ${m}`),
    });
    tracked = stack.processes();
    Object.assign(process.env, stack.env); // the client libraries read *_EMULATOR_HOST
    process.env['METADATA_SERVER_DETECTION'] = 'none'; // no GCE metadata probing from google-auth-library
    storage = new Storage({ projectId: PROJECT });
    pubsub = new PubSub({ projectId: PROJECT });
    firestore = new Firestore({ projectId: PROJECT });
  });

  after(async () => {
    await pubsub?.close().catch(() => undefined);
    await firestore?.terminate().catch(() => undefined);
    if (stack) tracked = [...tracked, ...stack.processes()]; // + functions workers spawned since
    await stack?.stop();
    await Promise.all([close(uploadServer), close(pubsubServer)]);
    // Nothing the stack started may survive it: not firebase, not the JVMs it spawned detached.
    // (checked by pid + start time: a zombie or a reused pid is not a survivor)
    const survivors = [...new Map(tracked.map((p) => [p.pid, p])).values()].filter(processAlive);
    const pg = spawnSync('pgrep', ['-af', dir], { encoding: 'utf8' }).stdout.trim();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(survivors, [], `processes left behind: ${JSON.stringify(survivors)}`);
    assert.equal(pg, '', `processes still referring to ${dir}:\n${pg}`);
  });

  it('starts firebase, the JVM emulators and the Storage event delivery (no Functions emulator)', () => {
    const comms = tracked.map((p) => p.comm);
    assert.ok(comms.filter((c) => c === 'java').length >= 3, `expected firestore, pubsub and rules-runtime JVMs: ${comms.join(',')}`);
    const text = readFileSync(stack!.logFile, 'utf8');
    assert.match(text, /ferry storage-events tap installed/);
    assert.doesNotMatch(text, /functions: Watching/);
    assert.ok(stack!.eventDeliveryUrl);
  });

  it('(a) a Storage upload reaches the function as a finalized CloudEvent; an overwrite arrives with a new generation', async () => {
    const name = 'models/tiny/model.safetensors';
    const file = storage.bucket(BUCKET).file(name);
    await file.save(Buffer.from('first-version'), { resumable: false, contentType: 'application/octet-stream' });
    const [md1] = await file.getMetadata();
    const ev1 = await waitFor('first finalize event', () =>
      uploads.find((e) => (e.data as StorageData).name === name && String((e.data as StorageData).generation) === String(md1.generation)),
    );
    assert.equal(ev1.type, 'google.cloud.storage.object.v1.finalized');
    assert.equal(ev1.source, `//storage.googleapis.com/projects/_/buckets/${BUCKET}`);
    assert.equal(ev1.subject, `objects/${name}`);
    const d1 = ev1.data as StorageData;
    assert.equal(d1.bucket, BUCKET);
    assert.equal(d1.name, name);
    assert.equal(d1.size, String('first-version'.length)); // int64 as a JSON string, as GCS sends it
    assert.equal(typeof d1.generation, 'string');
    assert.ok(ev1.id.length > 0);

    await file.save(Buffer.from('second, longer version'), { resumable: false });
    const [md2] = await file.getMetadata();
    assert.notEqual(String(md2.generation), String(md1.generation));
    const ev2 = await waitFor('overwrite finalize event', () =>
      uploads.find((e) => (e.data as StorageData).name === name && String((e.data as StorageData).generation) === String(md2.generation)),
    );
    const d2 = ev2.data as StorageData;
    assert.equal(d2.size, String('second, longer version'.length));
    assert.notEqual(d2.generation, d1.generation);
    assert.notEqual(ev2.id, ev1.id);
  });

  it('(a) an event the function answers with an error is retried until acknowledged, and shows in the status API', async () => {
    const name = 'reject/model.safetensors';
    await storage.bucket(BUCKET).file(name).save(Buffer.from('x'), { resumable: false });
    await waitFor('the rejected event, delivered on its third attempt', () => uploads.find((e) => (e.data as StorageData).name === name));
    const res = await fetch(`${stack!.eventDeliveryUrl}/deliveries?prefix=reject/`);
    const [rec] = (await res.json()) as { state: string; attempts: number; lastStatus: number }[];
    assert.equal(rec?.state, 'delivered');
    assert.equal(rec?.attempts, 3);
    assert.match(readFileSync(stack!.logFile, 'utf8'), /event-delivery: attempt failed; retrying/);
  });

  it('(a) a burst of 60 uploads is delivered in full without a process per event', async () => {
    const before = stack!.processes().length;
    const names = Array.from({ length: 60 }, (_, i) => `burst/s${i}.bin`);
    await Promise.all(names.map((n) => storage.bucket(BUCKET).file(n).save(Buffer.from(n), { resumable: false })));
    await waitFor('every burst event', () => (names.every((n) => uploads.some((e) => (e.data as StorageData).name === n)) ? true : undefined));
    assert.ok(stack!.processes().length <= before, `processes grew from ${before} to ${stack!.processes().length}`);
  });

  it('(b) a Pub/Sub push subscription delivers messagePublished with data and attributes', async () => {
    const [topic] = await pubsub!.topic(TOPIC).get({ autoCreate: true });
    await topic.createSubscription(`${TOPIC}-push`, {
      pushConfig: { pushEndpoint: `http://127.0.0.1:${pubsubPort}/projects/${PROJECT}/topics/${TOPIC}` },
      ackDeadlineSeconds: 30,
    });
    const payload = { model: 'models/tiny', gen: '42' };
    const messageId = await topic.publishMessage({ json: payload, attributes: { kind: 'deploy', who: 'test' } });
    const ev = await waitFor('messagePublished event', () => published.find((e) => (e.data as PubSubData).message?.messageId === messageId));
    assert.equal(ev.type, 'google.cloud.pubsub.topic.v1.messagePublished');
    assert.equal(ev.source, `//pubsub.googleapis.com/projects/${PROJECT}/topics/${TOPIC}`);
    const msg = (ev.data as PubSubData).message!;
    assert.deepEqual(JSON.parse(Buffer.from(msg.data ?? '', 'base64').toString('utf8')), payload);
    assert.deepEqual(msg.attributes, { kind: 'deploy', who: 'test' });
  });

  it('(c) Firestore create() of an existing document fails with ALREADY_EXISTS (gRPC 6)', async () => {
    const doc = firestore!.collection('emutest-events').doc('event-1');
    await doc.create({ at: 1 });
    await assert.rejects(doc.create({ at: 2 }), (e: unknown) => (e as { code?: number }).code === 6);
    const snap = await doc.get();
    assert.equal(snap.get('at'), 1);
  });
});

/**
 * Chat-ops end to end on the local stack: signed slash commands POSTed to the real slackCommand
 * function (functions-framework), queued on Pub/Sub, done by onChatCommand, answered at a local
 * HTTP server standing in for Slack's response_url; deploys go through the stack's onDeployRequest
 * and reconciler to a real rollout, whose end comes back through onDeployResult.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import { KubeConfig, AppsV1Api } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { uploadVersion as uploadReferenceVersion } from '../helpers/upload-version.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { FirestoreChatCommands } from '../../shared/adapters/firestore-chat.ts';
import { slackSignature } from '../../shared/domain/slack.ts';
import { chatIdempotencyKey } from '../../shared/domain/chat-command-record.ts';
import type { ChatMessage } from '../../shared/domain/chat-blocks.ts';
import { isTerminalPhase, type Rollout } from '../../shared/domain/rollout.ts';
import { TeardownRun } from '../../shared/domain/teardown-run.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_URL_SLACK_COMMAND',
  'FERRY_SLACK_SIGNING_SECRET',
  'FERRY_CHAT_TOPIC',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
);
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const apps = admin.makeApiClient(AppsV1Api);
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const rollouts = new FirestoreRolloutState(db);
const commands = new FirestoreChatCommands(db);
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
const model = uniqueName('chat');
const USER = 'ULOCALDEV'; // allowed for everything by the local stack

// ---- a stand-in for Slack's response_url: collects posts per path; a path can be held ----------

const posts = new Map<string, ChatMessage[]>();
const held = new Map<string, { release: () => void; arrived: boolean }>();
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const path = req.url ?? '';
    const record = () => {
      posts.set(path, [...(posts.get(path) ?? []), JSON.parse(body) as ChatMessage]);
      res.end('ok');
    };
    const h = held.get(path);
    if (h) {
      h.arrived = true;
      h.release = record;
    } else record();
  });
});
let replyBase = '';

// ---- every message on the chat topic, from a subscription of our own --------------------------

let sub: Subscription | undefined;
const queued: string[] = [];

before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  replyBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const [s] = await pubsub.topic(env.FERRY_CHAT_TOPIC).createSubscription(uniqueName('slack-it'));
  sub = s;
  sub.on('message', (m: Message) => {
    queued.push((JSON.parse(m.data.toString()) as { commandId: string }).commandId);
    m.ack();
  });
  await uploadVersion('v1');
});
after(async () => {
  // Give the GPU back for test files that run later.
  await apps.deleteNamespacedDeployment({ namespace: 'ferry-slack', name: 'llama-chat' }).catch(() => undefined);
  await sub?.close();
  await sub?.delete().catch(() => undefined);
  await pubsub.close();
  server.close();
});

const uploadVersion = (version: string) => uploadReferenceVersion(env, model, version);

interface SendOptions {
  user?: string;
  secret?: string;
  timestamp?: number;
  /** Change the body after signing it. */
  tamper?: (body: string) => string;
  headers?: 'none' | 'no-timestamp' | 'signed';
  method?: 'POST' | 'GET';
}

/** POSTs a slash command to the real function, signed as Slack signs it. Returns the reply path too. */
async function send(text: string, o: SendOptions = {}): Promise<{ status: number; body: string; json: ChatMessage | undefined; path: string }> {
  const path = `/r/${randomUUID()}`;
  const form = new URLSearchParams({
    token: 'unused',
    team_id: 'T0LOCAL',
    team_domain: 'local',
    channel_id: 'C0LOCAL',
    channel_name: 'ops',
    user_id: o.user ?? USER,
    user_name: 'dev',
    command: '/ferry',
    text,
    response_url: `${replyBase}${path}`,
    trigger_id: randomUUID(),
  }).toString();
  const ts = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = slackSignature(o.secret ?? env.FERRY_SLACK_SIGNING_SECRET, ts, form);
  const body = o.tamper ? o.tamper(form) : form;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (o.headers !== 'none') {
    headers['x-slack-signature'] = signature;
    if (o.headers !== 'no-timestamp') headers['x-slack-request-timestamp'] = ts;
  }
  const res = await fetch(env.FERRY_URL_SLACK_COMMAND, { method: o.method ?? 'POST', headers, ...(o.method === 'GET' ? {} : { body }) });
  const raw = await res.text();
  let json: ChatMessage | undefined;
  try {
    json = JSON.parse(raw) as ChatMessage;
  } catch {
    json = undefined;
  }
  return { status: res.status, body: raw, json, path };
}

const recordsWithText = async (text: string) => (await db.collection('chatCommands').where('text', '==', text).get()).docs;
const commandIdOf = (ack: ChatMessage | undefined): string => /`(sc-[0-9-]+[0-9a-f]{16})`/.exec(JSON.stringify(ack))?.[1] ?? '';
const postsAt = (path: string) => posts.get(path) ?? [];
const postText = (path: string) =>
  postsAt(path)
    .map((m) => JSON.stringify(m))
    .join('\n');

test('forged, stale, tampered and unsigned requests: 401, no detail, no record, no message', async () => {
  const text = `status ${uniqueName('forged')}`;
  const attempts: Array<[string, SendOptions]> = [
    ['forged', { secret: 'not-the-signing-secret-0123456789' }],
    ['stale', { timestamp: Math.floor(Date.now() / 1000) - 400 }],
    ['from the future', { timestamp: Math.floor(Date.now() / 1000) + 400 }],
    ['tampered text', { tamper: (b) => b.replace('text=status', 'text=deploy') }],
    ['tampered user', { tamper: (b) => b.replace(`user_id=${USER}`, 'user_id=UOTHER') }],
    ['unsigned', { headers: 'none' }],
    ['no timestamp', { headers: 'no-timestamp' }],
    ['GET', { method: 'GET', headers: 'none' }],
  ];
  for (const [name, o] of attempts) {
    const r = await send(text, o);
    assert.equal(r.status, 401, name);
    assert.equal(r.body, '', `${name}: no detail`);
  }
  assert.equal((await recordsWithText(text)).length, 0, 'no Firestore record');
  // The same command, signed properly: recorded once and queued once — and nothing else was queued.
  const ok = await send(text);
  assert.equal(ok.status, 200);
  const id = commandIdOf(ok.json);
  assert.ok(id, JSON.stringify(ok.json));
  assert.equal((await recordsWithText(text)).length, 1);
  await eventually(
    'the accepted command on the chat topic',
    async () => queued.slice(),
    (q) => q.includes(id),
  );
  assert.deepEqual(
    queued.filter((q) => q === id),
    [id],
  );
  const records = await Promise.all(queued.map((q) => commands.get(q)));
  assert.ok(
    records.every((r) => r !== undefined && r.user.id === USER),
    'every queued message belongs to a signed, accepted command',
  );
});

test('an unauthorised user is politely refused; nothing is recorded, queued or posted', async () => {
  const text = `deploy ${model}@v1 to local/ferry-slack/nope accelerator=nvidia-l4`;
  const before = queued.length;
  const r = await send(text, { user: 'UINTRUDER' });
  assert.equal(r.status, 200);
  assert.equal(r.json?.response_type, 'ephemeral');
  assert.match(r.json?.text ?? '', /^Sorry <@UINTRUDER>, you are not on ferry's list/);
  assert.equal((await recordsWithText(text)).length, 0);
  // A signed, accepted command sent after it is the next (and only) one queued.
  const next = await send('teardown plan');
  const id = commandIdOf(next.json);
  await eventually(
    'the next accepted command on the chat topic',
    async () => queued.slice(before),
    (q) => q.includes(id),
  );
  assert.deepEqual(queued.slice(before), [id]);
  await eventually(
    'teardown plan answered',
    async () => postsAt(next.path),
    (p) => p.length === 1,
  );
  assert.equal(postsAt(r.path).length, 0);
});

test('teardown plan: teardownIdle makes a dry run for the command, records it, and posts the plan back once', async () => {
  const r = await send('teardown plan');
  assert.equal(r.status, 200);
  assert.match(r.json?.text ?? '', /^Working on `teardown plan`/);
  const id = commandIdOf(r.json);
  await eventually(
    'plan posted',
    async () => postsAt(r.path),
    (p) => p.length === 1,
    60_000,
  );
  const m = postsAt(r.path)[0]!;
  assert.equal(m.response_type, 'ephemeral');
  assert.match(m.text, /^Teardown plan: /);
  assert.ok(postText(r.path).includes('(teardownRuns)'), postText(r.path));
  const runs = (await db.collection('teardownRuns').where('chatCommandId', '==', id).get()).docs.map((d) => TeardownRun.parse(d.data()));
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.trigger, 'chat');
  assert.equal(runs[0]!.dryRun, true);
  assert.ok(
    runs[0]!.results.every((x) => x.outcome === 'planned'),
    'a dry run does nothing',
  );
  assert.ok(postText(r.path).includes(runs[0]!.id), 'the message names the recorded run');
  const rec = await commands.get(id);
  assert.equal(rec?.status, 'done');
  assert.equal(rec?.outcome?.code, 'TEARDOWN_PLAN_REQUESTED');
  assert.deepEqual(
    rec?.posts.map((p) => p.key),
    ['teardown-plan'],
  );
});

test('help and malformed commands are answered in the HTTP response itself', async () => {
  const help = await send('help');
  assert.equal(help.status, 200);
  assert.match(JSON.stringify(help.json), /\/ferry deploy <model>@<version\|latest> to <cluster>\/<namespace>\/<name>/);
  const bad = await send('deploy llama to somewhere');
  assert.equal(bad.status, 200);
  assert.match(bad.json?.text ?? '', /could not read that command/);
});

test('status answers at the response_url with Block Kit', async () => {
  const r = await send(`status ${model}`);
  assert.equal(r.status, 200);
  assert.match(r.json?.text ?? '', /^Working on `status /);
  await eventually(
    'status posted',
    async () => postsAt(r.path),
    (p) => p.length === 1,
  );
  const m = postsAt(r.path)[0]!;
  assert.equal(m.response_type, 'ephemeral');
  assert.ok(m.blocks && m.blocks.length > 0);
  assert.ok(postText(r.path).includes(model) && postText(r.path).includes('latest valid: `v1`'), postText(r.path));
  // Posted first, then marked done.
  const rec = await eventually(
    'command done',
    () => commands.get(commandIdOf(r.json)),
    (x) => x?.status === 'done',
  );
  assert.deepEqual(
    rec?.posts.map((p) => p.key),
    ['result'],
  );
});

test('the 3-second path never waits on the work: the answer comes while the worker is held', async () => {
  // Hold the response_url: the worker cannot finish (it marks the command done after posting).
  const text = `versions ${model}`;
  const path = `/r/${randomUUID()}`;
  held.set(path, { release: () => undefined, arrived: false });
  const form = new URLSearchParams({
    team_id: 'T0LOCAL',
    channel_id: 'C0LOCAL',
    user_id: USER,
    user_name: 'dev',
    command: '/ferry',
    text,
    response_url: `${replyBase}${path}`,
    trigger_id: randomUUID(),
  }).toString();
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await fetch(env.FERRY_URL_SLACK_COMMAND, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': slackSignature(env.FERRY_SLACK_SIGNING_SECRET, ts, form),
    },
    body: form,
  });
  assert.equal(res.status, 200);
  const id = commandIdOf((await res.json()) as ChatMessage);
  assert.notEqual((await commands.get(id))?.status, 'done', 'answered before the work was done');
  assert.equal(postsAt(path).length, 0);
  // The worker runs on its own and reaches Slack (held); let it go and it finishes.
  await eventually(
    'the worker posts',
    async () => held.get(path)!.arrived,
    (a) => a,
  );
  assert.notEqual((await commands.get(id))?.status, 'done', 'still not done while its post is held');
  held.get(path)!.release();
  held.delete(path);
  await eventually(
    'the command finishes',
    () => commands.get(id),
    (r) => r?.status === 'done',
  );
  assert.ok(postText(path).includes('versions'), postText(path));
});

test('an accepted deploy leads to a real rollout, requested by the Slack user, reported at the response_url', async () => {
  // An H100 (the simulated H100 node has 8): the 8 simulated L4s are taken by earlier test files.
  const r = await send(`deploy ${model}@v1 to local/ferry-slack/llama-chat accelerator=nvidia-h100-80gb gpus=1`);
  assert.equal(r.status, 200);
  assert.equal(r.json?.response_type, 'ephemeral');
  const id = commandIdOf(r.json);
  const rec = await eventually(
    'rollout linked to the command',
    () => commands.get(id),
    (x) => !!x?.rolloutId,
  );
  const rollout = await eventually(
    `rollout ${rec!.rolloutId} finished`,
    () => rollouts.getRollout(rec!.rolloutId!),
    (x): x is Rollout => !!x && isTerminalPhase(x.phase),
    150_000,
    300,
  );
  assert.equal(rollout.phase, 'succeeded', `${rollout.reason}: ${rollout.message}`);
  assert.equal(rollout.request.requestedBy.source, 'slack');
  assert.match(rollout.request.requestedBy.principal, /^slack:T0LOCAL\/ULOCALDEV \(dev\)$/);
  assert.equal(rollout.request.idempotencyKey, chatIdempotencyKey(id));
  assert.equal(rec!.deployMessageId !== null, true);
  // The result path posts the final phase to the same response_url.
  await eventually(
    'final result posted',
    async () => postText(r.path),
    (t) => t.includes('Rollout succeeded'),
    60_000,
  );
  const msgs = postsAt(r.path);
  assert.ok(msgs.length >= 1 && msgs.length <= 2, `${msgs.length} posts: the acceptance and the result (or the result alone)`);
  assert.ok(
    msgs.every((m) => JSON.stringify(m).includes(rollout.id)),
    'each names the rollout',
  );
  const final = msgs.at(-1)!;
  assert.equal(final.response_type, 'in_channel');
  for (const want of [model, 'v1', 'succeeded', 'RolloutComplete', 'local/ferry-slack/llama-chat']) assert.ok(JSON.stringify(final).includes(want), want);
  assert.deepEqual(rollout.request.accelerator, { type: 'nvidia-h100-80gb', count: 1 });
  const done = await eventually(
    'command done',
    () => commands.get(id),
    (x) => x?.status === 'done',
  );
  assert.ok(done!.posts.some((p) => p.key === `final:${rollout.id}`));

  // A second deploy of the same version, with nothing to name: the accelerator comes from the last good rollout.
  const again = await send(`deploy ${model}@v1 to local/ferry-slack/llama-chat`);
  await eventually(
    'duplicate answered',
    async () => postText(again.path),
    (t) => t.includes('No new rollout needed'),
    60_000,
  );
  assert.ok(postText(again.path).includes(rollout.id));
});

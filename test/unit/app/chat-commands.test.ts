import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleChatCommand, type ChatWorkerDeps } from '../../../shared/app/chat-commands.ts';
import { acceptSlashCommand, type ChatIngressDeps } from '../../../shared/app/chat-ingress.ts';
import { handleDeployResult } from '../../../shared/app/chat-results.ts';
import { DeployRequest } from '../../../shared/domain/deploy-request.ts';
import { targetKey, type Target } from '../../../shared/domain/names.ts';
import { Rollout } from '../../../shared/domain/rollout.ts';
import type { TargetState } from '../../../shared/domain/target-state.ts';
import type { VersionDoc } from '../../../shared/domain/version.ts';
import { chatIdempotencyKey } from '../../../shared/domain/chat-command-record.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { memoryLogger } from '../../../shared/adapters/logging.ts';
import {
  FakeRollouts,
  FakeVersions,
  MemoryChatCommands,
  RecordingChat,
  RecordingPublisher,
  gate,
  slackRequest,
  type Published,
} from '../../helpers/chat-fakes.ts';

const SECRET = 'test-signing-secret-0123456789abcdef';
const T0 = new Date('2026-03-01T10:00:00.000Z');
const CHAT_TOPIC = 'chat';
const DEPLOY_TOPIC = 'deploy';
const TARGET: Target = { cluster: 'local', namespace: 'serving', name: 'llama' };

function world() {
  const now = { t: T0 };
  const clock = { now: () => now.t };
  const commands = new MemoryChatCommands();
  const publisher = new RecordingPublisher();
  const chat = new RecordingChat();
  const rollouts = new FakeRollouts();
  const versions = new FakeVersions();
  const logger = memoryLogger();
  const ingress: ChatIngressDeps = {
    commands,
    publisher,
    clock,
    logger,
    config: {
      signingSecret: SECRET,
      access: { read: { users: ['UREADER'], channels: null }, deploy: { users: ['ULOCALDEV'], channels: null } },
      chatTopic: CHAT_TOPIC,
      allowLocalResponseUrl: false,
    },
  };
  const worker: ChatWorkerDeps = {
    commands,
    versions,
    rollouts,
    publisher,
    chat,
    clock,
    logger,
    sleep: async () => undefined,
    config: { deployTopic: DEPLOY_TOPIC, resultsTopic: 'results', waitForRolloutMs: 2000, pollIntervalMs: 500, claimLeaseMs: 60_000, consoleProject: null },
  };
  const req = (fields: Record<string, string>, opts: { timestamp?: number } = {}) => slackRequest(SECRET, fields, { now: now.t, ...opts });
  /** The work message the ingress published for a command, as Pub/Sub would deliver it. */
  const workFor = (commandId: string) => new TextEncoder().encode(JSON.stringify({ commandId }));
  return { now, clock, commands, publisher, chat, rollouts, versions, logger, ingress, worker, req, workFor };
}

const chatPublishes = (w: ReturnType<typeof world>) => w.publisher.published.filter((p) => p.topic === CHAT_TOPIC);

function rolloutDoc(id: string, over: Partial<Rollout> & { requestOver?: Record<string, unknown> } = {}): Rollout {
  const { requestOver, ...rest } = over;
  const request = DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'llama',
    version: 'v1',
    target: TARGET,
    accelerator: { type: 'nvidia-l4', count: 2 },
    replicas: 2,
    requestedBy: { source: 'cli', principal: 'bob' },
    ...requestOver,
  });
  const target = request.target;
  // Parsed, so fields the schema grows (with defaults) are filled in.
  return Rollout.parse({
    schemaVersion: 1,
    id,
    target,
    targetKey: targetKey(target),
    model: request.model,
    version: request.version,
    phase: 'succeeded',
    reason: 'RolloutComplete',
    message: 'deployment "llama" successfully rolled out',
    history: [{ phase: 'pending', reason: 'Created', at: T0.toISOString() }],
    specDigest: `d-${id}`,
    spec: { deployment: { kind: 'Deployment' }, service: { kind: 'Service' } },
    request,
    createdAt: T0.toISOString(),
    updatedAt: T0.toISOString(),
    attempts: 1,
    previousGoodRolloutId: null,
    timeoutSeconds: null,
    detail: null,
    supersededBy: null,
    ...rest,
  });
}

function targetState(lastGood: Rollout | null): TargetState {
  return {
    schemaVersion: 1,
    key: targetKey(TARGET),
    target: TARGET,
    activeRolloutId: null,
    queuedRolloutId: null,
    updatedAt: T0.toISOString(),
    lastGood: lastGood
      ? { rolloutId: lastGood.id, specDigest: lastGood.specDigest, model: lastGood.model, version: lastGood.version, at: lastGood.updatedAt }
      : null,
  };
}

/** Acts like onDeployRequest: admits every deploy request as a new rollout in `applying`. */
function admitDeploys(w: ReturnType<typeof world>, phase: Rollout['phase'] = 'applying') {
  w.publisher.onPublish = (p: Published) => {
    if (p.topic !== DEPLOY_TOPIC) return;
    const request = DeployRequest.parse(p.data);
    const id = `ro-${p.messageId}`;
    w.rollouts.rollouts.set(
      id,
      rolloutDoc(id, { phase, reason: phase === 'applying' ? 'Started' : 'RolloutComplete', requestOver: request as unknown as Record<string, unknown> }),
    );
    w.rollouts.byMessage.set(p.messageId, id);
  };
}

async function accepted(w: ReturnType<typeof world>, text: string, fields: Record<string, string> = {}): Promise<string> {
  const a = await acceptSlashCommand(w.req({ text, ...fields }), w.ingress);
  assert.equal(a.status, 200);
  assert.equal(a.status === 200 && a.outcome, 'accepted', JSON.stringify(a));
  return 'body' in a ? a.commandId! : '';
}

// ---------------------------------------------------------------------------------------------
// The HTTP path

test('forged, stale, tampered and unsigned requests get a bare 401 and leave no trace', async () => {
  const w = world();
  const good = w.req({ text: 'deploy llama@v1 to local/serving/llama' });
  const cases = {
    forged: slackRequest('another-secret-0123456789abcdef', { text: 'status' }, { now: T0 }),
    stale: w.req({ text: 'status' }, { timestamp: T0.getTime() / 1000 - 301 }),
    future: w.req({ text: 'status' }, { timestamp: T0.getTime() / 1000 + 301 }),
    tamperedBody: { ...good, rawBody: new TextEncoder().encode(good.body.replace('ULOCALDEV', 'UREADER')) },
    tamperedTimestamp: { ...good, timestamp: String(Number(good.timestamp) + 1) },
    unsigned: { ...good, signature: undefined },
    noTimestamp: { ...good, timestamp: undefined },
    noBody: { ...good, rawBody: undefined },
  };
  for (const [name, r] of Object.entries(cases)) {
    const a = await acceptSlashCommand(r, w.ingress);
    assert.deepEqual(a, { status: 401, outcome: 'unauthenticated' }, name);
  }
  assert.equal(w.commands.docs.size, 0, 'no record');
  assert.equal(w.publisher.published.length, 0, 'no message');
  assert.ok(
    w.logger.entries.every((e) => e['severity'] === 'WARNING' && typeof e['reason'] === 'string'),
    'the reason is logged, not answered',
  );
  // The untouched request goes through (the cases above failed for what they changed).
  assert.equal((await acceptSlashCommand(good, w.ingress)).status, 200);
});

test("Slack's ssl_check gets an empty 200 when signed, and a 401 when not", async () => {
  const w = world();
  const check = slackRequest(SECRET, {}, { now: T0 });
  const body = 'ssl_check=1&token=abc';
  const ts = check.timestamp;
  const { slackSignature } = await import('../../../shared/domain/slack.ts');
  const signed = { rawBody: new TextEncoder().encode(body), timestamp: ts, signature: slackSignature(SECRET, ts, body) };
  assert.deepEqual(await acceptSlashCommand(signed, w.ingress), { status: 200, outcome: 'ssl-check' });
  assert.deepEqual(await acceptSlashCommand({ ...signed, signature: undefined }, w.ingress), { status: 401, outcome: 'unauthenticated' });
  assert.equal(w.commands.docs.size, 0);
});

test('help and malformed commands are answered at once with usage, and nothing is queued', async () => {
  const w = world();
  const help = await acceptSlashCommand(w.req({ text: 'help' }), w.ingress);
  assert.equal(help.status === 200 && help.outcome, 'help');
  assert.ok('body' in help && JSON.stringify(help.body).includes('/ferry deploy <model>@<version|latest>'));
  const stranger = await acceptSlashCommand(w.req({ text: '', user_id: 'USTRANGER' }), w.ingress);
  assert.equal(stranger.status === 200 && stranger.outcome, 'help', 'help is for everyone');
  for (const text of ['deploy llama', 'launch the missiles', 'rollback llama', 'versions']) {
    const a = await acceptSlashCommand(w.req({ text }), w.ingress);
    assert.equal(a.status === 200 && a.outcome, 'usage', text);
    assert.equal('body' in a && a.body.response_type, 'ephemeral');
    assert.match('body' in a ? a.body.text : '', /could not read that command/);
  }
  assert.equal(w.commands.docs.size, 0);
  assert.equal(w.publisher.published.length, 0);
});

test('unauthorised users (and channels) get a polite refusal; nothing is recorded or queued', async () => {
  const w = world();
  const reader = await acceptSlashCommand(w.req({ text: 'deploy llama@v1 to local/serving/llama', user_id: 'UREADER' }), w.ingress);
  assert.equal(reader.status === 200 && reader.outcome, 'refused');
  assert.match('body' in reader ? reader.body.text : '', /^Sorry <@UREADER>.*FERRY_SLACK_DEPLOY_USERS/);
  const stranger = await acceptSlashCommand(w.req({ text: 'status', user_id: 'USTRANGER' }), w.ingress);
  assert.equal(stranger.status === 200 && stranger.outcome, 'refused');
  w.ingress.config.access.deploy.channels = ['CDEPLOYS'];
  const wrongChannel = await acceptSlashCommand(w.req({ text: 'rollback local/serving/llama', channel_id: 'CRANDOM' }), w.ingress);
  assert.equal(wrongChannel.status === 200 && wrongChannel.outcome, 'refused');
  assert.match('body' in wrongChannel ? wrongChannel.body.text : '', /<#CDEPLOYS>/);
  assert.equal(w.commands.docs.size, 0);
  assert.equal(w.publisher.published.length, 0);
  assert.ok(
    w.logger.entries.some((e) => e['reason'] === 'USER_NOT_ALLOWED' && e['slackUser'] === 'UREADER'),
    'refusals are logged with who',
  );
});

test('a response_url that is not Slack is refused before anything is recorded', async () => {
  const w = world();
  for (const url of ['https://evil.example/hook', 'http://127.0.0.1:9/reply', 'http://169.254.169.254/computeMetadata/v1/']) {
    const a = await acceptSlashCommand(w.req({ text: 'status', response_url: url }), w.ingress);
    assert.equal(a.status === 200 && a.outcome, 'bad-response-url', url);
  }
  assert.equal(w.commands.docs.size, 0);
  assert.equal(w.publisher.published.length, 0);
  w.ingress.config.allowLocalResponseUrl = true;
  assert.equal((await acceptSlashCommand(w.req({ text: 'status', response_url: 'http://127.0.0.1:9/reply' }), w.ingress)).status, 200);
  assert.equal(w.commands.docs.size, 1, 'with the local flag, 127.0.0.1 is accepted');
});

test('an accepted command is recorded (who, what, when), queued by id, and acknowledged ephemerally', async () => {
  const w = world();
  const r = w.req({ text: 'deploy llama@latest to local/serving/llama replicas=2', user_name: 'dev', channel_id: 'C0OPS' });
  const a = await acceptSlashCommand(r, w.ingress);
  assert.equal(a.status, 200);
  if (a.status !== 200) return;
  assert.equal(a.outcome, 'accepted');
  assert.equal(a.body.response_type, 'ephemeral');
  assert.match(a.body.text, /Working on `deploy llama@latest to local\/serving\/llama replicas=2`/);
  const rec = w.commands.docs.get(a.commandId!)!;
  assert.deepEqual(rec.user, { id: 'ULOCALDEV', name: 'dev' });
  assert.equal(rec.channelId, 'C0OPS');
  assert.equal(rec.text, 'deploy llama@latest to local/serving/llama replicas=2');
  assert.equal(rec.command.kind, 'deploy');
  assert.equal(rec.commandClass, 'deploy');
  assert.equal(rec.receivedAt, T0.toISOString());
  assert.equal(rec.status, 'queued');
  assert.deepEqual(
    chatPublishes(w).map((p) => p.data),
    [{ commandId: a.commandId }],
    'only the id travels',
  );
  // The same signed request again (a replay within the window): recognised, not run twice.
  const again = await acceptSlashCommand(r, w.ingress);
  assert.equal(again.status === 200 && again.outcome, 'duplicate');
  assert.equal(chatPublishes(w).length, 1);
});

test('when the command cannot be queued, the user is told to try again and the record says it failed', async () => {
  const w = world();
  w.publisher.fail = new FerryError('PUBLISH_FAILED', 'broker unavailable', { retryable: true });
  const a = await acceptSlashCommand(w.req({ text: 'status' }), w.ingress);
  assert.equal(a.status === 200 && a.outcome, 'unavailable');
  assert.match('body' in a ? a.body.text : '', /try again/);
  assert.equal([...w.commands.docs.values()][0]?.status, 'failed');
});

test('a stuck broker never holds the answer past the budget: the user is told it may still run, and it does once queued', async () => {
  const w = world();
  const broker = gate();
  const budget = gate();
  let asked = 0;
  w.publisher.hold = broker.promise;
  const answer = acceptSlashCommand(w.req({ text: 'status' }), {
    ...w.ingress,
    config: { ...w.ingress.config, ackBudgetMs: 1500 },
    after: (ms) => ((asked = ms), budget.promise),
  });
  budget.open(); // the budget runs out while the publish is still held
  const a = await answer;
  assert.equal(asked, 1500);
  assert.equal(a.status === 200 && a.outcome, 'slow');
  assert.match('body' in a ? a.body.text : '', /may still run/);
  assert.match('body' in a ? a.body.text : '', /\/ferry status/);
  assert.equal(chatPublishes(w).length, 0, 'not queued yet when answered');
  broker.open(); // the broker recovers: the command is queued after all, as the answer said it might be
  await new Promise((r) => setImmediate(r));
  assert.equal(chatPublishes(w).length, 1);
  assert.ok(w.logger.entries.some((e) => e['reason'] === 'CHAT_QUEUE_SLOW'));
});

test('a slow queue that then fails leaves the record failed, not queued forever', async () => {
  const w = world();
  const broker = gate();
  const budget = gate();
  w.publisher.hold = broker.promise;
  w.publisher.fail = new FerryError('PUBLISH_FAILED', 'broker unavailable', { retryable: true });
  const answer = acceptSlashCommand(w.req({ text: 'status' }), { ...w.ingress, after: () => budget.promise });
  budget.open();
  const a = await answer;
  assert.equal(a.status === 200 && a.outcome, 'slow');
  broker.open();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(w.commands.docs.get('body' in a ? a.commandId! : '')?.status, 'failed');
});

test('a quick queue answers "accepted" without waiting for the budget', async () => {
  const w = world();
  const never = new Promise<void>(() => undefined);
  const a = await acceptSlashCommand(w.req({ text: 'status' }), { ...w.ingress, after: () => never });
  assert.equal(a.status === 200 && a.outcome, 'accepted');
});

test('the 3-second path never waits on the work: the handler answers while the worker is blocked', async () => {
  const w = world();
  // Pub/Sub push, simulated: publishing starts the worker at once (not awaited, as with a real
  // subscription); the worker's Firestore reads and its Slack post are both held.
  const reads = gate();
  const slack = gate();
  w.versions.block = reads.promise;
  w.chat.gate = slack.promise;
  let worker: Promise<unknown> | undefined;
  let workerDone = false;
  w.publisher.onPublish = (p) => {
    if (p.topic !== CHAT_TOPIC) return;
    worker = handleChatCommand(new TextEncoder().encode(JSON.stringify(p.data)), w.worker).then((x) => ((workerDone = true), x));
  };
  const a = await acceptSlashCommand(w.req({ text: 'status' }), w.ingress);
  assert.equal(a.status === 200 && a.outcome, 'accepted', 'answered');
  assert.ok(worker, 'the work was handed over before the answer');
  assert.equal(workerDone, false, 'and is still blocked');
  assert.equal(w.chat.posts.length, 0);
  assert.notEqual(w.commands.docs.get('body' in a ? a.commandId! : '')?.status, 'done');
  // Let the work go: it finishes on its own and posts.
  reads.open();
  slack.open();
  assert.deepEqual(await worker, { outcome: 'done', code: 'STATUS', posted: true });
  assert.equal(w.chat.posts.length, 1);
});

// ---------------------------------------------------------------------------------------------
// The worker

function seedModel(w: ReturnType<typeof world>) {
  const base = {
    schemaVersion: 1 as const,
    model: 'llama',
    validations: 1,
    observedGeneration: '1',
    missing: [],
    files: [],
    contentKey: 'k',
    errors: [],
    warnings: [],
    runs: [],
    eventIds: [],
    updatedAt: T0.toISOString(),
  };
  const summary = (shards: number, dtypes: string[], bytes: number) => ({ shards, dtypes, parameters: 8_000_000_000, tensorBytes: bytes });
  const docs: VersionDoc[] = [
    {
      ...base,
      version: 'v1',
      uri: 'gs://b/models/llama/v1',
      status: 'valid',
      summary: summary(4, ['BF16'], 16e9),
      createdAt: '2026-02-01T00:00:00.000Z',
      validatedAt: '2026-02-01T00:01:00.000Z',
    },
    {
      ...base,
      version: 'v2',
      uri: 'gs://b/models/llama/v2',
      status: 'valid',
      summary: summary(2, ['F8_E4M3'], 8e9),
      createdAt: '2026-02-02T00:00:00.000Z',
      validatedAt: '2026-02-02T00:01:00.000Z',
    },
    {
      ...base,
      version: 'v3',
      uri: 'gs://b/models/llama/v3',
      status: 'incomplete',
      summary: null,
      missing: ['model-00002-of-00002.safetensors'],
      createdAt: '2026-02-03T00:00:00.000Z',
      validatedAt: null,
    },
  ];
  for (const d of docs) w.versions.versions.set(`llama/${d.version}`, d);
  w.versions.models.set('llama', {
    schemaVersion: 1,
    model: 'llama',
    createdAt: T0.toISOString(),
    updatedAt: T0.toISOString(),
    latestValid: { version: 'v2', validatedAt: T0.toISOString(), contentKey: 'k' },
    autodeploy: { targets: [] },
  });
}

test('status: answered with Block Kit at the response_url; a duplicate delivery posts nothing more', async () => {
  const w = world();
  seedModel(w);
  w.rollouts.rollouts.set('ro-1', rolloutDoc('ro-1'));
  const id = await accepted(w, 'status llama');
  assert.deepEqual(await handleChatCommand(w.workFor(id), w.worker), { outcome: 'done', code: 'STATUS', posted: true });
  assert.equal(w.chat.posts.length, 1);
  const { url, message } = w.chat.posts[0]!;
  assert.equal(url, 'https://hooks.slack.com/commands/T0001/1/abc');
  const s = JSON.stringify(message);
  for (const want of ['latest valid', 'v2', 'incomplete', 'ro-1', 'succeeded']) assert.ok(s.includes(want), want);
  assert.ok(message.blocks!.length > 0);
  assert.equal(w.commands.docs.get(id)!.status, 'done');
  assert.deepEqual(await handleChatCommand(w.workFor(id), w.worker), { outcome: 'duplicate' });
  assert.equal(w.chat.posts.length, 1);
});

test('versions: each version and what changed since the previous one', async () => {
  const w = world();
  seedModel(w);
  await handleChatCommand(w.workFor(await accepted(w, 'versions llama')), w.worker);
  const s = JSON.stringify(w.chat.posts[0]!.message);
  for (const want of ['vs `v1`', 'shards 4 → 2', 'dtypes +F8_E4M3 −BF16', 'bytes 14.9 GiB → 7.5 GiB', 'not validated yet'])
    assert.ok(s.includes(want), `${want} in ${s}`);
});

test('teardown plan: sent to teardownIdle as a dry-run tick naming the command; the plan is posted from there, not here', async () => {
  const w = world();
  const worker = { ...w.worker, config: { ...w.worker.config, teardownTopic: 'teardown-tick' } };
  const id = await accepted(w, 'teardown plan');
  const out = await handleChatCommand(w.workFor(id), worker);
  assert.deepEqual(out, { outcome: 'done', code: 'TEARDOWN_PLAN_REQUESTED', posted: false });
  const ticks = w.publisher.published.filter((p) => p.topic === 'teardown-tick');
  assert.deepEqual(
    ticks.map((p) => [p.data, p.attributes]),
    [
      [
        { tick: 'teardown', dryRun: true, chat: { commandId: id } },
        { kind: 'teardown-plan', commandId: id },
      ],
    ],
  );
  assert.equal(w.chat.posts.length, 0, 'the ack said the answer follows; teardownIdle posts it');
  assert.equal(w.commands.docs.get(id)!.status, 'done');
});

test('teardown plan where teardown is not set up: says so and what to do instead', async () => {
  const w = world();
  const out = await handleChatCommand(w.workFor(await accepted(w, 'teardown plan')), w.worker);
  assert.deepEqual(out, { outcome: 'done', code: 'NOT_AVAILABLE', posted: true });
  assert.match(w.chat.posts[0]!.message.text, /not set up in this ferry/);
  assert.equal(w.publisher.published.filter((p) => p.topic !== CHAT_TOPIC).length, 0);
});

test('deploy: publishes a deploy request carrying the Slack user, inherits the accelerator, reports the rollout it started', async () => {
  const w = world();
  const good = rolloutDoc('ro-good');
  w.rollouts.rollouts.set(good.id, good);
  w.rollouts.targets.set(targetKey(TARGET), targetState(good));
  admitDeploys(w);
  const id = await accepted(w, 'deploy llama@v2 to local/serving/llama', { user_name: 'dev' });
  const out = await handleChatCommand(w.workFor(id), w.worker);
  assert.deepEqual(out, { outcome: 'done', code: 'ROLLOUT_STARTED', posted: true });
  const deploys = w.publisher.published.filter((p) => p.topic === DEPLOY_TOPIC);
  assert.equal(deploys.length, 1);
  const request = DeployRequest.parse(deploys[0]!.data);
  assert.deepEqual(request.requestedBy, { source: 'slack', principal: 'slack:T0001/ULOCALDEV (dev)' });
  assert.equal(request.idempotencyKey, chatIdempotencyKey(id));
  assert.equal(request.version, 'v2');
  assert.deepEqual(request.accelerator, { type: 'nvidia-l4', count: 2 }, 'from the last good rollout');
  assert.equal(request.replicas, 2);
  const rec = w.commands.docs.get(id)!;
  assert.equal(rec.deployMessageId, deploys[0]!.messageId);
  assert.equal(rec.rolloutId, `ro-${deploys[0]!.messageId}`);
  const post = w.chat.posts[0]!.message;
  assert.equal(post.response_type, 'in_channel');
  assert.match(post.text, /^Rollout started: llama@v2/);
  assert.ok(JSON.stringify(post).includes('accelerator=nvidia-l4'), 'says what it inherited');

  // The rollout ends: the results path posts the final phase to the same response_url, once. The
  // result is published before the new phase is saved, so the stored rollout still says progressing.
  const rid = rec.rolloutId!;
  w.rollouts.rollouts.set(rid, {
    ...w.rollouts.rollouts.get(rid)!,
    phase: 'progressing',
    reason: 'Applied',
    detail: { state: 'waiting', reason: 'ReplicasBecomingAvailable', message: 'Waiting for deployment' },
  });
  const result = new TextEncoder().encode(
    JSON.stringify({ kind: 'rollout', rolloutId: rid, target: TARGET, phase: 'succeeded', reason: 'RolloutComplete', message: 'ok' }),
  );
  assert.deepEqual(await handleDeployResult(result, w.worker), { outcome: 'posted' });
  assert.deepEqual(await handleDeployResult(result, w.worker), { outcome: 'not-posted' }, 'a redelivered result is not posted twice');
  assert.equal(w.chat.posts.length, 2);
  assert.match(w.chat.posts[1]!.message.text, /^Rollout succeeded: llama@v2 .*\(succeeded, RolloutComplete\)$/);
  assert.ok(!JSON.stringify(w.chat.posts[1]!.message).includes('Waiting for deployment'), 'no stale detail');
});

test('deploy: gpus= without an accelerator and nothing to inherit asks for accelerator=', async () => {
  const w = world();
  admitDeploys(w);
  const out = await handleChatCommand(w.workFor(await accepted(w, 'deploy llama@v1 to local/serving/llama gpus=2')), w.worker);
  assert.deepEqual(out, { outcome: 'failed', code: 'ACCELERATOR_REQUIRED', posted: true });
  assert.match(w.chat.posts[0]!.message.text, /accelerator=nvidia-l4/);
  assert.equal(w.publisher.published.filter((p) => p.topic === DEPLOY_TOPIC).length, 0);
});

test('deploy: no accelerator given and none to inherit → usage asking for accelerator= when the schema needs one', async () => {
  const w = world();
  admitDeploys(w);
  const out = await handleChatCommand(w.workFor(await accepted(w, 'deploy llama@v1 to local/serving/llama')), w.worker);
  const required = !DeployRequest.safeParse({
    apiVersion: 'ferry/v1',
    model: 'm',
    version: 'v',
    target: TARGET,
    requestedBy: { source: 'slack', principal: 'x' },
  }).success;
  if (required) {
    assert.deepEqual(out, { outcome: 'failed', code: 'ACCELERATOR_REQUIRED', posted: true });
    assert.match(w.chat.posts[0]!.message.text, /no good rollout to take the accelerator from.*accelerator=/);
  } else {
    assert.equal(out.outcome, 'done', 'the schema lets ferry size the accelerator');
  }
});

test('deploy: refused by onDeployRequest → the reason is posted, once, whichever path reports it first', async () => {
  const w = world();
  w.publisher.onPublish = (p) => {
    if (p.topic === DEPLOY_TOPIC)
      w.rollouts.rejected.push({
        messageId: p.messageId,
        reason: 'UNKNOWN_VERSION',
        message: 'model llama has no version v9',
        issues: [],
        source: 'slack',
        receivedAt: T0.toISOString(),
        model: 'llama',
      });
  };
  const id = await accepted(w, 'deploy llama@v9 to local/serving/llama accelerator=l4');
  assert.deepEqual(await handleChatCommand(w.workFor(id), w.worker), { outcome: 'failed', code: 'UNKNOWN_VERSION', posted: true });
  assert.match(w.chat.posts[0]!.message.text, /refused \(UNKNOWN_VERSION\): model llama has no version v9/);
  const rejected = new TextEncoder().encode(
    JSON.stringify({
      kind: 'rejected',
      messageId: w.commands.docs.get(id)!.deployMessageId,
      reason: 'UNKNOWN_VERSION',
      message: 'model llama has no version v9',
      issues: [],
    }),
  );
  assert.deepEqual(await handleDeployResult(rejected, w.worker), { outcome: 'not-posted' });
  assert.equal(w.chat.posts.length, 1);
});

test('deploy: not admitted within the wait → "published", and the result follows from the results path', async () => {
  const w = world();
  let sleeps = 0;
  w.worker.sleep = async () => void sleeps++;
  const id = await accepted(w, 'deploy llama@v1 to local/serving/llama accelerator=l4');
  assert.deepEqual(await handleChatCommand(w.workFor(id), w.worker), { outcome: 'done', code: 'PUBLISHED', posted: true });
  assert.equal(sleeps, 3, 'polled for waitForRolloutMs / pollIntervalMs, with an injected sleep');
  assert.match(w.chat.posts[0]!.message.text, /published.*I will post the result here/);
});

test('deploy: the same spec already on the target → no new rollout, and it says so', async () => {
  const w = world();
  const existing = rolloutDoc('ro-existing', { requestOver: { version: 'v1' } });
  w.rollouts.rollouts.set(existing.id, existing);
  w.publisher.onPublish = (p) => {
    if (p.topic === DEPLOY_TOPIC) w.rollouts.byMessage.set(p.messageId, existing.id);
  };
  const out = await handleChatCommand(w.workFor(await accepted(w, 'deploy llama@v1 to local/serving/llama accelerator=l4 gpus=2')), w.worker);
  assert.deepEqual(out, { outcome: 'done', code: 'DUPLICATE', posted: true });
  assert.match(JSON.stringify(w.chat.posts[0]!.message), /no new rollout was started/);
});

test('rollback: re-requests the previous good version as the Slack user; nothing earlier → says so', async () => {
  const w = world();
  const v1 = rolloutDoc('ro-v1', {
    createdAt: '2026-02-01T00:00:00.000Z',
    updatedAt: '2026-02-01T00:10:00.000Z',
    requestOver: { version: 'v1', vllmArgs: ['--max-num-seqs=16'] },
  });
  const v2 = rolloutDoc('ro-v2', { createdAt: '2026-02-02T00:00:00.000Z', updatedAt: '2026-02-02T00:10:00.000Z', requestOver: { version: 'v2' } });
  w.rollouts.rollouts.set(v1.id, v1);
  w.rollouts.rollouts.set(v2.id, v2);
  w.rollouts.targets.set(targetKey(TARGET), targetState(v2));
  admitDeploys(w);
  const id = await accepted(w, 'rollback local/serving/llama');
  assert.equal((await handleChatCommand(w.workFor(id), w.worker)).outcome, 'done');
  const request = DeployRequest.parse(w.publisher.published.find((p) => p.topic === DEPLOY_TOPIC)!.data);
  assert.equal(request.version, 'v1');
  assert.deepEqual(request.vllmArgs, ['--max-num-seqs=16'], 'the previous good request, as it was');
  assert.equal(request.requestedBy.source, 'slack');
  assert.equal(request.idempotencyKey, chatIdempotencyKey(id));
  assert.match(JSON.stringify(w.chat.posts[0]!.message), /back from `llama@v2` to `llama@v1`/);

  const lone = world();
  lone.rollouts.rollouts.set(v2.id, v2);
  lone.rollouts.targets.set(targetKey(TARGET), targetState(v2));
  const out = await handleChatCommand(lone.workFor(await accepted(lone, 'rollback local/serving/llama')), lone.worker);
  assert.deepEqual(out, { outcome: 'failed', code: 'NO_EARLIER_GOOD_VERSION', posted: true });
  assert.match(lone.chat.posts[0]!.message.text, /Nothing to roll back: .* has no earlier good version\. To put another version there, deploy it/);
});

test('worker failures: retryable ones are released and thrown (redelivery); permanent ones are reported', async () => {
  const w = world();
  const id = await accepted(w, 'status');
  w.versions.listModels = async () => {
    throw new FerryError('STATE_UNAVAILABLE', 'Firestore is down', { retryable: true });
  };
  await assert.rejects(handleChatCommand(w.workFor(id), w.worker), /Firestore is down/);
  assert.equal(w.commands.docs.get(id)!.status, 'queued', 'released for the redelivery');
  assert.equal(w.chat.posts.length, 0);
  w.versions.listModels = async () => {
    throw new FerryError('STATE_FORBIDDEN', 'permission denied', { hint: "Give the function's service account roles/datastore.user." });
  };
  assert.deepEqual(await handleChatCommand(w.workFor(id), w.worker), { outcome: 'failed', code: 'STATE_FORBIDDEN', posted: true });
  assert.match(JSON.stringify(w.chat.posts[0]!.message), /roles\/datastore.user/);
  assert.equal(w.commands.docs.get(id)!.status, 'failed');
});

test('a command another delivery is working on is retried later, not run twice', async () => {
  const w = world();
  const id = await accepted(w, 'status');
  await w.commands.claim(id, T0, 60_000);
  await assert.rejects(handleChatCommand(w.workFor(id), w.worker), (e: unknown) => e instanceof FerryError && e.code === 'CHAT_COMMAND_BUSY' && e.retryable);
});

test('a failed post is logged, not retried forever; the command still finishes', async () => {
  const w = world();
  w.chat.fail = new FerryError('CHAT_URL_EXPIRED', 'expired');
  const id = await accepted(w, 'teardown plan');
  assert.deepEqual(await handleChatCommand(w.workFor(id), w.worker), { outcome: 'done', code: 'NOT_AVAILABLE', posted: false });
  assert.equal(w.commands.docs.get(id)!.status, 'done');
  assert.ok(w.logger.entries.some((e) => e['code'] === 'CHAT_URL_EXPIRED'));
});

test('malformed work messages and unknown ids are dropped', async () => {
  const w = world();
  assert.deepEqual(await handleChatCommand(new TextEncoder().encode('{"commandId":"nope"}'), w.worker), { outcome: 'malformed' });
  assert.deepEqual(await handleChatCommand(new TextEncoder().encode('not json'), w.worker), { outcome: 'malformed' });
  assert.deepEqual(await handleChatCommand(w.workFor('sc-20260301-100000-0123456789abcdef'), w.worker), { outcome: 'missing' });
});

test('results of rollouts not started from chat are ignored', async () => {
  const w = world();
  w.rollouts.rollouts.set('ro-cli', rolloutDoc('ro-cli'));
  const r = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  assert.deepEqual(
    await handleDeployResult(
      r({ kind: 'rollout', rolloutId: 'ro-cli', target: TARGET, phase: 'succeeded', reason: 'RolloutComplete', message: 'ok' }),
      w.worker,
    ),
    { outcome: 'not-from-chat' },
  );
  assert.deepEqual(await handleDeployResult(r({ kind: 'rejected', messageId: 'm-1', reason: 'SCHEMA', message: 'bad', issues: [] }), w.worker), {
    outcome: 'not-from-chat',
  });
  assert.equal((await handleDeployResult(r({ kind: 'other' }), w.worker)).outcome, 'ignored');
  assert.equal(w.chat.posts.length, 0);
});

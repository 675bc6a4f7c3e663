import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatCommand, chatDeployRequest, commandClass, describeCommand, parseChatCommand, parseTargetRef } from '../../../shared/domain/chat-command.ts';
import { authorise, type ChatAccessPolicy } from '../../../shared/domain/chat-access.ts';
import {
  ChatCommandRecord,
  MAX_RESPONSE_POSTS,
  RESPONSE_URL_TTL_MS,
  chatCommandId,
  chatIdempotencyKey,
  commandIdOfKey,
  decideChatClaim,
  decidePost,
  newChatCommandRecord,
  slackRequestedBy,
} from '../../../shared/domain/chat-command-record.ts';
import { DeployRequest, parseDeployRequest } from '../../../shared/domain/deploy-request.ts';

const GKE = 'projects/my-proj/locations/us-central1/clusters/gpu';

function ok(text: string): ChatCommand {
  const r = parseChatCommand(text);
  if (!r.ok) assert.fail(`expected ${JSON.stringify(text)} to parse: ${r.message}`);
  assert.ok(ChatCommand.safeParse(r.command).success, 'the parsed command matches its schema (it is stored)');
  return r.command;
}
function bad(text: string, re?: RegExp): string {
  const r = parseChatCommand(text);
  assert.equal(r.ok, false, `expected ${JSON.stringify(text)} to be refused`);
  if (r.ok) throw new Error('unreachable');
  if (re) assert.match(r.message, re);
  return r.message;
}

test('help: empty text, help, --help', () => {
  for (const t of ['', '   ', 'help', 'HELP', '--help', '-h']) assert.deepEqual(ok(t), { kind: 'help' });
  bad('help me', /no arguments/);
});

test('status [model]', () => {
  assert.deepEqual(ok('status'), { kind: 'status', model: null });
  assert.deepEqual(ok('  Status   Llama-3.1-8B  '), { kind: 'status', model: 'Llama-3.1-8B' });
  bad('status a b', /at most one/);
  bad('status ../etc', /model names/);
});

test('versions <model>', () => {
  assert.deepEqual(ok('versions llama'), { kind: 'versions', model: 'llama' });
  bad('versions', /exactly one model/);
  bad('versions a b', /exactly one model/);
  bad('versions -x', /model names/);
});

test('deploy <model>@<version|latest> to <cluster>/<namespace>/<name> [options]', () => {
  assert.deepEqual(ok('deploy llama@v1 to local/serving/llama'), {
    kind: 'deploy',
    model: 'llama',
    version: 'v1',
    target: { cluster: 'local', namespace: 'serving', name: 'llama' },
    replicas: null,
    accelerator: null,
    gpus: null,
  });
  assert.deepEqual(ok(`deploy Llama-3.1-8B@latest TO ${GKE}/serving/llama replicas=2 accelerator=nvidia-h100-80gb gpus=8`), {
    kind: 'deploy',
    model: 'Llama-3.1-8B',
    version: 'latest',
    target: { cluster: GKE, namespace: 'serving', name: 'llama' },
    replicas: 2,
    accelerator: 'nvidia-h100-80gb',
    gpus: 8,
  });
  // Short accelerator names, option case, zero replicas (scale down).
  const c = ok('deploy m@v2 to local/ns/name accelerator=l4 REPLICAS=0');
  assert.equal(c.kind === 'deploy' && c.accelerator, 'nvidia-l4');
  assert.equal(c.kind === 'deploy' && c.replicas, 0);
  assert.equal((ok('deploy m@v2 to local/ns/name accelerator=t4') as { accelerator: string }).accelerator, 'nvidia-tesla-t4');
});

test('deploy: malformed ones say what is wrong', () => {
  bad('deploy', /write `deploy/);
  bad('deploy llama@v1', /write `deploy/);
  bad('deploy llama@v1 local/ns/name', /write `deploy/);
  bad('deploy llama to local/ns/name', /<model>@<version>/);
  bad('deploy llama@v1@v2 to local/ns/name', /<model>@<version>/);
  bad('deploy ll/ama@v1 to local/ns/name', /model names/);
  bad('deploy llama@v 1 to local/ns/name');
  bad('deploy llama@v1 to ns/name', /not a target/);
  bad('deploy llama@v1 to local//name', /not a target/);
  bad('deploy llama@v1 to nowhere/ns/name', /cluster must be/);
  bad('deploy llama@v1 to projects/p/clusters/c/ns/name', /cluster must be/);
  bad('deploy llama@v1 to local/NS/name', /namespace/);
  bad('deploy llama@v1 to local/ns/9name', /name must be/);
  bad('deploy llama@v1 to local/ns/name replicas=100', /replicas/);
  bad('deploy llama@v1 to local/ns/name replicas=-1', /replicas/);
  bad('deploy llama@v1 to local/ns/name replicas=two', /replicas/);
  bad('deploy llama@v1 to local/ns/name gpus=0', /gpus/);
  bad('deploy llama@v1 to local/ns/name accelerator=nvidia-p4', /accelerator=nvidia-p4/);
  bad('deploy llama@v1 to local/ns/name image=vllm/vllm-openai:latest', /unknown option/);
  bad('deploy llama@v1 to local/ns/name extra', /unknown option/);
  bad('deploy llama@v1 to local/ns/name replicas=1 replicas=2', /twice/);
});

test('targets are read from the right: GKE cluster names contain slashes', () => {
  const t = parseTargetRef(`${GKE}/serving/llama-70b`);
  assert.deepEqual(t, { ok: true, target: { cluster: GKE, namespace: 'serving', name: 'llama-70b' } });
  assert.deepEqual(parseTargetRef('local/default/llama'), { ok: true, target: { cluster: 'local', namespace: 'default', name: 'llama' } });
  assert.equal(parseTargetRef('local/default').ok, false);
  assert.equal(parseTargetRef(`${GKE}/serving`).ok, false, 'clusters/gpu/serving is not a cluster');
});

test('rollback <cluster>/<namespace>/<name>', () => {
  assert.deepEqual(ok(`rollback ${GKE}/serving/llama`), { kind: 'rollback', target: { cluster: GKE, namespace: 'serving', name: 'llama' } });
  bad('rollback', /exactly one target/);
  bad('rollback local/ns/name now', /exactly one target/);
  bad('rollback llama', /not a target/);
});

test('teardown plan; nothing else of teardown', () => {
  assert.deepEqual(ok('teardown plan'), { kind: 'teardown-plan' });
  assert.deepEqual(ok('Teardown PLAN'), { kind: 'teardown-plan' });
  bad('teardown', /only `teardown plan`/);
  bad('teardown run', /only `teardown plan`/);
});

test('unknown commands are refused by name', () => {
  bad('delete everything', /unknown command `delete`/);
  bad('sudo deploy', /unknown command/);
});

test('describeCommand writes the command back canonically, and that parses to the same command', () => {
  for (const t of [
    'status',
    'status m',
    'versions m',
    `deploy m@latest to ${GKE}/ns/name replicas=3 accelerator=nvidia-l4 gpus=2`,
    'deploy m@v1 to local/ns/name',
    'rollback local/ns/name',
    'teardown plan',
    'help',
  ]) {
    const c = ok(t);
    assert.deepEqual(ok(describeCommand(c)), c, t);
  }
});

test('command classes: help is public; status, versions, teardown plan read; deploy and rollback deploy', () => {
  assert.equal(commandClass(ok('help')), 'public');
  for (const t of ['status', 'versions m', 'teardown plan']) assert.equal(commandClass(ok(t)), 'read', t);
  for (const t of ['deploy m@v1 to local/ns/n', 'rollback local/ns/n']) assert.equal(commandClass(ok(t)), 'deploy', t);
});

// ---------------------------------------------------------------------------------------------

const policy = (over: Partial<ChatAccessPolicy> = {}): ChatAccessPolicy => ({
  read: { users: ['UREADER'], channels: null },
  deploy: { users: ['UDEPLOYER'], channels: null },
  ...over,
});
const who = (userId: string, channelId = 'CGENERAL') => ({ userId, channelId });

test('authorise: readers read, deployers deploy and read, everyone else is politely refused', () => {
  const p = policy();
  assert.deepEqual(authorise(p, who('UREADER'), 'read'), { allowed: true });
  assert.deepEqual(authorise(p, who('UDEPLOYER'), 'read'), { allowed: true });
  assert.deepEqual(authorise(p, who('UDEPLOYER'), 'deploy'), { allowed: true });
  const r = authorise(p, who('UREADER'), 'deploy');
  assert.equal(r.allowed, false);
  assert.ok(
    !r.allowed && r.reason === 'USER_NOT_ALLOWED' && /Sorry/.test(r.message) && /FERRY_SLACK_DEPLOY_USERS/.test(r.message) && r.message.includes('UREADER'),
  );
  const s = authorise(p, who('USTRANGER'), 'read');
  assert.ok(!s.allowed && s.reason === 'USER_NOT_ALLOWED' && /FERRY_SLACK_READ_USERS/.test(s.message));
  assert.equal(authorise(p, who('USTRANGER'), 'deploy').allowed, false);
  assert.deepEqual(authorise(p, who('USTRANGER'), 'public'), { allowed: true }, 'help is for everyone');
});

test("authorise: '*' opens reading to everyone, never deploying", () => {
  const p = policy({ read: { users: '*', channels: null } });
  assert.deepEqual(authorise(p, who('UANYONE'), 'read'), { allowed: true });
  assert.equal(authorise(p, who('UANYONE'), 'deploy').allowed, false);
});

test('authorise: channel lists restrict where each class is taken', () => {
  const p = policy({ read: { users: ['UREADER'], channels: ['CREAD'] }, deploy: { users: ['UDEPLOYER'], channels: ['CDEPLOY'] } });
  assert.deepEqual(authorise(p, who('UDEPLOYER', 'CDEPLOY'), 'deploy'), { allowed: true });
  const elsewhere = authorise(p, who('UDEPLOYER', 'CREAD'), 'deploy');
  assert.ok(!elsewhere.allowed && elsewhere.reason === 'CHANNEL_NOT_ALLOWED' && elsewhere.message.includes('<#CDEPLOY>'));
  assert.deepEqual(authorise(p, who('UREADER', 'CREAD'), 'read'), { allowed: true });
  assert.deepEqual(authorise(p, who('UREADER', 'CDEPLOY'), 'read'), { allowed: true }, 'a deploy channel allows reading too');
  const dm = authorise(p, who('UREADER', 'DPRIVATE'), 'read');
  assert.ok(!dm.allowed && dm.reason === 'CHANNEL_NOT_ALLOWED');
  // A user not on the list is refused as a user first, whatever the channel.
  const u = authorise(p, who('USTRANGER', 'CDEPLOY'), 'deploy');
  assert.ok(!u.allowed && u.reason === 'USER_NOT_ALLOWED');
});

test('authorise: empty lists allow nobody', () => {
  const p = policy({ read: { users: [], channels: null }, deploy: { users: [], channels: null } });
  assert.equal(authorise(p, who('UREADER'), 'read').allowed, false);
  assert.equal(authorise(p, who('UDEPLOYER'), 'deploy').allowed, false);
});

// ---------------------------------------------------------------------------------------------

const body = new TextEncoder().encode('token=x&trigger_id=1.2.abc&text=status');
const payload = {
  command: '/ferry',
  text: 'status',
  response_url: 'https://hooks.slack.com/commands/T1/2/x',
  user_id: 'U1',
  user_name: 'alice',
  channel_id: 'C1',
  team_id: 'T1',
};
const T0 = new Date('2026-03-01T10:00:00.000Z');

function record(over: Partial<ChatCommandRecord> = {}): ChatCommandRecord {
  return { ...newChatCommandRecord({ id: chatCommandId(T0.getTime() / 1000, body), payload, command: { kind: 'status', model: null }, now: T0 }), ...over };
}

test('command ids: stable for the same signed request (replays collide), different for another', () => {
  const id = chatCommandId(1772359200, body);
  assert.match(id, /^sc-20260301-100000-[0-9a-f]{16}$/);
  assert.equal(chatCommandId(1772359200, body), id);
  assert.notEqual(chatCommandId(1772359201, body), id);
  assert.notEqual(chatCommandId(1772359200, new TextEncoder().encode('token=x&trigger_id=1.2.abd&text=status')), id);
});

test('the record says who, what and when, and matches its schema', () => {
  const r = record();
  assert.ok(ChatCommandRecord.safeParse(r).success);
  assert.deepEqual(r.user, { id: 'U1', name: 'alice' });
  assert.equal(r.text, 'status');
  assert.equal(r.receivedAt, T0.toISOString());
  assert.equal(r.commandClass, 'read');
  assert.equal(r.status, 'queued');
});

test('requestedBy and idempotency key carry the command to the deploy request and back', () => {
  const r = record();
  assert.deepEqual(slackRequestedBy(r), { source: 'slack', principal: 'slack:T1/U1 (alice)' });
  assert.equal(commandIdOfKey(chatIdempotencyKey(r.id)), r.id);
  assert.equal(commandIdOfKey('my-key'), null);
  assert.equal(commandIdOfKey(undefined), null);
  assert.equal(commandIdOfKey('slack:not-an-id'), null);
});

test('claims: one worker at a time; a finished command never runs again; an expired lease is taken over', () => {
  const r = record();
  const c1 = decideChatClaim(r, T0, 60_000);
  assert.equal(c1.action, 'claim');
  if (c1.action !== 'claim') return;
  assert.equal(c1.record.status, 'running');
  assert.equal(c1.record.attempts, 1);
  assert.deepEqual(decideChatClaim(c1.record, new Date(T0.getTime() + 30_000), 60_000), { action: 'skip', reason: 'IN_PROGRESS' });
  const c2 = decideChatClaim(c1.record, new Date(T0.getTime() + 61_000), 60_000);
  assert.equal(c2.action === 'claim' && c2.record.attempts, 2);
  assert.deepEqual(decideChatClaim({ ...r, status: 'done' }, T0, 60_000), { action: 'skip', reason: 'FINISHED' });
  assert.deepEqual(decideChatClaim({ ...r, status: 'failed' }, T0, 60_000), { action: 'skip', reason: 'FINISHED' });
});

test('posts: once per key, at most 5, none after 30 minutes', () => {
  let r = record();
  const p1 = decidePost(r, 'accepted', T0);
  assert.equal(p1.action, 'post');
  if (p1.action === 'post') r = p1.record;
  assert.deepEqual(decidePost(r, 'accepted', T0), { action: 'skip', reason: 'ALREADY_POSTED' });
  for (let i = 1; i < MAX_RESPONSE_POSTS; i++) {
    const p = decidePost(r, `k${i}`, T0);
    assert.equal(p.action, 'post');
    if (p.action === 'post') r = p.record;
  }
  assert.deepEqual(decidePost(r, 'one-more', T0), { action: 'skip', reason: 'BUDGET_SPENT' });
  assert.deepEqual(decidePost(record(), 'late', new Date(T0.getTime() + RESPONSE_URL_TTL_MS + 1)), { action: 'skip', reason: 'URL_EXPIRED' });
});

// ---------------------------------------------------------------------------------------------

const lastGood = (over: Record<string, unknown> = {}) =>
  DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'm',
    version: 'v1',
    target: { cluster: 'local', namespace: 'ns', name: 'name' },
    accelerator: { type: 'nvidia-h100-80gb', count: 4 },
    replicas: 3,
    requestedBy: { source: 'cli', principal: 'bob' },
    ...over,
  });
const deployCmd = (text: string) => ok(text) as Extract<ChatCommand, { kind: 'deploy' }>;
const ctx = { requestedBy: { source: 'slack' as const, principal: 'slack:T1/U1 (alice)' }, idempotencyKey: 'slack:sc-20260301-100000-0123456789abcdef' };

test('chat deploy: accelerator and replicas come from the last good rollout when not given', () => {
  const b = chatDeployRequest(deployCmd('deploy m@v2 to local/ns/name'), { ...ctx, lastGood: lastGood() });
  assert.deepEqual(b.inherited, ['accelerator=nvidia-h100-80gb', 'gpus=4', 'replicas=3']);
  const parsed = parseDeployRequest(JSON.stringify(b.request));
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
  assert.equal(parsed.request.version, 'v2');
  assert.equal(parsed.request.accelerator?.type, 'nvidia-h100-80gb');
  assert.equal(parsed.request.accelerator?.count, 4);
  assert.equal(parsed.request.replicas, 3);
  assert.deepEqual(parsed.request.requestedBy, ctx.requestedBy);
  assert.equal(parsed.request.idempotencyKey, ctx.idempotencyKey);
});

test('chat deploy: given options win; gpus alone keeps the inherited type', () => {
  const given = chatDeployRequest(deployCmd('deploy m@v2 to local/ns/name accelerator=l4 gpus=2 replicas=1'), { ...ctx, lastGood: lastGood() });
  assert.deepEqual(given.inherited, []);
  assert.deepEqual(given.request.accelerator, { type: 'nvidia-l4', count: 2 });
  assert.equal(given.request.replicas, 1);
  const gpus = chatDeployRequest(deployCmd('deploy m@v2 to local/ns/name gpus=8'), { ...ctx, lastGood: lastGood() });
  assert.deepEqual(gpus.request.accelerator, { type: 'nvidia-h100-80gb', count: 8 });
  assert.deepEqual(gpus.inherited, ['accelerator=nvidia-h100-80gb', 'replicas=3']);
});

test('chat deploy: nothing to inherit and no accelerator given → no accelerator in the request', () => {
  const b = chatDeployRequest(deployCmd('deploy m@v2 to local/ns/name'), { ...ctx, lastGood: null });
  assert.equal(b.request.accelerator, undefined);
  assert.equal(b.request.replicas, undefined, 'the schema default applies');
  assert.deepEqual(b.inherited, []);
});

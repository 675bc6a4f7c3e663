/**
 * The deploy policy and the bucket check on the local stack, on every path a deploy arrives by:
 * a message published to the deploy topic (Pub/Sub), a signed Slack slash command, an autodeploy
 * target fired by an upload, and `ferry deploy` (CLI). Each refuses a system namespace, and where
 * the path can say it, an unlisted image and a forbidden vLLM flag; the refusal is recorded with
 * the rule's code. A finalize event naming another bucket is acked and never recorded. The HTTP
 * edge caps bodies and acks malformed deliveries. `ferry policy set` stores a version with its
 * diff and audit record (the stack's policy is restored afterwards).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PubSub } from '@google-cloud/pubsub';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { uploadVersion as uploadReferenceVersion } from '../helpers/upload-version.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { FirestorePolicyStore } from '../../shared/adapters/firestore-policy.ts';
import { main } from '../../shared/cli/main.ts';
import { slackSignature } from '../../shared/domain/slack.ts';
import type { RejectedRequest } from '../../shared/ports/rollout-state.ts';
import type { DeployRequestInput } from '../../shared/domain/deploy-request.ts';
import { LOCAL_POLICY } from '../helpers/policy.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_DEPLOY_TOPIC',
  'KUBECONFIG',
  'FERRY_URL_SLACK_COMMAND',
  'FERRY_URL_ON_CHECKPOINT_UPLOAD',
  'FERRY_URL_ON_DEPLOY_REQUEST',
  'FERRY_SLACK_SIGNING_SECRET',
  'FERRY_POLICY_DATABASE',
);
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const versions = new FirestoreCheckpointState(db);
const rollouts = new FirestoreRolloutState(db);
// The policy has a database of its own (FERRY_POLICY_DATABASE), locally as in production.
const policyStore = new FirestorePolicyStore(firestoreClient(env.GOOGLE_CLOUD_PROJECT, env.FERRY_POLICY_DATABASE));
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
const topic = pubsub.topic(env.FERRY_DEPLOY_TOPIC, { batching: { maxMessages: 1 } });
const model = uniqueName('pol');
const NS = 'ferry-policy-it';

// A stand-in for Slack's response_url: the worker's posts, by path.
const posts = new Map<string, string[]>();
let server: Server | undefined;
let replyBase = '';

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      posts.set(req.url ?? '', [...(posts.get(req.url ?? '') ?? []), body]);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  replyBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await uploadReferenceVersion(env, model, 'v1');
});
after(async () => {
  server?.close();
  await pubsub.close();
});

async function ferry(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: { ...process.env, ...env, ...extraEnv } });
  return { code, out, err };
}

const rejectionOf = (messageId: string) =>
  eventually(
    `rejection of ${messageId}`,
    async () => (await rollouts.listRejected(model, 200)).find((r) => r.messageId === messageId),
    (r): r is RejectedRequest => r !== undefined,
  );

const request = (over: Partial<DeployRequestInput> = {}): DeployRequestInput => ({
  apiVersion: 'ferry/v1',
  model,
  version: 'v1',
  target: { cluster: 'local', namespace: NS, name: 'llama' },
  accelerator: { type: 'nvidia-l4', count: 1 },
  requestedBy: { source: 'pubsub', principal: 'policy-test' },
  ...over,
});

test('Pub/Sub: a system namespace, an unlisted image and a forbidden flag are refused by the rule that forbids them, recorded, never admitted', async () => {
  const cases: Array<[string, Partial<DeployRequestInput>]> = [
    ['POLICY_SYSTEM_NAMESPACE', { target: { cluster: 'local', namespace: 'kube-system', name: 'miner' } }],
    ['POLICY_TARGET', { target: { cluster: 'local', namespace: 'default', name: 'miner' } }],
    ['POLICY_IMAGE', { image: 'ghcr.io/attacker/cryptominer:latest' }],
    ['POLICY_FLAG', { vllmArgs: ['--trust-remote-code'] }],
  ];
  for (const [code, over] of cases) {
    const messageId = await topic.publishMessage({ json: request(over) });
    const rej = await rejectionOf(messageId);
    assert.equal(rej.reason, code, rej.message);
    assert.match(rej.message, /^refused by policy rule /);
    assert.equal(await rollouts.rolloutIdForMessage(messageId), null, 'no rollout');
  }
});

test('CLI: ferry deploy is refused by the policy with the rule named (system namespace, image, flag)', async () => {
  const base = [`${model}@v1`, '--cluster', 'local', '--name', 'cli-miner', '--accelerator', 'nvidia-l4', '--wait', '--timeout', '120'];
  const cases: Array<[string, string[]]> = [
    ['POLICY_SYSTEM_NAMESPACE', ['--namespace', 'kube-system']],
    ['POLICY_IMAGE', ['--namespace', NS, '--image', 'ghcr.io/attacker/cryptominer:latest']],
    ['POLICY_FLAG', ['--namespace', NS, '--vllm-arg=--trust-remote-code']],
  ];
  for (const [code, extra] of cases) {
    const r = await ferry(['deploy', ...base, ...extra]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.err, new RegExp(`rejected \\(${code}\\)`), r.err);
  }
});

test('Slack: a deploy to a system namespace is refused, and the answer names the rule', async () => {
  const path = `/r/${randomUUID()}`;
  const form = new URLSearchParams({
    team_id: 'T0LOCAL',
    channel_id: 'C0LOCAL',
    user_id: 'ULOCALDEV',
    user_name: 'dev',
    command: '/ferry',
    text: `deploy ${model}@v1 to local/kube-system/miner accelerator=nvidia-l4 gpus=1`,
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
  const posted = await eventually(
    'the refusal posted to the response_url',
    async () => (posts.get(path) ?? []).join('\n'),
    (t) => t.includes('POLICY_SYSTEM_NAMESPACE'),
    90_000,
    300,
  );
  assert.match(posted, /refused by policy rule systemNamespaces/);
});

test('autodeploy: an upload whose autodeploy target is a system namespace publishes a request that is refused, never admitted', async () => {
  const auto = uniqueName('pol-auto');
  await versions.setAutodeploy(
    auto,
    [{ cluster: 'local', namespace: 'kube-system', name: 'auto-miner', accelerator: { type: 'nvidia-l4', count: 1 } }],
    new Date(),
  );
  await uploadReferenceVersion(env, auto, 'v1');
  const rej = await eventually(
    'the autodeploy request refused',
    async () => (await rollouts.listRejected(auto, 20)).find((r) => r.reason === 'POLICY_SYSTEM_NAMESPACE'),
    (r) => r !== undefined,
    60_000,
    300,
  );
  assert.equal(rej!.source, 'upload');
  assert.equal((await rollouts.listRollouts({ model: auto })).length, 0, 'no rollout');
});

test('a finalize event naming a bucket ferry does not own is acked and never recorded', async () => {
  const foreign = uniqueName('foreign');
  const res = await fetch(env.FERRY_URL_ON_CHECKPOINT_UPLOAD, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-id': randomUUID(),
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.storage.object.v1.finalized',
      'ce-source': '//storage.googleapis.com/projects/_/buckets/attacker-bucket',
      'ce-subject': `objects/models/${foreign}/v1/config.json`,
    },
    body: JSON.stringify({ bucket: 'attacker-bucket', name: `models/${foreign}/v1/config.json`, generation: '1', size: '2' }),
  });
  assert.ok(res.status >= 200 && res.status < 300, `acked: ${res.status}`);
  // functions-framework answers after the handler returned: nothing was recorded by then.
  assert.equal(await versions.getModel(foreign), undefined);
  assert.equal(await versions.getVersion(foreign, 'v1'), undefined);
});

test('HTTP edge: Slack oversized → bare 413; a malformed Pub/Sub push → acked with BODY_MALFORMED, no stack', async () => {
  const big = await fetch(env.FERRY_URL_SLACK_COMMAND, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'a'.repeat(200 * 1024),
  });
  assert.equal(big.status, 413);
  assert.equal(await big.text(), '');
  const truncated = await fetch(env.FERRY_URL_SLACK_COMMAND, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text": "deploy' });
  assert.equal(truncated.status, 401);
  assert.equal(await truncated.text(), '');
  const push = await fetch(env.FERRY_URL_ON_DEPLOY_REQUEST, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message": {"data": ' });
  assert.equal(push.status, 200);
  const body = await push.text();
  assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'BODY_MALFORMED');
  assert.doesNotMatch(body, /SyntaxError|\/work\/|node_modules/);
});

test('ferry policy set: diff, next version, audit record; a concurrent change is refused; show prints it', async () => {
  const before = await policyStore.current();
  assert.ok(before, 'the stack seeded a policy');
  const dir = mkdtempSync(join(tmpdir(), 'ferry-policy-it-'));
  const changed = join(dir, 'changed.json');
  const original = join(dir, 'original.json');
  writeFileSync(
    changed,
    JSON.stringify({ ...LOCAL_POLICY, targets: [{ ...LOCAL_POLICY.targets[0]!, namespaces: [...LOCAL_POLICY.targets[0]!.namespaces, 'team-x'] }] }),
  );
  writeFileSync(original, JSON.stringify(before.policy));
  try {
    const dry = await ferry(['policy', 'set', '-f', changed, '--dry-run']);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /^\+ .*"team-x"/m);
    assert.equal((await policyStore.current())?.version, before.version, 'dry run wrote nothing');

    const set = await ferry(['policy', 'set', '-f', changed, '--json'], { FERRY_ACTOR: 'policy-it' });
    assert.equal(set.code, 0, set.err);
    const stored = JSON.parse(set.out) as { version: number; by: string; diff: string[] };
    assert.equal(stored.version, before.version + 1);
    const [audit] = await policyStore.history(1);
    assert.deepEqual([audit?.version, audit?.previousVersion, audit?.by], [before.version + 1, before.version, 'policy-it']);
    assert.ok(audit?.diff.some((l) => l.includes('team-x')));

    // Someone else's change wins the race: ours, based on the old version, writes nothing.
    const race = await policyStore.replace({ policy: LOCAL_POLICY, expectedVersion: before.version, by: 'late', now: new Date(), diff: [] });
    assert.deepEqual(race, { ok: false, currentVersion: before.version + 1 });

    const show = await ferry(['policy', 'show']);
    assert.equal(show.code, 0, show.err);
    assert.match(show.out, new RegExp(`# version ${before.version + 1}, set .* by policy-it`));
  } finally {
    // Back to the stack's policy for the test files after this one.
    const back = await ferry(['policy', 'set', '-f', original]);
    assert.equal(back.code, 0, back.err);
  }
});

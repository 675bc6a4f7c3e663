/**
 * Promotion gates on the local stack's Firestore emulator: the default-gate store (set → get with
 * revisions, delete, a corrupt stored gate is STATE_CORRUPT with what to do, not a crash; the
 * gate's document is invisible to the models and versions listings), `ferry gate set|show|clear`
 * end to end, and a deploy request whose gate breaks a rule is rejected with INVALID_GATE by the
 * deploy function, with each problem recorded. Skips without the stack (`npm test` starts one).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { FirestoreGateStore } from '../../shared/adapters/firestore-gates.ts';
import { FerryError } from '../../shared/domain/errors.ts';
import { parseGate, type Gate } from '../../shared/domain/gate.ts';
import { main } from '../../shared/cli/main.ts';

const skip = !process.env['FERRY_TEST_STACK']
  ? 'needs the local stack: run it through `npm test` (or set FERRY_TEST_STACK=1 with the env of a running `npm start`)'
  : false;

const GATE_INPUT = {
  prompts: [
    { name: 'capital', prompt: 'The capital of France is', maxTokens: 8, expect: { contains: 'Paris' } },
    { messages: [{ role: 'user', content: 'Say hi' }], maxTokens: 8, sameAsPrevious: true },
  ],
  passThreshold: 0.5,
};
function gateOf(input: unknown): Gate {
  const r = parseGate(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.gate;
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function stack() {
  const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST');
  const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
  return { env, db, gates: new FirestoreGateStore(db) };
}

async function ferry(env: Record<string, string>, args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    env: { ...process.env, ...env, FERRY_ACTOR: 'gate-test' },
    ...(stdin !== undefined ? { readStdin: async () => stdin } : {}),
  });
  return { code, out, err };
}

test('the gate store: set, get, revisions, delete; a corrupt stored gate is STATE_CORRUPT; listings never see it', { skip }, async () => {
  const { db, gates } = stack();
  const model = uniqueName('gate');
  cleanups.push(() => gates.delete(model));
  assert.equal(await gates.get(model), null);
  assert.equal(await gates.delete(model), false);

  const first = await gates.set(model, gateOf(GATE_INPUT), 'alice', new Date('2026-12-01T10:00:00Z'));
  assert.deepEqual(first, { model, gate: gateOf(GATE_INPUT), updatedAt: '2026-12-01T10:00:00.000Z', updatedBy: 'alice', revision: 1 });
  assert.deepEqual(await gates.get(model), first);
  const raw = (await db.doc(`models/${model}/settings/gate`).get()).data();
  assert.equal(raw?.['schemaVersion'], 1);

  const changed = gateOf({ ...GATE_INPUT, timeoutSeconds: 60 });
  const second = await gates.set(model, changed, 'bob', new Date('2026-12-02T10:00:00Z'));
  assert.equal(second.revision, 2);
  assert.equal((await gates.get(model))?.gate.timeoutSeconds, 60);
  assert.equal((await gates.get(model))?.updatedBy, 'bob');

  // The gate lives in a subcollection of its own: no model document appears, no version is listed.
  const versions = new FirestoreCheckpointState(db);
  assert.equal(await versions.getModel(model), undefined);
  assert.ok(!(await versions.listModels()).some((m) => m.model === model));
  assert.ok(!(await versions.listVersionBriefs()).some((v) => v.model === model));
  assert.deepEqual(await versions.listVersions(model), []);

  // A stored gate that no longer parses (an incompatible ferry, a hand edit) is reported, never used.
  await db.doc(`models/${model}/settings/gate`).update({ 'gate.prompts': [{ prompt: 'x', maxTokens: 4, temperature: 0.9, sameAsPrevious: true }] });
  await assert.rejects(
    () => gates.get(model),
    (e: unknown) =>
      e instanceof FerryError &&
      e.code === 'STATE_CORRUPT' &&
      e.message.includes(`the default gate of ${model} is unreadable`) &&
      e.message.includes('temperature must be 0') &&
      e.hint.includes(`ferry gate set ${model}`),
  );
  // set replaces it, counting on from the corrupt document's revision.
  assert.equal((await gates.set(model, changed, 'carol', new Date())).revision, 3);
  assert.equal(await gates.delete(model), true);
  assert.equal(await gates.get(model), null);
});

test('`ferry gate set|show|clear` against the emulator: stored as checked, shown as text and JSON, cleared', { skip }, async () => {
  const { env, gates } = stack();
  const model = uniqueName('gatecli');
  cleanups.push(() => gates.delete(model));
  const dir = mkdtempSync(join(tmpdir(), 'ferry-gate-it-'));
  const file = join(dir, 'gate.json');
  writeFileSync(file, JSON.stringify(GATE_INPUT));

  const none = await ferry(env, ['gate', 'show', model]);
  assert.equal(none.code, 0, none.err);
  assert.match(none.out, new RegExp(`${model} has no default gate`));
  assert.deepEqual(JSON.parse((await ferry(env, ['gate', 'show', model, '--json'])).out), { model, gate: null });

  const set = await ferry(env, ['gate', 'set', model, '-f', file]);
  assert.equal(set.code, 0, set.err);
  assert.match(set.out, new RegExp(`^stored: default gate of ${model} \\(revision 1, set \\S+ by gate-test\\)`));
  assert.match(set.out, /2 prompts; 1 of 2 must pass \(passThreshold 0\.5\); timeout 180 s/);
  // No version of the model was ever uploaded: said, not refused.
  assert.match(set.err, /no version of .* has been uploaded yet/);
  assert.deepEqual((await gates.get(model))?.gate, gateOf(GATE_INPUT));

  const shown = await ferry(env, ['gate', 'show', model]);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, / {2}capital {2}\(completion, maxTokens 8, seed 0\)/);
  const json = JSON.parse((await ferry(env, ['gate', 'show', model, '-o', 'json'])).out) as { revision: number; gate: Gate; updatedBy: string };
  assert.equal(json.revision, 1);
  assert.equal(json.updatedBy, 'gate-test');
  assert.deepEqual(json.gate, gateOf(GATE_INPUT));

  // From stdin, and the revision counts on.
  const again = await ferry(env, ['gate', 'set', model, '-f', '-', '--json'], JSON.stringify({ ...GATE_INPUT, passThreshold: 1 }));
  assert.equal(again.code, 0, again.err);
  assert.equal((JSON.parse(again.out) as { revision: number }).revision, 2);

  // A bad gate is refused before anything is written.
  const bad = await ferry(env, ['gate', 'set', model, '-f', '-'], JSON.stringify({ prompts: [{ prompt: 'x', maxTokens: 4 }] }));
  assert.equal(bad.code, 1);
  assert.match(bad.err, /INVALID_GATE/);
  assert.equal((await gates.get(model))?.revision, 2);

  // An autodeploy target carries its own gate (copied into each deploy request it publishes).
  const auto = await ferry(env, ['autodeploy', model, '--cluster', 'local', '--namespace', 'ferry-gate-it', '--name', 'llama', '--gate', file]);
  assert.equal(auto.code, 0, auto.err);
  assert.match(auto.out, /gated \(2 prompts\)/);
  const versions = new FirestoreCheckpointState(firestoreClient(env.GOOGLE_CLOUD_PROJECT));
  cleanups.push(() => versions.setAutodeploy(model, [], new Date()));
  assert.deepEqual((await versions.getModel(model))?.autodeploy.targets[0]?.gate, gateOf(GATE_INPUT));

  const cleared = await ferry(env, ['gate', 'clear', model]);
  assert.equal(cleared.code, 0, cleared.err);
  assert.match(cleared.out, new RegExp(`removed the default gate of ${model}`));
  assert.match((await ferry(env, ['gate', 'clear', model])).out, /had no default gate; nothing to remove/);
  assert.equal(await gates.get(model), null);
});

test('a deploy request whose gate breaks a rule is rejected with INVALID_GATE, each problem recorded', { skip }, async () => {
  const env = stackEnv('GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST', 'FERRY_DEPLOY_TOPIC');
  const rollouts = new FirestoreRolloutState(firestoreClient(env.GOOGLE_CLOUD_PROJECT));
  const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
  cleanups.push(() => pubsub.close());
  const request = {
    apiVersion: 'ferry/v1',
    model: uniqueName('gatereq'),
    version: 'v1',
    target: { cluster: 'local', namespace: 'ferry-gate-it', name: 'llama' },
    requestedBy: { source: 'pubsub', principal: 'gate-test' },
    gate: { prompts: [{ prompt: 'x', maxTokens: 4, temperature: 0.7, expect: { regex: '(?<=a)b' } }] },
  };
  const messageId = await pubsub.topic(env.FERRY_DEPLOY_TOPIC).publishMessage({ data: Buffer.from(JSON.stringify(request)) });
  const rej = await eventually(
    'rejection of the bad gate',
    async () => (await rollouts.listRejected(undefined, 500)).find((r) => r.messageId === messageId),
    (x) => x !== undefined,
  );
  assert.equal(rej!.reason, 'INVALID_GATE', JSON.stringify(rej));
  assert.deepEqual(
    rej!.issues.map((i) => i.path),
    ['gate.prompts.0.temperature', 'gate.prompts.0.expect.regex'],
  );
  assert.match(rej!.message, /temperature must be 0/);
});

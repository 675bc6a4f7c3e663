/**
 * `ferry policy` without a backend: a bad document is refused with every problem named before
 * any backend is asked; usage errors; and the committed JSON Schema is the generated one and
 * accepts the local stack's policy. (Storing, the diff and the audit record run against the
 * Firestore emulator in test/integration/policy.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { main } from '../../../shared/cli/main.ts';
import { policyJsonSchema } from '../../../shared/cli/commands/schema.ts';
import { LOCAL_POLICY } from '../../helpers/policy.ts';

const COMMITTED = join(import.meta.dirname, '..', '..', '..', 'schemas', 'policy.schema.json');

async function ferry(...args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: {} });
  return { code, out, err };
}

test('policy set: an invalid document is refused with each problem named, before any backend is asked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-policy-'));
  const file = join(dir, 'p.json');
  writeFileSync(file, JSON.stringify({ ...LOCAL_POLICY, targets: [{ cluster: 'local', namespaces: ['kube-system'] }], extra: true }));
  const r = await ferry('policy', 'set', '-f', file);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /targets\.0\.namespaces\.0: system namespaces/);
  assert.match(r.err, /Unrecognized key: "extra"|extra/);
  writeFileSync(file, '{"apiVersion": ');
  const notJson = await ferry('policy', 'set', '-f', file);
  assert.equal(notJson.code, 1);
  assert.match(notJson.err, /is not JSON/);
});

test('policy: usage errors', async () => {
  assert.equal((await ferry('policy', 'set')).code, 2);
  assert.equal((await ferry('policy', 'show', '-f', 'x.json')).code, 2);
  const typo = await ferry('policy', 'sho');
  assert.equal(typo.code, 2);
  assert.match(typo.err, /did you mean show\?/);
});

test('the committed policy schema is the generated one, and it accepts the local policy (regenerate: npx ferry schema policy > schemas/policy.schema.json)', async () => {
  const r = await ferry('schema', 'policy');
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(COMMITTED, 'utf8'), r.out);
  const validate = new Ajv2020({ strict: false }).compile(policyJsonSchema());
  assert.ok(validate(LOCAL_POLICY), JSON.stringify(validate.errors));
  assert.equal(validate({ ...LOCAL_POLICY, grants: [{ name: 'x', sources: ['email'], targets: ['*'] }] }), false);
});

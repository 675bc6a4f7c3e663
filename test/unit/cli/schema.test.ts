/**
 * The deploy request's JSON Schema: `ferry schema deploy-request` prints what is generated from the
 * zod schema, the committed copy equals it, and a standard validator (Ajv, draft 2020-12) accepts
 * requests ferry accepts and refuses ones it refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { deployRequestJsonSchema } from '../../../shared/cli/commands/schema.ts';
import { main } from '../../../shared/cli/main.ts';
import { parseDeployRequest } from '../../../shared/domain/deploy-request.ts';

const COMMITTED = join(import.meta.dirname, '..', '..', '..', 'schemas', 'deploy-request.schema.json');

async function ferry(...args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: {} });
  return { code, out, err };
}

test('the committed schema is the generated one (regenerate: npx ferry schema deploy-request > schemas/deploy-request.schema.json)', async () => {
  const r = await ferry('schema', 'deploy-request');
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(COMMITTED, 'utf8'), r.out);
  assert.deepEqual(JSON.parse(r.out), deployRequestJsonSchema());
});

const validate = new Ajv2020({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(COMMITTED, 'utf8')));

const sample = {
  apiVersion: 'ferry/v1',
  model: 'llama-3-8b',
  version: 'v1',
  target: { cluster: 'projects/my-proj/locations/us-central1/clusters/gpu', namespace: 'ml', name: 'llama' },
  accelerator: { type: 'nvidia-l4', count: 2 },
  tensorParallelSize: 2,
  vllmArgs: ['--max-model-len=8192'],
  streamer: { concurrency: 16 },
  cache: { mode: 'all-zones', ttlSeconds: 86400 },
  autoscaling: { profile: 'latency', maxReplicas: 4 },
  capacity: { computeClass: 'spot-then-flex-start' },
  sizing: { concurrency: 8 },
  requestedBy: { source: 'pubsub', principal: 'ci@example.com' },
};

test('a request ferry accepts validates against the committed schema', () => {
  assert.ok(parseDeployRequest(JSON.stringify(sample)).ok);
  assert.ok(validate(sample), JSON.stringify(validate.errors));
  const minimal = {
    apiVersion: 'ferry/v1',
    model: 'm',
    version: 'latest',
    target: { cluster: 'local', namespace: 'ns', name: 'd' },
    requestedBy: { source: 'cli', principal: 'me' },
  };
  assert.ok(parseDeployRequest(JSON.stringify(minimal)).ok);
  assert.ok(validate(minimal), JSON.stringify(validate.errors));
});

test('requests ferry refuses field by field are refused by the schema too', () => {
  const bad: Array<[string, unknown]> = [
    ['unknown field', { ...sample, replicaz: 2 }],
    ['bad cluster', { ...sample, target: { ...sample.target, cluster: 'nowhere' } }],
    ['bad accelerator', { ...sample, accelerator: { type: 'nvidia-l5', count: 1 } }],
    ['replicas out of range', { ...sample, replicas: 65 }],
    ['missing target', { ...sample, target: undefined }],
    ['wrong apiVersion', { ...sample, apiVersion: 'ferry/v2' }],
    ['bad cache mode', { ...sample, cache: { mode: 'sometimes' } }],
  ];
  for (const [what, request] of bad) {
    const json = JSON.stringify(request);
    assert.equal(parseDeployRequest(json).ok, false, `ferry refuses: ${what}`);
    assert.equal(validate(JSON.parse(json)), false, `the schema refuses: ${what}`);
  }
});

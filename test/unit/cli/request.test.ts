/** `deploy -f` / `render -f`: the request file gives any field; the command line overrides it; errors list every issue. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgv } from '../../../shared/cli/spec.ts';
import { specOf } from '../../../shared/cli/specs.ts';
import { deployRequestFrom } from '../../../shared/cli/request.ts';
import { main } from '../../../shared/cli/main.ts';
import type { CliIo } from '../../../shared/cli/io.ts';

const dir = mkdtempSync(join(tmpdir(), 'ferry-request-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, body: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
};

const REQUEST = {
  apiVersion: 'ferry/v1',
  model: 'llama',
  version: 'v1',
  target: { cluster: 'local', namespace: 'ml', name: 'llama' },
  replicas: 3,
  accelerator: { type: 'nvidia-l4', count: 2 },
  cache: { mode: 'all-zones', ttlSeconds: 172800 },
  autoscaling: { profile: 'throughput', maxReplicas: 4 },
  vllmArgs: ['--max-model-len=4096'],
  requestedBy: { source: 'pubsub', principal: 'someone-else' },
};

function io(stdin?: string): CliIo & { err: () => string } {
  let err = '';
  return {
    stdout: () => undefined,
    stderr: (s) => void (err += s),
    env: {},
    ...(stdin !== undefined ? { readStdin: async () => stdin } : {}),
    err: () => err,
  };
}

async function build(args: string[], stdin?: string) {
  const p = parseArgv(specOf('deploy'), args);
  assert.ok(p.ok, JSON.stringify(p));
  const i = io(stdin);
  const r = await deployRequestFrom('deploy', p, i);
  return { r, err: i.err() };
}

test('every field comes from the file; flags given on the command line override it (defaults do not)', async () => {
  const f = file('full.json', REQUEST);
  const same = await build(['-f', f]);
  assert.ok(typeof same.r === 'object', same.err);
  assert.equal(same.r.replicas, 3, 'the --replicas default does not override the file');
  assert.deepEqual(same.r.accelerator, { type: 'nvidia-l4', count: 2 });
  assert.deepEqual(same.r.cache, { mode: 'all-zones', ttlSeconds: 172800 });
  assert.deepEqual(same.r.autoscaling, { profile: 'throughput', maxReplicas: 4, minReplicas: 1 });
  assert.equal(same.r.requestedBy.source, 'cli', 'the CLI publishes it, so the CLI is who asks');

  const over = await build(['-f', f, 'llama@v2', '--replicas', '1', '--gpus', '4', '--cache', 'off', '--namespace', 'prod', '--vllm-arg=--enforce-eager']);
  assert.ok(typeof over.r === 'object', over.err);
  assert.deepEqual([over.r.version, over.r.replicas, over.r.target.namespace, over.r.target.name], ['v2', 1, 'prod', 'llama']);
  assert.deepEqual(over.r.accelerator, { type: 'nvidia-l4', count: 4 });
  assert.deepEqual(over.r.cache, { mode: 'off', ttlSeconds: 172800 });
  assert.deepEqual(over.r.vllmArgs, ['--enforce-eager']);

  const newType = await build(['-f', f, '--accelerator', 'nvidia-h100-80gb']);
  assert.ok(typeof newType.r === 'object', newType.err);
  assert.deepEqual(newType.r.accelerator, { type: 'nvidia-h100-80gb', count: 1 }, 'a new type does not inherit the old count');
});

test('-f - reads standard input', async () => {
  const { r, err } = await build(['-f', '-'], JSON.stringify({ ...REQUEST, model: 'from-stdin' }));
  assert.ok(typeof r === 'object', err);
  assert.equal(r.model, 'from-stdin');
});

test('without a file, the flags alone make the request; the accelerator is optional', async () => {
  const { r, err } = await build(['llama@latest', '--cluster', 'local', '--namespace', 'ml', '--name', 'llama']);
  assert.ok(typeof r === 'object', err);
  assert.equal(r.accelerator, undefined);
  assert.equal(r.replicas, 1);
});

test('errors: every schema issue on its own line, one line for unreadable input, exit 2', async () => {
  const bad = await build(['-f', file('bad.json', { ...REQUEST, replicas: 99, target: { ...REQUEST.target, cluster: 'nowhere' }, colour: 'blue' })]);
  assert.equal(bad.r, 2);
  assert.match(bad.err, /^ferry deploy: invalid deploy request \(SCHEMA\): 3 problems\n/);
  assert.match(bad.err, /\n {2}target\.cluster: cluster must be "local" or a GKE resource name/);
  assert.match(bad.err, /\n {2}replicas: /);
  assert.match(bad.err, /colour/);
  assert.match(bad.err, /ferry schema deploy-request/);

  const notJson = await build(['-f', file('x.json', '{"model": ')]);
  assert.equal(notJson.r, 2);
  assert.match(notJson.err, /^ferry deploy: .*x\.json is not JSON: /);
  const array = await build(['-f', file('a.json', [])]);
  assert.match(array.err, /must hold one JSON object/);
  const missing = await build(['-f', join(dir, 'nope.json')]);
  assert.match(missing.err, /cannot read .*nope\.json: no such file/);
  const noTarget = await build(['-f', file('nt.json', { ...REQUEST, target: undefined })]);
  assert.match(noTarget.err, /missing --cluster, --namespace, --name \(not in .*nt\.json either\)/);
  const gpus = await build(['m@v', '--cluster', 'local', '--namespace', 'a', '--name', 'b', '--gpus', '2']);
  assert.match(gpus.err, /--gpus goes with --accelerator/);
  const nothing = await build([]);
  assert.match(nothing.err, /give <model>@<version>, or a request file with -f/);
  for (const e of [bad.err, notJson.err, array.err, missing.err]) assert.doesNotMatch(e, /^\s+at /m);
});

test('render refuses a bad request before touching any backend', async () => {
  let err = '';
  const code = await main(['render', '-f', file('bad2.json', { ...REQUEST, tensorParallelSize: 3 })], {
    stdout: () => undefined,
    stderr: (s) => void (err += s),
    env: {},
  });
  assert.equal(code, 2);
  assert.match(err, /tensorParallelSize must be a power of two/);
});

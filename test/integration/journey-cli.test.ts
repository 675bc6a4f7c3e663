/**
 * The CLI journeys of "the first hour", as a newcomer runs them: `ferry` as a subprocess through its
 * launcher, in a folder holding only the .ferry/local.env the stack wrote, with nothing exported but
 * PATH and HOME. `schema`, `render -o yaml|json` (nothing applied), `deploy -f request.json --wait`
 * to a succeeded rollout, and `autodeploy` without an accelerator followed by an upload that rolls
 * out, sized from the checkpoint.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { uploadVersion } from '../helpers/upload-version.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import type { StatusJson } from '../../shared/cli/commands/status.ts';

const env = stackEnv(
  'FERRY_TEST_LOCAL_ENV',
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
);
const ROOT = join(import.meta.dirname, '..', '..');
const LAUNCHER = join(ROOT, 'shared', 'cli', 'ferry.mjs');
const NS = 'ferry-journey-cli';
const model = uniqueName('journey');

const home = mkdtempSync(join(tmpdir(), 'ferry-home-'));
const shell = mkdtempSync(join(tmpdir(), 'ferry-shell-'));
mkdirSync(join(shell, '.ferry'));
copyFileSync(env.FERRY_TEST_LOCAL_ENV, join(shell, '.ferry', 'local.env'));
const kc = new KubeConfig();
kc.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
after(async () => {
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name: NS })
    .catch(() => undefined);
  for (const d of [home, shell]) rmSync(d, { recursive: true, force: true });
});

/** `ferry …` in the new shell: only PATH and HOME. */
function ferry(args: string[], input?: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [LAUNCHER, ...args], { cwd: shell, env: { PATH: process.env['PATH']!, HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
const noStackTrace = (s: string) => assert.doesNotMatch(s, /^\s+at .+[:(]\d+/m, `no stack trace expected, got:\n${s}`);
const requestFile = (name: string, body: unknown) => {
  const p = join(shell, name);
  writeFileSync(p, JSON.stringify(body, null, 2));
  return name;
};

test('`ferry schema deploy-request` prints the committed schema', async () => {
  const r = await ferry(['schema', 'deploy-request']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, readFileSync(join(ROOT, 'schemas', 'deploy-request.schema.json'), 'utf8'));
});

test('upload v1, then `ferry render -o yaml` prints every manifest a deploy would apply, and applies nothing', async () => {
  await uploadVersion(env, model, 'v1');
  const file = requestFile('render.json', {
    apiVersion: 'ferry/v1',
    model,
    version: 'latest',
    target: { cluster: 'local', namespace: NS, name: 'j-render' },
    autoscaling: { profile: 'throughput', maxReplicas: 3 },
    capacity: { computeClass: 'spot-then-flex-start' },
    requestedBy: { source: 'cli', principal: 'journey' },
  });
  const yaml = await ferry(['render', '-f', file, '-o', 'yaml']);
  noStackTrace(yaml.err);
  assert.equal(yaml.code, 0, yaml.err);
  const docs = yaml.out.split(/^---\n/m).filter((d) => d.trim());
  assert.deepEqual(
    docs.map((d) => /^kind: (\S+)$/m.exec(d)?.[1]),
    ['ComputeClass', 'Service', 'Deployment', 'PodMonitoring', 'HorizontalPodAutoscaler'],
  );
  const deployment = docs[2]!;
  assert.match(deployment, /^ {2}name: j-render$/m);
  assert.match(deployment, /cloud\.google\.com\/gke-accelerator: nvidia-l4/, 'sized from the checkpoint as a deploy is');
  assert.match(deployment, new RegExp(`gs://${env.FERRY_BUCKET}/models/${model}/v1`), 'latest resolved to v1');

  const json = await ferry(['render', `${model}@v1`, '--cluster', 'local', '--namespace', NS, '--name', 'j-render', '-o', 'json']);
  assert.equal(json.code, 0, json.err);
  const list = JSON.parse(json.out) as { kind: string; items: Array<{ kind: string }> };
  assert.equal(list.kind, 'List');
  assert.deepEqual(
    list.items.map((o) => o.kind),
    ['Service', 'Deployment'],
  );

  const apps = kc.makeApiClient(AppsV1Api);
  await assert.rejects(apps.readNamespacedDeployment({ name: 'j-render', namespace: NS }), 'render created nothing');
});

test('`ferry deploy -f request.json --wait` prints each phase as it happens and ends succeeded', async () => {
  const file = requestFile('deploy.json', {
    apiVersion: 'ferry/v1',
    model,
    version: 'v1',
    target: { cluster: 'local', namespace: NS, name: 'j-deploy' },
    replicas: 2,
    progressDeadlineSeconds: 60,
    requestedBy: { source: 'pubsub', principal: 'overridden by the CLI' },
  });
  const r = await ferry(['deploy', '-f', file, '--replicas', '1', '--wait']);
  noStackTrace(r.err);
  assert.equal(r.code, 0, r.err + r.out);
  const phases = [...r.out.matchAll(/^rollout ro-\S+: (\w+) \(/gm)].map((m) => m[1]);
  assert.deepEqual(phases, ['pending', 'applying', 'progressing', 'succeeded'], r.out);
  assert.match(r.out, /^rollout ro-\S+ succeeded: /m);
  const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'j-deploy', namespace: NS });
  assert.equal(d.spec?.replicas, 1, 'the command line overrode the file');
});

test('`ferry autodeploy` without --accelerator, then an upload: the new version rolls out, sized from its checkpoint', async () => {
  const set = await ferry(['autodeploy', model, '--cluster', 'local', '--namespace', NS, '--name', 'j-auto']);
  noStackTrace(set.err);
  assert.equal(set.code, 0, set.err);
  assert.match(set.out, /accelerator sized from each checkpoint/);
  await uploadVersion(env, model, 'v2');
  const status = async () => {
    const r = await ferry(['status', model, '-o', 'json']);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as StatusJson;
  };
  type Row = { id: string; phase: string; version: string; target: { name: string }; requestedBy: { source: string } };
  const done = await eventually(
    'the autodeploy rollout of v2 ends',
    async () => ((await status()).models[0]?.rollouts as Row[] | undefined)?.find((r) => r.target.name === 'j-auto' && r.version === 'v2'),
    (r) => r !== undefined && ['succeeded', 'failed', 'rolled_back', 'superseded'].includes(r.phase),
    240_000,
    1000,
  );
  assert.equal(done!.phase, 'succeeded');
  assert.equal(done!.requestedBy.source, 'upload');
  const rollout = await new FirestoreRolloutState(firestoreClient(env.GOOGLE_CLOUD_PROJECT)).getRollout(done!.id);
  assert.deepEqual(rollout?.request.accelerator, { type: 'nvidia-l4', count: 1 });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DeployRequest,
  MAX_REQUEST_BYTES,
  effectiveTensorParallelSize,
  parseDeployRequest,
  type DeployRequestInput,
} from '../../../shared/domain/deploy-request.ts';
import { parseClusterName, targetKey, type Target } from '../../../shared/domain/names.ts';
import { ACCELERATOR_TYPES, ACCELERATOR_COUNTS } from '../../../shared/domain/accelerators.ts';
import { isVllmTagTooOld, ownedFlagOf, parseImageReference } from '../../../shared/domain/vllm.ts';

const base = (): Record<string, unknown> => ({
  apiVersion: 'ferry/v1',
  model: 'Llama-3.1-8B-Instruct',
  version: 'v1',
  target: { cluster: 'local', namespace: 'default', name: 'llama' },
  accelerator: { type: 'nvidia-l4' },
  requestedBy: { source: 'cli', principal: 'alice@example.com' },
});
const withFields = (over: Record<string, unknown>) => JSON.stringify({ ...base(), ...over });

function schemaError(over: Record<string, unknown>) {
  const r = parseDeployRequest(withFields(over));
  assert.equal(r.ok, false, `expected ${JSON.stringify(over)} to be rejected`);
  if (r.ok) throw new Error('unreachable');
  assert.equal(r.reason, 'SCHEMA');
  return r;
}
function accepted(over: Record<string, unknown>) {
  const r = parseDeployRequest(withFields(over));
  if (!r.ok) assert.fail(`expected ${JSON.stringify(over)} to be accepted: ${r.message}`);
  return r.request;
}

test('a minimal request parses and gets its defaults', () => {
  const req = accepted({});
  assert.equal(req.replicas, 1);
  assert.deepEqual(req.accelerator, { type: 'nvidia-l4', count: 1 });
  assert.deepEqual(req.vllmArgs, []);
  assert.deepEqual(req.streamer, {});
  assert.deepEqual(req.cache, { mode: 'off' });
  assert.equal(req.image, undefined);
  assert.equal(req.tensorParallelSize, undefined);
  assert.equal(effectiveTensorParallelSize(req), 1);
  // defaults are fresh objects, not shared between parses
  const first = accepted({});
  first.vllmArgs.push('--x');
  first.streamer.concurrency = 4;
  assert.deepEqual([accepted({}).vllmArgs, accepted({}).streamer], [[], {}]);
});

test('a full request round-trips', () => {
  const full: DeployRequestInput = {
    apiVersion: 'ferry/v1',
    model: 'mixtral',
    version: 'latest',
    target: { cluster: 'projects/my-proj/locations/us-central1/clusters/gpu-1', namespace: 'serving', name: 'mixtral' },
    replicas: 3,
    accelerator: { type: 'nvidia-h100-80gb', count: 8 },
    tensorParallelSize: 4,
    image: 'us-docker.pkg.dev/p/r/vllm/vllm-openai:v0.11.2',
    vllmArgs: ['--max-model-len=8192', '--served-model-name', 'mixtral'],
    streamer: { concurrency: 32, memoryLimit: 5368709120, distributed: true },
    progressDeadlineSeconds: 1800,
    cache: { mode: 'pin-one-zone', zones: ['us-central1-a'], ttlSeconds: 86400, admissionPolicy: 'admit-on-first-miss', maxWaitSeconds: 600 },
    requestedBy: { source: 'slack', principal: 'U123' },
    idempotencyKey: 'msg-42',
  };
  const r = parseDeployRequest(new TextEncoder().encode(JSON.stringify(full)));
  if (!r.ok) assert.fail(r.message);
  assert.deepEqual(r.request, full);
  assert.equal(effectiveTensorParallelSize(r.request), 4);
});

test('parse failures: NOT_JSON, NOT_OBJECT, TOO_LARGE', () => {
  const cases: Array<[Uint8Array | string, string]> = [
    ['{"apiVersion": ', 'NOT_JSON'],
    ['', 'NOT_JSON'],
    [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'NOT_JSON'],
    ['[]', 'NOT_OBJECT'],
    ['null', 'NOT_OBJECT'],
    ['42', 'NOT_OBJECT'],
    ['"text"', 'NOT_OBJECT'],
    [`{"pad":"${'x'.repeat(MAX_REQUEST_BYTES)}"}`, 'TOO_LARGE'],
    [new Uint8Array(MAX_REQUEST_BYTES + 1), 'TOO_LARGE'],
  ];
  for (const [input, reason] of cases) {
    const r = parseDeployRequest(input);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.reason, reason, `input ${String(input).slice(0, 20)}`);
      assert.ok(r.message.length > 0);
    }
  }
  // multi-byte characters count as bytes, not chars
  const emoji = JSON.stringify({ ...base(), requestedBy: { source: 'cli', principal: '😀'.repeat(MAX_REQUEST_BYTES / 4) } });
  assert.equal((parseDeployRequest(emoji) as { reason?: string }).reason, 'TOO_LARGE');
});

test('a UTF-8 BOM is tolerated in bytes and in text', () => {
  const body = withFields({});
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(body)]);
  assert.equal(parseDeployRequest(bytes).ok, true);
  assert.equal(parseDeployRequest(`\uFEFF${body}`).ok, true);
});

test('SCHEMA failures list every issue with a path', () => {
  const r = schemaError({ apiVersion: 'ferry/v2', replicas: -1, target: { cluster: 'local', namespace: 'Default', name: 'x' } });
  const paths = r.issues!.map((i) => i.path).sort();
  assert.deepEqual(paths, ['apiVersion', 'replicas', 'target.namespace']);
  assert.match(r.message, /^invalid deploy request: .+\(and 2 more\)$/);
});

test('unknown keys are rejected at every level', () => {
  assert.match(schemaError({ kind: 'DeployRequest' }).issues![0]!.message, /Unrecognized key: "kind"/);
  assert.equal(schemaError({ target: { cluster: 'local', namespace: 'a', name: 'b', zone: 'x' } }).issues![0]!.path, 'target');
  assert.equal(schemaError({ accelerator: { type: 'nvidia-l4', count: 1, gpus: 1 } }).issues![0]!.path, 'accelerator');
  assert.equal(schemaError({ streamer: { concurrency: 4, chunk: 1 } }).issues![0]!.path, 'streamer');
  assert.equal(schemaError({ cache: { mode: 'off', size: 1 } }).issues![0]!.path, 'cache');
  assert.equal(schemaError({ requestedBy: { source: 'cli', principal: 'a', ip: '1' } }).issues![0]!.path, 'requestedBy');
});

test('required fields', () => {
  // The accelerator is optional since sizing: ferry recommends one (shared/domain/serving-plan.ts).
  for (const key of ['apiVersion', 'model', 'version', 'target', 'requestedBy']) {
    const body = base();
    delete body[key];
    const r = parseDeployRequest(JSON.stringify(body));
    assert.equal(r.ok, false, key);
    if (!r.ok) assert.equal(r.issues?.[0]?.path, key);
  }
});

test('model and version names', () => {
  for (const model of ['llama', 'Llama-3.1-8B-Instruct', 'a', 'x'.repeat(63), 'm_1.0', '0day']) accepted({ model });
  for (const model of ['', '-llama', '.hidden', 'a/b', 'x'.repeat(64), 'llama 3', 'ünï']) schemaError({ model });
  for (const version of ['latest', 'v1', '2025-11-01', 'V1.2_rc']) accepted({ version });
  for (const version of ['', '../v1', 'v1/2', '_v']) schemaError({ version });
});

test('target names: namespace DNS-1123 label, name DNS-1035 label', () => {
  const t = (namespace: string, name: string) => ({ target: { cluster: 'local', namespace, name } });
  accepted(t('default', 'llama'));
  accepted(t('0ns', 'a'));
  accepted(t('n'.repeat(63), 'l'.repeat(63)));
  for (const [ns, name, path] of [
    ['Default', 'llama', 'target.namespace'],
    ['ns-', 'llama', 'target.namespace'],
    ['n'.repeat(64), 'llama', 'target.namespace'],
    ['ns.x', 'llama', 'target.namespace'],
    ['default', '1llama', 'target.name'],
    ['default', 'llama_x', 'target.name'],
    ['default', 'l'.repeat(64), 'target.name'],
    ['default', 'llama.v1', 'target.name'],
  ] as const) {
    assert.equal(schemaError(t(ns, name)).issues![0]!.path, path, `${ns}/${name}`);
  }
});

test('cluster: local or a GKE resource name', () => {
  const ok = [
    'local',
    'projects/my-project/locations/us-central1/clusters/c',
    'projects/123456789012/locations/europe-west4-a/clusters/gpu-pool-1',
    'projects/abcdef/locations/northamerica-northeast1/clusters/a1',
  ];
  const bad = [
    'Local',
    'projects/my-project/locations/us-central1/clusters/',
    'projects/my-project/zones/us-central1-a/clusters/c',
    'projects/My-Project/locations/us-central1/clusters/c',
    'projects/my-project/locations/us-central1/clusters/1c',
    'projects/p/locations/us-central1/clusters/c', // project id too short
    `projects/my-project/locations/us-central1/clusters/${'c'.repeat(41)}`,
    'gke_my-project_us-central1_c',
  ];
  for (const cluster of ok) accepted({ target: { cluster, namespace: 'default', name: 'llama' } });
  for (const cluster of bad) schemaError({ target: { cluster, namespace: 'default', name: 'llama' } });
  assert.deepEqual(parseClusterName(ok[2]!), { kind: 'gke', project: '123456789012', location: 'europe-west4-a', name: 'gpu-pool-1' });
  assert.deepEqual(parseClusterName('local'), { kind: 'local' });
  assert.equal(parseClusterName('nope'), null);
});

test('replicas 0..64, integers', () => {
  assert.equal(accepted({ replicas: 0 }).replicas, 0);
  assert.equal(accepted({ replicas: 64 }).replicas, 64);
  for (const replicas of [-1, 65, 1.5, '2', null]) schemaError({ replicas });
});

test('accelerators: closed list, counts the machine shapes offer', () => {
  for (const type of ACCELERATOR_TYPES) {
    for (const count of ACCELERATOR_COUNTS[type]) accepted({ accelerator: { type, count } });
  }
  assert.equal(accepted({ accelerator: { type: 'nvidia-tesla-a100', count: 16 } }).accelerator!.count, 16);
  for (const accelerator of [
    { type: 'nvidia-tesla-p100' },
    { type: 'tpu-v5p-slice' },
    { type: 'NVIDIA-L4' },
    { type: 'nvidia-l4', count: 0 },
    { type: 'nvidia-l4', count: 17 },
    { type: 'nvidia-l4', count: 3 },
    { type: 'nvidia-l4', count: 16 },
    { type: 'nvidia-h100-mega-80gb', count: 4 },
  ]) {
    schemaError({ accelerator });
  }
  assert.match(schemaError({ accelerator: { type: 'nvidia-l4', count: 3 } }).message, /accelerator\.count: nvidia-l4 nodes have 1, 2, 4, 8 GPUs/);
});

test('tensorParallelSize: a power of two dividing accelerator.count', () => {
  const acc = { type: 'nvidia-h100-80gb', count: 8 };
  for (const tp of [1, 2, 4, 8]) assert.equal(accepted({ accelerator: acc, tensorParallelSize: tp }).tensorParallelSize, tp);
  for (const tp of [0, 3, 6, 16, 1.5]) schemaError({ accelerator: acc, tensorParallelSize: tp });
  assert.equal(schemaError({ tensorParallelSize: 2 }).issues![0]!.path, 'tensorParallelSize'); // count defaults to 1
});

test('vllmArgs may not override flags ferry owns', () => {
  const owned = [
    ['--model=gs://other/bucket', '--model'],
    ['--model', '--model'],
    ['--load-format=safetensors', '--load-format'],
    ['--load_format=safetensors', '--load-format'],
    ['--tensor-parallel-size=2', '--tensor-parallel-size'],
    ['--tensor_parallel_size', '--tensor-parallel-size'],
    ['-tp', '--tensor-parallel-size'],
    ['-tp=2', '--tensor-parallel-size'],
    ['-tp2', '--tensor-parallel-size'],
    ['--model-loader-extra-config={"concurrency":1}', '--model-loader-extra-config'],
    ['--port=9000', '--port'],
    ['--port', '--port'],
    ['--host=127.0.0.1', '--host'],
    ['--tensor-par=2', '--tensor-parallel-size'], // argparse abbreviation
    ['--load-f', '--load-format'],
  ] as const;
  for (const [arg, flag] of owned) {
    assert.equal(ownedFlagOf(arg), flag, arg);
    const r = schemaError({ vllmArgs: ['--max-model-len=4096', arg] });
    assert.equal(r.issues![0]!.path, 'vllmArgs.1');
    assert.ok(r.issues![0]!.message.includes(`overrides ${flag}, which ferry sets itself`), r.issues![0]!.message);
  }
  const allowed = [
    '--max-model-len=4096',
    '--served-model-name',
    'llama',
    '--model-impl=transformers',
    '--gpu-memory-utilization',
    '0.9',
    '--enable-prefix-caching',
    '-O3',
    '--kv-cache-dtype=fp8',
    'gs://not-a-flag',
  ];
  assert.deepEqual(accepted({ vllmArgs: allowed }).vllmArgs, allowed);
  schemaError({ vllmArgs: ['--x\n--port=1'] });
  schemaError({ vllmArgs: [''] });
  schemaError({ vllmArgs: Array.from({ length: 65 }, () => '--enforce-eager') });
  schemaError({ vllmArgs: '--max-model-len=4096' });
});

test('image references', () => {
  const good: Array<[string, ReturnType<typeof parseImageReference>]> = [
    ['vllm/vllm-openai:v0.11.2', { repository: 'vllm/vllm-openai', tag: 'v0.11.2' }],
    ['docker.io/vllm/vllm-openai:latest', { registry: 'docker.io', repository: 'vllm/vllm-openai', tag: 'latest' }],
    ['localhost:5000/vllm:dev', { registry: 'localhost:5000', repository: 'vllm', tag: 'dev' }],
    ['localhost/vllm', { registry: 'localhost', repository: 'vllm' }],
    ['us-docker.pkg.dev/p/r/img@sha256:' + 'a'.repeat(64), { registry: 'us-docker.pkg.dev', repository: 'p/r/img', digest: 'sha256:' + 'a'.repeat(64) }],
    ['ubuntu', { repository: 'ubuntu' }],
  ];
  for (const [ref, parsed] of good) {
    assert.deepEqual(parseImageReference(ref), parsed, ref);
    accepted({ image: ref });
  }
  for (const ref of [
    '',
    'Vllm/vllm-openai',
    'vllm//x',
    'vllm/vllm-openai:',
    'vllm/vllm-openai:v1 ',
    ':tag',
    'vllm/vllm-openai@sha256:xyz',
    'a/' + 'b'.repeat(260),
  ]) {
    assert.equal(parseImageReference(ref), null, ref);
    schemaError({ image: ref });
  }
});

test('vllm/vllm-openai with an explicit tag older than v0.11.1 is refused', () => {
  for (const image of [
    'vllm/vllm-openai:v0.10.2',
    'vllm/vllm-openai:v0.11.0',
    'vllm/vllm-openai:0.9.1',
    'vllm/vllm-openai:v0.10.1.1',
    'vllm/vllm-openai:v0.11.1rc1',
    'docker.io/vllm/vllm-openai:v0.6.4',
    'us-docker.pkg.dev/p/mirror/vllm/vllm-openai:v0.10.0',
    'vllm/vllm-openai:v0.10.0@sha256:' + 'b'.repeat(64),
  ]) {
    const r = schemaError({ image });
    assert.equal(r.issues![0]!.path, 'image');
    assert.match(r.issues![0]!.message, /needs vLLM >= v0.11.1/);
  }
  for (const image of [
    'vllm/vllm-openai:v0.11.1',
    'vllm/vllm-openai:v0.11.2',
    'vllm/vllm-openai:0.12.0',
    'vllm/vllm-openai:v1.0.0',
    'vllm/vllm-openai:v0.11.1.post1',
    'vllm/vllm-openai:v0.11.2-cu130',
    'vllm/vllm-openai:latest',
    'vllm/vllm-openai:nightly',
    'vllm/vllm-openai:fail-crashloop',
    'vllm/vllm-openai:fail-v0.1.0',
    'vllm/vllm-openai@sha256:' + 'c'.repeat(64),
    'myorg/custom-vllm:v0.1.0',
  ]) {
    accepted({ image });
  }
  assert.equal(isVllmTagTooOld('v0.11.1'), false);
  assert.equal(isVllmTagTooOld('v0.11'), true);
  assert.equal(isVllmTagTooOld('garbage'), false);
});

test('streamer, progress deadline, cache, requestedBy, idempotencyKey bounds', () => {
  accepted({ streamer: { concurrency: 1, memoryLimit: -1 } });
  accepted({ streamer: { memoryLimit: 0, distributed: false } });
  for (const streamer of [{ concurrency: 0 }, { concurrency: 257 }, { memoryLimit: -2 }, { memoryLimit: 1.5 }, { distributed: 'yes' }]) {
    schemaError({ streamer });
  }
  accepted({ progressDeadlineSeconds: 60 });
  accepted({ progressDeadlineSeconds: 7200 });
  for (const progressDeadlineSeconds of [59, 7201, 600.5]) schemaError({ progressDeadlineSeconds });
  accepted({ cache: { mode: 'all-zones' } });
  // The API's TTL range (storage_control.proto AnywhereCache.ttl: 1h to 7d): 6 h, as in gcloud's example, is fine.
  for (const ttlSeconds of [3_600, 21_600, 604_800]) accepted({ cache: { mode: 'all-zones', ttlSeconds } });
  for (const cache of [
    { mode: 'some' },
    { mode: 'all-zones', zones: [] },
    { mode: 'all-zones', zones: ['us-central1'] },
    { mode: 'off', ttlSeconds: 60 },
    { mode: 'all-zones', ttlSeconds: 3_599 },
    { mode: 'all-zones', ttlSeconds: 604_801 },
    { mode: 'all-zones', ttlSeconds: 7_200.5 },
    { mode: 'off', admissionPolicy: 'always' },
    { maxWaitSeconds: -1 },
  ]) {
    schemaError({ cache });
  }
  for (const source of ['pubsub', 'slack', 'upload', 'cli']) accepted({ requestedBy: { source, principal: 'p' } });
  schemaError({ requestedBy: { source: 'email', principal: 'p' } });
  schemaError({ requestedBy: { source: 'cli', principal: '' } });
  schemaError({ idempotencyKey: '' });
  schemaError({ idempotencyKey: 'a\u0000b' });
  schemaError({ idempotencyKey: 'k'.repeat(257) });
});

test('DeployRequest.parse is idempotent (stored requests parse again)', () => {
  const req = accepted({ replicas: 2, accelerator: { type: 'nvidia-l4', count: 4 } });
  assert.deepEqual(DeployRequest.parse(JSON.parse(JSON.stringify(req))), req);
});

test('targetKey: readable, Firestore-safe and injective', () => {
  assert.equal(targetKey({ cluster: 'local', namespace: 'default', name: 'llama' }), 'local~default~llama');
  assert.equal(
    targetKey({ cluster: 'projects/my-proj/locations/us-central1/clusters/gpu-1', namespace: 'serving', name: 'mixtral' }),
    'my-proj.us-central1.gpu-1~serving~mixtral',
  );
  assert.throws(() => targetKey({ cluster: 'bogus', namespace: 'a', name: 'b' }));

  const label = fc.stringMatching(/^[a-z]([-a-z0-9]{0,8}[a-z0-9])?$/);
  const cluster = fc.oneof(
    fc.constant('local'),
    fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9-]{4,8}[a-z0-9]$/), fc.constantFrom('us-central1', 'europe-west4-a'), label)
      .map(([p, l, c]) => `projects/${p}/locations/${l}/clusters/${c}`),
  );
  const target = fc.record({ cluster, namespace: label, name: label });
  fc.assert(
    fc.property(target, target, (a: Target, b: Target) => {
      const ka = targetKey(a);
      assert.ok(!ka.includes('/') && ka !== '.' && ka !== '..' && !/^__.*__$/.test(ka) && ka.length <= 1500);
      const same = a.cluster === b.cluster && a.namespace === b.namespace && a.name === b.name;
      assert.equal(ka === targetKey(b), same);
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// Serving profile: optional accelerator, TPUs, autoscaling, capacity, sizing

test('the accelerator is optional: ferry recommends one; tensorParallelSize then needs one', () => {
  const body = base();
  delete body['accelerator'];
  const r = parseDeployRequest(JSON.stringify(body));
  assert.ok(r.ok);
  assert.equal(r.request.accelerator, undefined);
  assert.equal(effectiveTensorParallelSize(r.request), 1);
  const tp = parseDeployRequest(JSON.stringify({ ...body, tensorParallelSize: 2 }));
  assert.ok(!tp.ok);
  assert.match(tp.message, /tensorParallelSize: tensorParallelSize needs an accelerator/);
});

test('TPU accelerators: single-host topologies, count and topology derive from each other', () => {
  assert.deepEqual(accepted({ accelerator: { type: 'tpu-v6e-slice', topology: '2x4' } }).accelerator, { type: 'tpu-v6e-slice', count: 8, topology: '2x4' });
  assert.deepEqual(accepted({ accelerator: { type: 'tpu-v6e-slice', count: 4 } }).accelerator, { type: 'tpu-v6e-slice', count: 4, topology: '2x2' });
  assert.deepEqual(accepted({ accelerator: { type: 'tpu-v5-lite-podslice' } }).accelerator, { type: 'tpu-v5-lite-podslice', count: 1, topology: '1x1' });
  assert.deepEqual(accepted({ accelerator: { type: 'tpu-v5-lite-podslice', count: 8, topology: '2x4' } }).accelerator, {
    type: 'tpu-v5-lite-podslice',
    count: 8,
    topology: '2x4',
  });
  // GPU requests keep their exact shape (no topology key)
  assert.deepEqual(accepted({ accelerator: { type: 'nvidia-l4', count: 2 } }).accelerator, { type: 'nvidia-l4', count: 2 });
  assert.match(schemaError({ accelerator: { type: 'tpu-v6e-slice', topology: '4x4' } }).message, /not a single-host slice/);
  assert.match(schemaError({ accelerator: { type: 'tpu-v6e-slice', count: 2 } }).message, /have 1, 4, 8 chips/);
  assert.match(schemaError({ accelerator: { type: 'tpu-v6e-slice', count: 4, topology: '2x4' } }).message, /topology 2x4 has 8 chips, not 4/);
  assert.match(schemaError({ accelerator: { type: 'nvidia-l4', topology: '2x4' } }).message, /topology is for TPU slices only/);
  // parsing a parsed TPU request again changes nothing
  const req = accepted({ accelerator: { type: 'tpu-v6e-slice', topology: '2x2' }, tensorParallelSize: 4 });
  assert.deepEqual(DeployRequest.parse(JSON.parse(JSON.stringify(req))), req);
});

test('TPU constraints: vllm-tpu image ≥ 0.18.0, no distributed streaming; GPUs refuse the TPU image', () => {
  const tpu = { type: 'tpu-v6e-slice', count: 8 };
  accepted({ accelerator: tpu, image: 'vllm/vllm-tpu:v0.18.0' });
  accepted({ accelerator: tpu, image: 'vllm/vllm-tpu:nightly' });
  accepted({ accelerator: tpu, image: 'us-docker.pkg.dev/p/mirror/vllm/vllm-tpu:v0.19.1' });
  assert.match(schemaError({ accelerator: tpu, image: 'vllm/vllm-tpu:v0.17.1' }).message, /image: .*only from TPU vLLM 0\.18\.0/);
  assert.match(schemaError({ accelerator: tpu, image: 'vllm/vllm-openai:v0.12.0' }).message, /GPU build; TPUs need vllm\/vllm-tpu/);
  assert.match(schemaError({ accelerator: tpu, streamer: { distributed: true } }).message, /streamer\.distributed: .*CUDA\/ROCm only/);
  accepted({ accelerator: tpu, streamer: { distributed: false } });
  assert.match(schemaError({ accelerator: { type: 'nvidia-l4' }, image: 'vllm/vllm-tpu:v0.18.0' }).message, /TPU build; GPUs need vllm\/vllm-openai/);
  assert.match(schemaError({ accelerator: tpu, tensorParallelSize: 16 }).message, /divides accelerator\.count \(8\)/);
});

test('autoscaling, capacity and sizing', () => {
  const a = accepted({ autoscaling: { profile: 'throughput', maxReplicas: 4 } }).autoscaling!;
  assert.deepEqual(a, { profile: 'throughput', minReplicas: 1, maxReplicas: 4 });
  accepted({ autoscaling: { profile: 'latency', minReplicas: 2, maxReplicas: 2, target: 0.75 } });
  assert.match(schemaError({ autoscaling: { profile: 'latency', maxReplicas: 2, target: 1.5 } }).message, /fraction from 0 to 1/);
  assert.match(schemaError({ autoscaling: { profile: 'throughput', minReplicas: 3, maxReplicas: 2 } }).message, /minReplicas 3 is above maxReplicas 2/);
  assert.match(schemaError({ autoscaling: { profile: 'throughput', maxReplicas: 2, target: 0.0001 } }).message, /more than 3 decimals/);
  schemaError({ autoscaling: { profile: 'cost', maxReplicas: 2 } });
  schemaError({ autoscaling: { profile: 'throughput' } });
  schemaError({ autoscaling: { profile: 'throughput', maxReplicas: 65 } });
  assert.deepEqual(accepted({ capacity: {} }).capacity, { computeClass: 'none' });
  assert.deepEqual(accepted({ capacity: { computeClass: 'spot-then-flex-start' } }).capacity, { computeClass: 'spot-then-flex-start' });
  schemaError({ capacity: { computeClass: 'spot' } });
  assert.deepEqual(accepted({ sizing: { contextTokens: 4096, concurrency: 4 } }).sizing, { contextTokens: 4096, concurrency: 4 });
  schemaError({ sizing: { concurrency: 0 } });
  schemaError({ sizing: { contextTokens: 8192, batch: 2 } });
  // a request that says none of it parses to none of it (stored requests keep their shape)
  const plain = accepted({});
  assert.equal('autoscaling' in plain || 'capacity' in plain || 'sizing' in plain, false);
});

test('sameCluster: a project named by id or by number is one cluster when location and name agree', async () => {
  const { sameCluster } = await import('../../../shared/domain/names.ts');
  const byId = 'projects/my-proj/locations/us-central1/clusters/gpu';
  assert.equal(sameCluster(byId, byId), true);
  assert.equal(sameCluster(byId, 'projects/123456789012/locations/us-central1/clusters/gpu'), true);
  assert.equal(sameCluster('projects/123456789012/locations/us-central1/clusters/gpu', byId), true);
  assert.equal(sameCluster(byId, 'projects/other-proj/locations/us-central1/clusters/gpu'), false, 'two project ids: two clusters');
  assert.equal(sameCluster(byId, 'projects/123456789012/locations/us-east1/clusters/gpu'), false);
  assert.equal(sameCluster(byId, 'projects/123456789012/locations/us-central1/clusters/gpu2'), false);
  assert.equal(sameCluster('local', 'local'), true);
  assert.equal(sameCluster('local', byId), false);
});

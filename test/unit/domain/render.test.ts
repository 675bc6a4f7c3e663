import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { DeployRequest, type DeployRequestInput } from '../../../shared/domain/deploy-request.ts';
import {
  ANNOTATIONS,
  DEFAULT_IMAGE,
  LABELS,
  STARTUP,
  canonicalJson,
  defaultProgressDeadlineSeconds,
  render,
  rolloutTimeoutSeconds,
  specDigest,
  startupBudgetSeconds,
  templateRolloutId,
  toLabelValue,
  type RenderInput,
} from '../../../shared/domain/render.ts';
import { FerryError } from '../../../shared/domain/errors.ts';

// ---------------------------------------------------------------------------------------------
// Goldens: compared exactly; rewritten only with UPDATE_GOLDEN=1.

const GOLDEN_DIR = new URL('./__golden__/', import.meta.url);
function golden(name: string, value: unknown): void {
  const file = new URL(`${name}.json`, GOLDEN_DIR);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.ok(existsSync(file), `golden ${name}.json is missing; run with UPDATE_GOLDEN=1 and review it`);
  const expected = readFileSync(file, 'utf8');
  assert.deepStrictEqual(JSON.parse(text), JSON.parse(expected), `rendered output differs from golden ${name}.json`);
  assert.equal(text, expected, `key order differs from golden ${name}.json`);
}

const GiB = 1024 ** 3;
const request = (over: Partial<DeployRequestInput> = {}): DeployRequest =>
  DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'llama-3.1-8b',
    version: 'v1',
    target: { cluster: 'local', namespace: 'default', name: 'llama' },
    accelerator: { type: 'nvidia-l4' },
    requestedBy: { source: 'cli', principal: 'alice' },
    ...over,
  });
const input = (req: DeployRequest, over: Partial<RenderInput> = {}): RenderInput => ({
  request: req,
  rolloutId: 'r-0001',
  bucket: 'ferry-models',
  checkpoint: {
    uri: `gs://ferry-models/models/${req.model}/${req.version}`,
    tensorBytes: 16 * GiB,
    digest: 'sha256:1111111111111111111111111111111111111111111111111111111111111111',
    shards: 4,
  },
  ...over,
});

test('golden: single L4 GPU', () => {
  golden('l4-single', render(input(request())));
});

test('golden: TP=4 on H100 with streamer concurrency and memory limit', () => {
  const req = request({
    model: 'Llama-3.3-70B-Instruct',
    version: '2025-12-01',
    target: { cluster: 'projects/my-proj/locations/us-central1/clusters/gpu-1', namespace: 'serving', name: 'llama70b' },
    replicas: 2,
    accelerator: { type: 'nvidia-h100-80gb', count: 4 },
    streamer: { concurrency: 32, memoryLimit: 5368709120 },
  });
  golden('h100-tp4-streamer', render(input(req, { rolloutId: 'r-0002', checkpoint: { ...input(req).checkpoint, tensorBytes: 141 * GiB, shards: 30 } })));
});

test('golden: custom image, args, service account, zone pin and explicit deadline', () => {
  const req = request({
    image: 'us-docker.pkg.dev/my-proj/mirror/vllm/vllm-openai:v0.12.0',
    vllmArgs: ['--max-model-len=8192', '--served-model-name', 'llama', '--enable-prefix-caching'],
    accelerator: { type: 'nvidia-a100-80gb', count: 2 },
    tensorParallelSize: 2,
    streamer: { distributed: false },
    progressDeadlineSeconds: 300,
    replicas: 5,
  });
  golden(
    'custom-image-args',
    render(input(req, { serviceAccountName: 'llama-reader', nodeSelectorExtra: { 'topology.kubernetes.io/zone': 'us-central1-a' } })),
  );
});

// ---------------------------------------------------------------------------------------------

test('the container runs vLLM with the Run:ai streamer on the checkpoint', () => {
  const out = render(input(request()));
  const c = out.deployment.spec!.template.spec!.containers[0]!;
  assert.equal(c.image, DEFAULT_IMAGE);
  assert.deepEqual(c.args, ['--model=gs://ferry-models/models/llama-3.1-8b/v1', '--load-format=runai_streamer', '--tensor-parallel-size=1', '--port=8000']);
  assert.deepEqual(c.resources, { limits: { 'nvidia.com/gpu': '1' } });
  assert.equal(c.startupProbe!.httpGet!.path, '/health');
  assert.equal(c.readinessProbe!.httpGet!.path, '/health');
  assert.deepEqual(c.volumeMounts, [{ name: 'dshm', mountPath: '/dev/shm' }]);
  const pod = out.deployment.spec!.template.spec!;
  assert.deepEqual(pod.volumes, [{ name: 'dshm', emptyDir: { medium: 'Memory' } }]);
  assert.equal(pod.serviceAccountName, 'ferry-vllm');
  assert.deepEqual(pod.nodeSelector, { 'cloud.google.com/gke-accelerator': 'nvidia-l4' });
});

test('--model-loader-extra-config: distributed when TP > 1 unless turned off; concurrency/memory_limit when set', () => {
  const extra = (over: Partial<DeployRequestInput>) =>
    render(input(request(over))).deployment.spec!.template.spec!.containers[0]!.args!.find((a) => a.startsWith('--model-loader-extra-config='));
  const h100 = (count: number) => ({ type: 'nvidia-h100-80gb' as const, count });
  assert.equal(extra({}), undefined);
  assert.equal(extra({ accelerator: h100(4) }), '--model-loader-extra-config={"distributed":true}'); // TP defaults to count
  assert.equal(extra({ accelerator: h100(4), tensorParallelSize: 1 }), undefined);
  assert.equal(extra({ accelerator: h100(4), streamer: { distributed: false } }), undefined);
  assert.equal(extra({ streamer: { distributed: true } }), '--model-loader-extra-config={"distributed":true}');
  assert.equal(
    extra({ accelerator: h100(8), tensorParallelSize: 8, streamer: { concurrency: 16, memoryLimit: -1 } }),
    '--model-loader-extra-config={"concurrency":16,"memory_limit":-1,"distributed":true}',
  );
  const tp = render(input(request({ accelerator: h100(8), tensorParallelSize: 4 }))).deployment.spec!.template.spec!.containers[0]!;
  assert.ok(tp.args!.includes('--tensor-parallel-size=4'));
  assert.deepEqual(tp.resources!.limits, { 'nvidia.com/gpu': '8' });
});

test('labels and annotations name model, version, rollout and checkpoint; rollout id is in the pod template', () => {
  const out = render(input(request({ model: 'Mistral-7B-v0.3_', version: 'v2-' })));
  const d = out.deployment;
  assert.deepEqual(d.metadata!.labels, {
    [LABELS.name]: 'vllm',
    [LABELS.instance]: 'llama',
    [LABELS.managedBy]: 'ferry',
    [LABELS.model]: 'Mistral-7B-v0.3', // label values must end alphanumeric
    [LABELS.version]: 'v2',
  });
  assert.deepEqual(d.spec!.template.metadata!.labels, d.metadata!.labels);
  for (const ann of [d.metadata!.annotations!, d.spec!.template.metadata!.annotations!]) {
    assert.equal(ann[ANNOTATIONS.rolloutId], 'r-0001');
    assert.equal(ann[ANNOTATIONS.checkpointDigest], input(request()).checkpoint.digest);
    assert.equal(ann[ANNOTATIONS.checkpointUri], 'gs://ferry-models/models/Mistral-7B-v0.3_/v2-');
  }
  assert.equal(d.metadata!.annotations![ANNOTATIONS.specDigest], out.specDigest);
  assert.equal(templateRolloutId(d), 'r-0001');
  // the selector is immutable: only labels that never change for a target
  assert.deepEqual(d.spec!.selector, { matchLabels: { [LABELS.name]: 'vllm', [LABELS.instance]: 'llama' } });
  assert.deepEqual(out.service.spec!.selector, d.spec!.selector.matchLabels);
  assert.deepEqual(out.service.spec!.ports, [{ name: 'http', port: 8000, targetPort: 'http', protocol: 'TCP' }]);
  assert.equal(out.service.metadata!.name, 'llama');
  assert.equal(out.service.metadata!.namespace, 'default');
  assert.equal(d.apiVersion, 'apps/v1');
  assert.equal(d.kind, 'Deployment');
  assert.equal(out.service.apiVersion, 'v1');
  assert.equal(out.service.kind, 'Service');
});

test('rendered objects are JSON-plain: no undefined, no shared references', () => {
  const out = render(input(request({ accelerator: { type: 'nvidia-l4', count: 2 } })));
  const walk = (v: unknown, path: string, seen: Set<object>) => {
    assert.notEqual(v, undefined, `undefined at ${path}`);
    if (typeof v === 'number') assert.ok(Number.isFinite(v), path);
    if (v && typeof v === 'object') {
      assert.ok(!seen.has(v), `shared reference at ${path}`);
      seen.add(v);
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`, seen);
    }
  };
  walk({ deployment: out.deployment, service: out.service }, '', new Set());
  assert.deepEqual(JSON.parse(JSON.stringify(out)), out);
});

test('startup budget from the checkpoint size; default progress deadline covers it', () => {
  assert.equal(startupBudgetSeconds(0), STARTUP.minSeconds);
  assert.equal(startupBudgetSeconds(16 * GiB), 600); // 300 + 164 s → minimum 10 min
  // 141 GiB at 100 MiB/s = 1444 s + 300 s overhead = 1744 s → whole probe periods
  assert.equal(startupBudgetSeconds(141 * GiB), 1750);
  assert.equal(startupBudgetSeconds(10 * 1024 * GiB), STARTUP.maxSeconds);
  const out = render(input(request(), { checkpoint: { ...input(request()).checkpoint, tensorBytes: 141 * GiB } }));
  const probe = out.deployment.spec!.template.spec!.containers[0]!.startupProbe!;
  assert.equal(probe.periodSeconds! * probe.failureThreshold!, 1750);
  assert.equal(out.startupBudgetSeconds, 1750);
  assert.equal(out.progressDeadlineSeconds, 2050);
  assert.equal(out.deployment.spec!.progressDeadlineSeconds, 2050);
  assert.deepEqual(out.warnings, []);

  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (bytes) => {
      const budget = startupBudgetSeconds(bytes);
      const deadline = defaultProgressDeadlineSeconds(budget);
      assert.ok(budget >= STARTUP.minSeconds && budget <= STARTUP.maxSeconds);
      assert.equal(budget % STARTUP.periodSeconds, 0);
      assert.ok(deadline >= budget + 300 && deadline >= 60 && deadline <= 7200);
    }),
  );
});

test('an explicit progress deadline is honoured, with a warning when below the startup budget', () => {
  const out = render(input(request({ progressDeadlineSeconds: 300 })));
  assert.equal(out.deployment.spec!.progressDeadlineSeconds, 300);
  assert.equal(out.warnings.length, 1);
  assert.match(out.warnings[0]!, /below the startup budget 600s/);
  assert.deepEqual(render(input(request({ progressDeadlineSeconds: 3600 }))).warnings, []);
});

test('rollout timeout covers every rolling-update wave', () => {
  assert.equal(rolloutTimeoutSeconds(900, 1), 900 + 300);
  assert.equal(rolloutTimeoutSeconds(900, 0), 900 + 300);
  assert.equal(rolloutTimeoutSeconds(900, 4), 4 * 900 + 300); // surge 1 → 4 waves
  assert.equal(rolloutTimeoutSeconds(900, 5), 3 * 900 + 300); // surge 2 → 3 waves
  assert.equal(rolloutTimeoutSeconds(900, 64), 4 * 900 + 300); // surge 16 → 4 waves
});

test('specDigest: ignores the rollout id and key order, sees everything else', () => {
  const req = request();
  const a = render(input(req, { rolloutId: 'r-a' }));
  const b = render(input(req, { rolloutId: 'r-b' }));
  assert.equal(a.specDigest, b.specDigest);
  assert.match(a.specDigest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(specDigest(a), a.specDigest); // extra fields and its own annotation ignored
  assert.notDeepEqual(a.deployment, b.deployment);

  // a Firestore round trip may reorder keys
  const reorder = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(reorder) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)])) : v;
  assert.equal(specDigest(reorder({ deployment: a.deployment, service: a.service }) as typeof a), a.specDigest);

  const variants = [
    render(input(request({ replicas: 2 }))),
    render(input(request({ image: 'vllm/vllm-openai:v0.12.0' }))),
    render(input(request({ vllmArgs: ['--enforce-eager'] }))),
    render(input(req, { checkpoint: { ...input(req).checkpoint, digest: 'sha256:2222' } })),
    render(input(req, { nodeSelectorExtra: { 'topology.kubernetes.io/zone': 'us-central1-b' } })),
    render(input(req, { serviceAccountName: 'other' })),
  ];
  const digests = new Set([a.specDigest, ...variants.map((v) => v.specDigest)]);
  assert.equal(digests.size, variants.length + 1);
});

test('canonicalJson sorts keys, drops undefined like JSON.stringify', () => {
  assert.equal(canonicalJson({ b: 1, a: [undefined, { d: undefined, c: 'x' }] }), '{"a":[null,{"c":"x"}],"b":1}');
  assert.equal(canonicalJson(null), 'null');
});

test('toLabelValue makes any string a valid label value', () => {
  assert.equal(toLabelValue('v1'), 'v1');
  assert.equal(toLabelValue('-a b/c-'), 'a-b-c');
  assert.equal(toLabelValue('x'.repeat(80)).length, 63);
  fc.assert(
    fc.property(fc.string(), (s) => {
      assert.match(toLabelValue(s), /^(?:[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/);
    }),
  );
});

test('render refuses what it cannot render', () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof FerryError);
      return e.code;
    }
    return assert.fail('expected a FerryError');
  };
  assert.equal(code(() => render(input(request({ version: 'latest' })))), 'VERSION_UNRESOLVED');
  assert.equal(code(() => render(input(request(), { checkpoint: { ...input(request()).checkpoint, uri: 'gs://ferry-models/models/llama-3.1-8b/v2' } }))), 'CHECKPOINT_MISMATCH');
  assert.equal(code(() => render(input(request(), { bucket: 'Bad_Bucket!' }))), 'INVALID_RENDER_INPUT');
  assert.equal(code(() => render(input(request(), { rolloutId: 'a/b' }))), 'INVALID_RENDER_INPUT');
  assert.equal(code(() => render(input(request(), { nodeSelectorExtra: { 'cloud.google.com/gke-accelerator': 'nvidia-h100-80gb' } }))), 'INVALID_RENDER_INPUT');
  assert.equal(code(() => render(input(request(), { nodeSelectorExtra: { zone: 'bad value' } }))), 'INVALID_RENDER_INPUT');
  assert.equal(code(() => render(input(request(), { checkpoint: { ...input(request()).checkpoint, tensorBytes: -1 } }))), 'INVALID_RENDER_INPUT');
  assert.equal(code(() => render(input({ ...request(), vllmArgs: ['--port=1'] }))), 'INVALID_REQUEST');
  // a trailing slash on the checkpoint URI is fine
  const ok = render(input(request(), { checkpoint: { ...input(request()).checkpoint, uri: 'gs://ferry-models/models/llama-3.1-8b/v1/' } }));
  assert.ok(ok.deployment.spec!.template.spec!.containers[0]!.args!.includes('--model=gs://ferry-models/models/llama-3.1-8b/v1'));
});

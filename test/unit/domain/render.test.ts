import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { DeployRequest, type DeployRequestInput } from '../../../shared/domain/deploy-request.ts';
import {
  defaultProgressDeadlineSeconds,
  loaderExtraConfig,
  render,
  rolloutTimeoutSeconds,
  startupBudgetSeconds,
  toLabelValue,
  type KubeObject,
} from '../../../shared/domain/render.ts';
import {
  ANNOTATIONS,
  DEFAULT_IMAGE,
  DEFAULT_TPU_IMAGE,
  LABELS,
  STARTUP,
  canonicalJson,
  NODE_PROVISION_SECONDS,
  objectsToApply,
  specDigest,
  specOf,
  staleObjects,
  templateRolloutId,
  type RenderInput,
} from '../../../shared/domain/rendered-spec.ts';
import { kvCacheMetricFor, readKvCacheUsage, toQuantity } from '../../../shared/domain/serving-profile.ts';
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
  assert.deepEqual(c.command, ['vllm', 'serve']);
  assert.deepEqual(c.args, ['gs://ferry-models/models/llama-3.1-8b/v1', '--load-format=runai_streamer', '--tensor-parallel-size=1', '--port=8000']);
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

test('after node pools were brought back, the default progress deadline allows for node creation (capped at 7200); an explicit one is kept', () => {
  const out = render({ ...input(request({ version: 'v1' })), capacityWaitSeconds: NODE_PROVISION_SECONDS });
  assert.equal(out.progressDeadlineSeconds, 600 + 300 + NODE_PROVISION_SECONDS);
  assert.equal(out.deployment.spec!.progressDeadlineSeconds, out.progressDeadlineSeconds);
  assert.equal(defaultProgressDeadlineSeconds(STARTUP.maxSeconds, NODE_PROVISION_SECONDS), 7200);
  assert.equal(render({ ...input(request({ progressDeadlineSeconds: 3600 })), capacityWaitSeconds: NODE_PROVISION_SECONDS }).progressDeadlineSeconds, 3600);
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
    Array.isArray(v)
      ? v.map(reorder)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .reverse()
              .map(([k, x]) => [k, reorder(x)]),
          )
        : v;
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
  assert.equal(
    code(() => render(input(request({ version: 'latest' })))),
    'VERSION_UNRESOLVED',
  );
  assert.equal(
    code(() => render(input(request(), { checkpoint: { ...input(request()).checkpoint, uri: 'gs://ferry-models/models/llama-3.1-8b/v2' } }))),
    'CHECKPOINT_MISMATCH',
  );
  assert.equal(
    code(() => render(input(request(), { bucket: 'Bad_Bucket!' }))),
    'INVALID_RENDER_INPUT',
  );
  assert.equal(
    code(() => render(input(request(), { rolloutId: 'a/b' }))),
    'INVALID_RENDER_INPUT',
  );
  assert.equal(
    code(() => render(input(request(), { nodeSelectorExtra: { 'cloud.google.com/gke-accelerator': 'nvidia-h100-80gb' } }))),
    'INVALID_RENDER_INPUT',
  );
  assert.equal(
    code(() => render(input(request(), { nodeSelectorExtra: { zone: 'bad value' } }))),
    'INVALID_RENDER_INPUT',
  );
  assert.equal(
    code(() => render(input(request(), { checkpoint: { ...input(request()).checkpoint, tensorBytes: -1 } }))),
    'INVALID_RENDER_INPUT',
  );
  assert.equal(
    code(() => render(input({ ...request(), vllmArgs: ['--port=1'] }))),
    'INVALID_REQUEST',
  );
  // a trailing slash on the checkpoint URI is fine
  const ok = render(input(request(), { checkpoint: { ...input(request()).checkpoint, uri: 'gs://ferry-models/models/llama-3.1-8b/v1/' } }));
  assert.equal(ok.deployment.spec!.template.spec!.containers[0]!.args![0], 'gs://ferry-models/models/llama-3.1-8b/v1');
});

// M8 (docs/UPSTREAM.md V9–V11): both images get an explicit `vllm serve` and the model as the first
// positional argument. The TPU image's ENTRYPOINT (tpu-inference@v0.18.0:docker/entrypoint.sh#L36-39)
// execs whatever arguments it gets, so a pod with `args` alone would exec the first flag; the GPU
// image's ENTRYPOINT is `vllm serve`, restated. `--model` is deprecated on `vllm serve`
// (vllm/utils/argparse_utils.py FlexibleArgumentParser.parse_args), so it is never rendered.
test('both variants run `vllm serve <gs://model>` explicitly, never through the image entrypoint or --model', () => {
  for (const req of [request(), request({ accelerator: { type: 'tpu-v6e-slice', count: 8 } })]) {
    const c = render(input(req)).deployment.spec!.template.spec!.containers[0]!;
    assert.deepEqual(c.command, ['vllm', 'serve'], c.image);
    assert.equal(c.args![0], 'gs://ferry-models/models/llama-3.1-8b/v1', c.image);
    assert.ok(
      c.args!.slice(1).every((a) => a.startsWith('--')),
      `only flags follow the model: ${c.args!.join(' ')}`,
    );
    assert.ok(!c.args!.some((a) => /^--model(=|$)/.test(a)), c.args!.join(' '));
  }
});

// ---------------------------------------------------------------------------------------------
// Serving profile: extras (HPA, PodMonitoring, ComputeClass) and the TPU variant

test('golden: throughput autoscaling and Spot→flex-start capacity on 2 × L4', () => {
  const req = request({
    accelerator: { type: 'nvidia-l4', count: 2 },
    autoscaling: { profile: 'throughput', minReplicas: 1, maxReplicas: 4 },
    capacity: { computeClass: 'spot-then-flex-start' },
  });
  golden('l4-autoscaling-spot-flex', render(input(req, { rolloutId: 'r-0003' })));
});

test('golden: TPU v6e 2x4 (Trillium) with latency autoscaling', () => {
  const req = request({
    model: 'Llama-3.1-70B',
    target: { cluster: 'projects/my-proj/locations/us-east5/clusters/tpu-1', namespace: 'serving', name: 'llama70b-tpu' },
    accelerator: { type: 'tpu-v6e-slice', topology: '2x4' },
    autoscaling: { profile: 'latency', minReplicas: 1, maxReplicas: 2 },
    streamer: { concurrency: 32 },
  });
  golden('tpu-v6e-latency', render(input(req, { rolloutId: 'r-0004', checkpoint: { ...input(req).checkpoint, tensorBytes: 141 * GiB, shards: 30 } })));
});

test('golden: TPU v5e with Spot→flex-start capacity and a fixed replica count', () => {
  const req = request({
    accelerator: { type: 'tpu-v5-lite-podslice', count: 4 },
    capacity: { computeClass: 'spot-then-flex-start' },
    replicas: 2,
  });
  golden('tpu-v5e-spot-flex', render(input(req, { rolloutId: 'r-0005' })));
});

test('without a serving profile nothing extra is rendered and the spec digest is unchanged', () => {
  const out = render(input(request()));
  assert.deepEqual(out.extras, []);
  assert.equal(specDigest({ deployment: out.deployment, service: out.service }), out.specDigest);
  assert.equal(specDigest({ deployment: out.deployment, service: out.service, extras: [] }), out.specDigest);
  assert.deepEqual(
    objectsToApply(out).map((o) => o.kind),
    ['Service', 'Deployment'],
  );
  assert.deepEqual(specOf(out), { deployment: out.deployment, service: out.service });
  assert.equal(out.deployment.spec!.replicas, 1);
});

test('autoscaling: PodMonitoring + HPA on vLLM metrics; the HPA owns the replica count', () => {
  const req = request({ replicas: 3, autoscaling: { profile: 'throughput', minReplicas: 2, maxReplicas: 6, target: 10 } });
  const out = render(input(req));
  assert.equal('replicas' in out.deployment.spec!, false);
  const [pm, hpa] = out.extras as [KubeObject, KubeObject];
  assert.deepEqual(
    [pm.apiVersion, pm.kind, hpa.apiVersion, hpa.kind],
    ['monitoring.googleapis.com/v1', 'PodMonitoring', 'autoscaling/v2', 'HorizontalPodAutoscaler'],
  );
  assert.deepEqual((pm['spec'] as any).selector.matchLabels, out.deployment.spec!.selector.matchLabels);
  assert.deepEqual((pm['spec'] as any).endpoints, [{ port: 'http', path: '/metrics', interval: '15s' }]);
  const spec = hpa['spec'] as any;
  assert.deepEqual(spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'llama' });
  assert.deepEqual([spec.minReplicas, spec.maxReplicas], [2, 6]);
  assert.deepEqual(spec.metrics, [
    {
      type: 'Pods',
      pods: { metric: { name: 'prometheus.googleapis.com|vllm:num_requests_waiting|gauge' }, target: { type: 'AverageValue', averageValue: '10' } },
    },
  ]);
  // scale-down waits as long as a new replica takes to start (the 600 s minimum budget here)
  assert.equal(spec.behavior.scaleDown.stabilizationWindowSeconds, out.startupBudgetSeconds);
  // the rollout timeout covers maxReplicas: surge 2 → 3 waves
  assert.equal(out.rolloutTimeoutSeconds, rolloutTimeoutSeconds(out.progressDeadlineSeconds, 6));
  // quantities are strings (the 1.20 apiserver refuses numbers), fractions in milli-units
  const latency = render(input(request({ autoscaling: { profile: 'latency', maxReplicas: 2 } }))).extras[1]!['spec'] as any;
  assert.deepEqual(latency.metrics[0].pods, {
    metric: { name: 'prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge' },
    target: { type: 'AverageValue', averageValue: '800m' },
  });
  // extras are part of the digest: changing only the HPA target is a different spec
  const a = render(input(request({ autoscaling: { profile: 'throughput', maxReplicas: 2 } })));
  const b = render(input(request({ autoscaling: { profile: 'throughput', maxReplicas: 2, target: 3 } })));
  assert.deepEqual(a.deployment.spec, b.deployment.spec);
  assert.notEqual(a.specDigest, b.specDigest);
  assert.equal(specDigest(specOf(a)), a.specDigest);
});

test('the KV-cache metric follows the image: the deprecated name only for explicit vLLM < 0.10', () => {
  assert.equal(kvCacheMetricFor('vllm/vllm-openai:v0.11.2'), 'vllm:kv_cache_usage_perc');
  assert.equal(kvCacheMetricFor('vllm/vllm-openai:v0.10.0'), 'vllm:kv_cache_usage_perc');
  assert.equal(kvCacheMetricFor('mirror.example.com/vllm-custom:v0.9.2'), 'vllm:gpu_cache_usage_perc');
  assert.equal(kvCacheMetricFor('vllm/vllm-tpu:nightly'), 'vllm:kv_cache_usage_perc');
  const hpa = render(input(request({ image: 'mirror.example.com/serving/vllm-custom:0.9.1', autoscaling: { profile: 'latency', maxReplicas: 2 } }))).extras[1]!;
  assert.equal((hpa['spec'] as any).metrics[0].pods.metric.name, 'prometheus.googleapis.com|vllm:gpu_cache_usage_perc|gauge');
  // reading either name from a /metrics page, preferring the new one
  const page = [
    '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
    '# TYPE vllm:kv_cache_usage_perc gauge',
    'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25',
    'vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.75',
    'vllm:gpu_cache_usage_perc{model_name="m"} 0.9',
  ].join('\n');
  assert.equal(readKvCacheUsage(page), 0.5);
  assert.equal(readKvCacheUsage('vllm:gpu_cache_usage_perc{model_name="m"} 0.3\nvllm:gpu_cache_usage_perc_total 5'), 0.3);
  assert.equal(readKvCacheUsage('vllm:num_requests_waiting 3'), null);
  assert.deepEqual([toQuantity(5), toQuantity(0.8), toQuantity(1.5), toQuantity(0.001)], ['5', '800m', '1500m', '1m']);
});

test('capacity: a shared ComputeClass per accelerator shape, selected by the Deployment', () => {
  const out = render(input(request({ accelerator: { type: 'nvidia-l4', count: 1 }, capacity: { computeClass: 'spot-then-flex-start' } })));
  const cc = out.extras[0]!;
  assert.equal(cc.kind, 'ComputeClass');
  assert.equal(cc.metadata.name, 'ferry-spot-flex-nvidia-l4-x1');
  assert.equal(cc.metadata.namespace, undefined);
  const spec = cc['spec'] as any;
  assert.deepEqual(spec.priorities[0], { gpu: { type: 'nvidia-l4', count: 1, driverVersion: 'latest' }, machineType: 'g2-standard-8', spot: true });
  assert.deepEqual(spec.priorities[1].flexStart, { enabled: true, nodeRecycling: { leadTimeSeconds: 7200 } });
  assert.equal(spec.whenUnsatisfiable, 'DoNotScaleUp');
  const pod = out.deployment.spec!.template.spec!;
  assert.equal(pod.nodeSelector!['cloud.google.com/compute-class'], 'ferry-spot-flex-nvidia-l4-x1');
  assert.ok(pod.tolerations!.some((t) => t.key === 'cloud.google.com/compute-class' && t.value === 'ferry-spot-flex-nvidia-l4-x1'));
  assert.equal(out.deployment.spec!.replicas, 1); // no autoscaling: a fixed count
  // the class depends only on the shape: another target on the same shape renders the same object
  const other = render(input(request({ target: { cluster: 'local', namespace: 'x', name: 'other' }, capacity: { computeClass: 'spot-then-flex-start' } })));
  assert.deepEqual(other.extras[0], cc);
  assert.deepEqual(render(input(request({ capacity: { computeClass: 'none' } }))).extras, []);
});

test('TPU variant: vllm-tpu image, google.com/tpu, TPU selectors, never distributed streaming', () => {
  const out = render(input(request({ accelerator: { type: 'tpu-v6e-slice', count: 8 }, streamer: { concurrency: 16 } })));
  const pod = out.deployment.spec!.template.spec!;
  const c = pod.containers[0]!;
  assert.equal(c.image, DEFAULT_TPU_IMAGE);
  assert.deepEqual(c.resources, { limits: { 'google.com/tpu': '8' } });
  assert.deepEqual(pod.nodeSelector, { 'cloud.google.com/gke-tpu-accelerator': 'tpu-v6e-slice', 'cloud.google.com/gke-tpu-topology': '2x4' });
  assert.deepEqual(pod.tolerations, [{ key: 'google.com/tpu', operator: 'Exists', effect: 'NoSchedule' }]);
  assert.ok(c.args!.includes('--tensor-parallel-size=8'));
  assert.ok(c.args!.includes('--model-loader-extra-config={"concurrency":16}'), c.args!.join(' '));
  assert.equal(loaderExtraConfig(DeployRequest.parse({ ...request(), accelerator: { type: 'tpu-v6e-slice', count: 8 } })), null);
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as FerryError).code;
    }
    return 'none';
  };
  const tpuReq = request({ accelerator: { type: 'tpu-v6e-slice', count: 8 } });
  assert.equal(
    code(() => render(input(tpuReq, { nodeSelectorExtra: { 'cloud.google.com/gke-tpu-topology': '4x4' } }))),
    'INVALID_RENDER_INPUT',
  );
  assert.equal(
    code(() => render(input(request(), { nodeSelectorExtra: { 'cloud.google.com/compute-class': 'x' } }))),
    'INVALID_RENDER_INPUT',
  );
  const { accelerator: _a, ...noAccelerator } = request();
  assert.equal(
    code(() => render(input(noAccelerator as DeployRequest))),
    'ACCELERATOR_UNRESOLVED',
  );
});

test('objectsToApply orders prerequisites first; staleObjects prunes per-target extras only', () => {
  const full = render(input(request({ autoscaling: { profile: 'throughput', maxReplicas: 2 }, capacity: { computeClass: 'spot-then-flex-start' } })));
  assert.deepEqual(
    objectsToApply(full).map((o) => o.kind),
    ['ComputeClass', 'Service', 'Deployment', 'PodMonitoring', 'HorizontalPodAutoscaler'],
  );
  const plain = render(input(request()));
  assert.deepEqual(staleObjects(full, plain), [
    { apiVersion: 'monitoring.googleapis.com/v1', kind: 'PodMonitoring', name: 'llama', namespace: 'default' },
    { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'llama', namespace: 'default' },
  ]);
  assert.deepEqual(staleObjects(plain, full), []);
  assert.deepEqual(staleObjects(full, full), []);
  assert.deepEqual(staleObjects(undefined, plain), []);
  // the same HPA stored as v2beta2 is the same object
  const v2beta2 = { ...full, extras: full.extras.map((o) => (o.kind === 'HorizontalPodAutoscaler' ? { ...o, apiVersion: 'autoscaling/v2beta2' } : o)) };
  assert.deepEqual(staleObjects(v2beta2, full), []);
});

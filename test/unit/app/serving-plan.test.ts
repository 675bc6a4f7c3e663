/**
 * resolveAccelerator: a deploy request without an accelerator gets the cheapest one that fits the
 * checkpoint; one that names a too-small accelerator is rejected with the numbers. The tiny Llama of
 * test/fixtures/safetensors is validated for real (headers only, local directory) and its summary used as
 * the version's; published Llama 3 numbers are built as summaries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { validateCheckpoint } from '../../../shared/app/validate-checkpoint.ts';
import { localDirObjectStore } from '../../../shared/adapters/local-dir.ts';
import { budgetOf, familiesFor, isRejection, parseTokenCount, resolveAccelerator, type ResolveResult } from '../../../shared/domain/serving-plan.ts';
import { DeployRequest, type DeployRequestInput } from '../../../shared/domain/deploy-request.ts';
import { render } from '../../../shared/domain/render.ts';
import type { CheckpointSummary } from '../../../shared/domain/checkpoint.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';

const request = (over: Partial<DeployRequestInput> = {}): DeployRequest =>
  DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'llama',
    version: 'v1',
    target: { cluster: 'local', namespace: 'default', name: 'llama' },
    requestedBy: { source: 'cli', principal: 'alice' },
    ...over,
  });

const ok = (r: ResolveResult) => {
  if (isRejection(r)) assert.fail(`rejected: ${r.reject.reason}: ${r.reject.message}`);
  return r;
};
const rejected = (r: ResolveResult) => {
  if (!isRejection(r)) assert.fail(`expected a rejection, got ${JSON.stringify(r.request.accelerator)}`);
  return r.reject;
};

let tinySummary: CheckpointSummary | undefined;
async function tiny(): Promise<CheckpointSummary> {
  if (!tinySummary) {
    const report = await validateCheckpoint(localDirObjectStore(path.join(FIXTURES_DIR, 'llama-sharded')), '');
    assert.ok(report.ok);
    // as Firestore stores it (VersionDoc.summary is a plain record)
    tinySummary = JSON.parse(JSON.stringify(report.summary)) as CheckpointSummary;
  }
  return tinySummary;
}

// Meta-Llama-3-8B / Llama-3.1-8B as summaries (see test/unit/domain/sizing.test.ts for the arithmetic).
const llama8b = (maxPositionEmbeddings: number): CheckpointSummary => ({
  layout: 'sharded',
  shards: 4,
  tensors: 291,
  parameters: 8_030_261_248,
  parametersByDtype: { BF16: 8_030_261_248 },
  tensorBytes: 16_060_522_496,
  dtypes: ['BF16'],
  headerBytes: 1,
  shardBytes: 16_060_522_497,
  config: {
    architectures: ['LlamaForCausalLM'],
    modelType: 'llama',
    numLayers: 32,
    hiddenSize: 4096,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 128,
    intermediateSize: 14336,
    vocabSize: 128256,
    maxPositionEmbeddings,
    torchDtype: 'bfloat16',
    quantization: null,
    tieWordEmbeddings: false,
  },
});

test('no accelerator: the tiny Llama gets the cheapest fit (one L4), and renders', async () => {
  const r = ok(resolveAccelerator(request(), await tiny()));
  assert.deepEqual(r.request.accelerator, { type: 'nvidia-l4', count: 1 });
  assert.equal(r.recommended, true);
  assert.match(r.warnings[0]!, /^ferry chose nvidia-l4 ×1 \(TP 1\) ~\$0\.85\/h: fits/);
  assert.deepEqual(r.request.vllmArgs, []); // 256 positions fit easily: no --max-model-len needed
  const out = render({
    request: r.request,
    rolloutId: 'r-1',
    bucket: 'ferry-models',
    checkpoint: { uri: 'gs://ferry-models/models/llama/v1', tensorBytes: r.plan!.model.tensorBytes, digest: 'sha256:1', shards: 6 },
  });
  assert.equal(out.deployment.spec!.template.spec!.nodeSelector!['cloud.google.com/gke-accelerator'], 'nvidia-l4');
});

test('the image picks the family: vllm-tpu → a TPU slice with its topology', async () => {
  const r = ok(resolveAccelerator(request({ image: 'vllm/vllm-tpu:v0.18.0' }), await tiny()));
  assert.deepEqual(r.request.accelerator, { type: 'tpu-v5-lite-podslice', count: 1, topology: '1x1' });
  assert.deepEqual(familiesFor(request({ image: 'vllm/vllm-tpu:v0.18.0' })), ['tpu']);
  assert.deepEqual(familiesFor(request({ image: 'vllm/vllm-openai:v0.12.0' })), ['gpu']);
  assert.deepEqual(familiesFor(request({ streamer: { distributed: true } })), ['gpu']);
  assert.deepEqual(familiesFor(request()), ['gpu', 'tpu']);
});

test('a named accelerator is checked: too small is rejected with the numbers, a fit passes unchanged', () => {
  const too = rejected(resolveAccelerator(request({ accelerator: { type: 'nvidia-l4', count: 1 } }), llama8b(8192)));
  assert.equal(too.reason, 'ACCELERATOR_TOO_SMALL');
  assert.match(too.message, /nvidia-l4 ×1 needs 25\.0 GiB per device .* but has 20\.2 GiB usable .*; use nvidia-l4 ×2 \(TP 2\)/);
  // the same L4 with a smaller budget fits
  const small = ok(
    resolveAccelerator(request({ accelerator: { type: 'nvidia-l4', count: 1 }, sizing: { contextTokens: 4096, concurrency: 4 } }), llama8b(8192)),
  );
  assert.equal(small.recommended, false);
  assert.deepEqual(small.request.accelerator, { type: 'nvidia-l4', count: 1 });
  // --max-model-len in vllmArgs is the context budget
  ok(
    resolveAccelerator(
      request({ accelerator: { type: 'nvidia-l4', count: 1 }, vllmArgs: ['--max-model-len', '4k'], sizing: { concurrency: 4 } }),
      llama8b(8192),
    ),
  );
  const tp = rejected(
    resolveAccelerator(request({ accelerator: { type: 'nvidia-h100-80gb', count: 8 }, tensorParallelSize: 8 }), {
      ...llama8b(8192),
      config: { ...llama8b(8192).config!, numHeads: 28, numKvHeads: 4 },
    }),
  );
  assert.equal(tp.reason, 'TENSOR_PARALLEL_INVALID');
});

test("--max-model-len is added when the model's full context would not fit the chosen devices", () => {
  // Llama 3.1 8B (131,072 positions) on one L4 with a 4 × 4096 budget: 20.24 − 14.96 − 2 = 3.28 GiB
  // of KV room = ~26,900 tokens at 128 KiB: vLLM would refuse to start at max_model_len 131,072.
  const r = ok(resolveAccelerator(request({ accelerator: { type: 'nvidia-l4', count: 1 }, sizing: { contextTokens: 4096, concurrency: 4 } }), llama8b(131072)));
  assert.deepEqual(r.request.vllmArgs, ['--max-model-len=4096']);
  assert.match(
    r.warnings.at(-1)!,
    /added --max-model-len=4096: one 131072-token sequence \(max_position_embeddings\) needs more KV cache than the 26,9\d\d tokens nvidia-l4 ×1 has room for/,
  );
  // not when the user chose one
  const own = { accelerator: { type: 'nvidia-l4' as const, count: 1 }, sizing: { concurrency: 4 }, vllmArgs: ['--max-model-len=4096'] };
  assert.deepEqual(ok(resolveAccelerator(request(own), llama8b(131072))).request.vllmArgs, ['--max-model-len=4096']);
  // nor when a full-length sequence fits: the recommended 2 × L4 (TP 2) have room for ~176,000 tokens at 64 KiB
  const rec = ok(resolveAccelerator(request(), llama8b(131072)));
  assert.deepEqual(rec.request.accelerator, { type: 'nvidia-l4', count: 2 });
  assert.deepEqual(rec.request.vllmArgs, []);
  assert.ok(rec.row!.kvCapacityTokens > 131072);
});

test('nothing fits / nothing to size', async () => {
  const huge = { ...llama8b(8192), parameters: 1e12, parametersByDtype: { BF16: 1e12 }, tensorBytes: 2e12 };
  const none = rejected(resolveAccelerator(request(), huge));
  assert.equal(none.reason, 'NO_ACCELERATOR_FITS');
  assert.match(none.message, /no accelerator ferry knows holds llama\/v1 for 8 × 8192 tokens \(weights 1862\.6 GiB\)/);
  assert.equal(rejected(resolveAccelerator(request(), null)).reason, 'SIZING_UNAVAILABLE');
  assert.equal(rejected(resolveAccelerator(request(), { ...(await tiny()), config: null })).reason, 'SIZING_UNAVAILABLE');
  // a named accelerator goes through unchecked, with a warning
  const named = ok(resolveAccelerator(request({ accelerator: { type: 'nvidia-l4', count: 1 } }), null));
  assert.equal(named.plan, null);
  assert.match(named.warnings[0]!, /no checkpoint summary; nvidia-l4 ×1 was not checked/);
});

test('budget from the request: sizing, then vLLM flags', () => {
  assert.deepEqual(budgetOf(request()), {});
  assert.deepEqual(budgetOf(request({ sizing: { contextTokens: 2048, concurrency: 3 }, vllmArgs: ['--max-model-len=4096'] })), {
    contextTokens: 2048,
    concurrency: 3,
  });
  assert.deepEqual(budgetOf(request({ vllmArgs: ['--max_model_len', '32k', '--gpu-memory-utilization=0.95', '--kv-cache-dtype', 'fp8_e4m3'] })), {
    contextTokens: 32000,
    gpuMemoryUtilization: 0.95,
    kvCacheDtype: 'fp8',
  });
  assert.deepEqual(
    [parseTokenCount('8K'), parseTokenCount('1m'), parseTokenCount('4096'), parseTokenCount('x'), parseTokenCount(undefined)],
    [8192, 1e6, 4096, undefined, undefined],
  );
});

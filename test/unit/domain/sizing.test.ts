/**
 * Sizing against numbers worked out by hand. Published configs (Meta Llama 3, Qwen2.5) are built as
 * checkpoint summaries; the tiny Llama of test/fixtures/safetensors is sized from its real config.
 *
 * Units: GiB = 2^30 bytes. Usable per device = memory × 0.9:
 *   L4    23,034 MiB × 0.9 = 20,730.6 MiB = 20.24 GiB
 *   H100  81,559 MiB × 0.9 = 73,403.1 MiB = 71.68 GiB
 *   A100-80 80 GiB × 0.9 = 72.00 GiB;  A100-40 36.00 GiB;  v6e 28.8 GiB;  v5e 14.4 GiB
 * Runtime overhead: 2 GiB per GPU, 1 GiB per TPU chip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CheckpointSummary, ModelConfigSummary } from '../../../shared/domain/checkpoint.ts';
import { ACCELERATOR_COUNTS, ACCELERATOR_TYPES, TPU_TOPOLOGIES } from '../../../shared/domain/accelerators.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import {
  DEFAULT_BUDGET,
  checkFits,
  evaluate,
  kvBytesPerToken,
  modelFacts,
  planServing,
  resolveBudget,
  tensorParallelProblem,
} from '../../../shared/domain/sizing.ts';
import { ACCELERATOR_SPECS, GiB, MiB, PLANNED_ACCELERATORS } from '../../../shared/domain/accelerator-specs.ts';

const config = (c: Partial<ModelConfigSummary>): ModelConfigSummary => ({
  architectures: ['LlamaForCausalLM'],
  modelType: 'llama',
  numLayers: null,
  hiddenSize: null,
  numHeads: null,
  numKvHeads: null,
  headDim: null,
  intermediateSize: null,
  vocabSize: null,
  maxPositionEmbeddings: null,
  torchDtype: 'bfloat16',
  quantization: null,
  tieWordEmbeddings: false,
  ...c,
});
const summary = (parametersByDtype: Record<string, number>, cfg: ModelConfigSummary | null): CheckpointSummary => {
  const bits: Record<string, number> = { BF16: 16, F16: 16, F32: 32, I32: 32, F8_E4M3: 8, U8: 8 };
  const parameters = Object.values(parametersByDtype).reduce((a, b) => a + b, 0);
  const tensorBytes = Object.entries(parametersByDtype).reduce((a, [d, n]) => a + (n * bits[d]!) / 8, 0);
  return {
    layout: 'sharded',
    shards: 4,
    tensors: 291,
    parameters,
    parametersByDtype,
    tensorBytes,
    dtypes: Object.keys(parametersByDtype),
    headerBytes: 1,
    shardBytes: tensorBytes + 1,
    config: cfg,
  };
};

// Meta-Llama-3-8B config.json: 32 layers, hidden 4096, 32 heads, 8 KV heads (head dim 4096/32 = 128),
// max_position_embeddings 8192; 8,030,261,248 parameters in BF16 → 16,060,522,496 bytes = 14.96 GiB.
const LLAMA3_8B = summary(
  { BF16: 8_030_261_248 },
  config({ numLayers: 32, hiddenSize: 4096, numHeads: 32, numKvHeads: 8, intermediateSize: 14336, vocabSize: 128256, maxPositionEmbeddings: 8192 }),
);
// Llama 3.1 8B: the same weights, max_position_embeddings 131,072.
const LLAMA31_8B = summary({ BF16: 8_030_261_248 }, config({ ...LLAMA3_8B.config!, maxPositionEmbeddings: 131072 }));
// Meta-Llama-3-70B: 80 layers, hidden 8192, 64 heads, 8 KV heads (head dim 128); 70,553,706,496
// parameters in BF16 → 141,107,412,992 bytes = 131.42 GiB.
const LLAMA3_70B = summary(
  { BF16: 70_553_706_496 },
  config({ numLayers: 80, hiddenSize: 8192, numHeads: 64, numKvHeads: 8, intermediateSize: 28672, vocabSize: 128256, maxPositionEmbeddings: 8192 }),
);
// Qwen2.5-7B-Instruct: 28 layers, hidden 3584, 28 heads, 4 KV heads (head dim 128); 7,615,616,512 parameters.
const QWEN25_7B = summary(
  { BF16: 7_615_616_512 },
  config({
    architectures: ['Qwen2ForCausalLM'],
    modelType: 'qwen2',
    numLayers: 28,
    hiddenSize: 3584,
    numHeads: 28,
    numKvHeads: 4,
    maxPositionEmbeddings: 32768,
  }),
);
// The fixture's tiny Llama (test/fixtures/safetensors/llama-sharded/config.json): 3 layers,
// hidden 64, 4 heads, 2 KV heads, head_dim 16, max 256 positions; 176,576 BF16 parameters = 353,152 bytes.
const TINY = summary(
  { BF16: 176_576 },
  config({ numLayers: 3, hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128, vocabSize: 512, maxPositionEmbeddings: 256 }),
);

const rowOf = (plan: ReturnType<typeof planServing>, type: string) => plan.rows.find((r) => r.accelerator === type)!;

test('KV bytes per token = 2 × layers × KV heads × head dim × dtype bytes', () => {
  // 2 × 32 × 8 × 128 × 2 = 131,072 B = 128 KiB
  assert.equal(kvBytesPerToken(modelFacts(LLAMA3_8B)), 131_072);
  // 2 × 80 × 8 × 128 × 2 = 327,680 B = 320 KiB
  assert.equal(kvBytesPerToken(modelFacts(LLAMA3_70B)), 327_680);
  // 2 × 3 × 2 × 16 × 2 = 384 B
  assert.equal(kvBytesPerToken(modelFacts(TINY)), 384);
  // an fp8 KV cache halves it
  assert.equal(kvBytesPerToken(modelFacts(LLAMA3_8B), { kvCacheDtype: 'fp8' }), 65_536);
  // no num_key_value_heads = multi-head attention (KV heads = heads); head dim = hidden / heads
  const mha = modelFacts(summary({ F16: 1000 }, config({ numLayers: 2, hiddenSize: 256, numHeads: 4 })));
  assert.equal(mha.kvHeads, 4);
  assert.equal(mha.headDim, 64);
});

test('weights in memory: BF16/F16 and packed dtypes as stored, F32 served in 16 bits', () => {
  assert.equal(modelFacts(LLAMA3_8B).weightBytes, 16_060_522_496);
  const f32 = modelFacts(summary({ F32: 1_000_000 }, TINY.config));
  assert.equal(f32.tensorBytes, 4_000_000);
  assert.equal(f32.weightBytes, 2_000_000); // vLLM dtype auto serves float32 checkpoints in 16 bits
  const gptq = modelFacts(summary({ I32: 1_000_000, F16: 10_000 }, TINY.config));
  assert.equal(gptq.weightBytes, 4_000_000 + 20_000);
});

test('Llama 3 8B: one L4 only with a small budget; the default budget needs two (TP 2)', () => {
  // 4,096 × 4 = 16,384 tokens × 128 KiB = 2 GiB of KV: 14.96 + 2 + 2 = 18.96 GiB ≤ 20.24 → one L4.
  const small = planServing(LLAMA3_8B, { contextTokens: 4096, concurrency: 4 });
  const l4 = rowOf(small, 'nvidia-l4');
  assert.deepEqual([l4.count, l4.tensorParallelSize, l4.fits], [1, 1, true]);
  assert.equal(l4.kvCachePerDeviceBytes, 2 * GiB);
  assert.equal(l4.weightsPerDeviceBytes, 16_060_522_496);
  // room left for KV on one L4: 20.24 − 14.96 − 2 = 3.28 GiB / 128 KiB ≈ 26,900 tokens (3 × 8,192 fit, 4 do not)
  assert.ok(l4.kvCapacityTokens > 3 * 8192 && l4.kvCapacityTokens < 4 * 8192, String(l4.kvCapacityTokens));
  assert.equal(small.recommended?.accelerator, 'nvidia-l4');
  assert.equal(small.recommended?.count, 1);

  // Default budget 8,192 × 8 = 65,536 tokens → 8 GiB KV: TP 1 needs 24.96 GiB > 20.24;
  // TP 2: 7.48 (weights / 2) + 4 (4 of 8 KV heads) + 2 = 13.48 GiB ✓ → two L4s.
  const plan = planServing(LLAMA3_8B);
  assert.deepEqual(plan.budget, { contextTokens: 8192, concurrency: 8, gpuMemoryUtilization: 0.9, kvCacheDtype: 'auto' });
  const two = rowOf(plan, 'nvidia-l4');
  assert.deepEqual([two.count, two.tensorParallelSize, two.fits, two.machineType], [2, 2, true, 'g2-standard-24']);
  assert.equal(two.kvCachePerDeviceBytes, 4 * GiB);
  assert.ok(Math.abs(two.needPerDeviceBytes / GiB - 13.48) < 0.01);
  assert.ok(!evaluate(modelFacts(LLAMA3_8B), plan.budget, 'nvidia-l4', 1).fits);

  const tooSmall = checkFits({ type: 'nvidia-l4', count: 1 }, plan);
  assert.equal(tooSmall.ok, false);
  if (tooSmall.ok) return;
  assert.ok(tooSmall.error instanceof FerryError);
  assert.equal(tooSmall.error.code, 'ACCELERATOR_TOO_SMALL');
  assert.match(
    tooSmall.error.message,
    /nvidia-l4 ×1 needs 25\.0 GiB per device \(weights 15\.0 GiB \+ KV cache 8\.0 GiB for 8 × 8192 tokens \+ runtime 2\.0 GiB\) but has 20\.2 GiB usable/,
  );
  assert.match(tooSmall.error.hint!, /use nvidia-l4 ×2 \(TP 2\)/);
  assert.equal(tooSmall.error.details!['usablePerDeviceBytes'], Math.floor(23_034 * MiB * 0.9));
  assert.equal(checkFits({ type: 'nvidia-l4', count: 2 }, plan).ok, true);
  // eight L4s at TP 2 still only use (and need) two devices' worth per device
  const eightTp2 = checkFits({ type: 'nvidia-l4', count: 8 }, plan, 2);
  assert.ok(eightTp2.ok && eightTp2.row.tensorParallelSize === 2 && eightTp2.row.count === 8);
});

test('Llama 3 70B: at least 4 × H100 80 GB at TP 4 for the default budget; TP 2 does not fit', () => {
  const plan = planServing(LLAMA3_70B);
  const facts = modelFacts(LLAMA3_70B);
  // TP 2: 65.71 (weights / 2) + 10 (65,536 tokens × 160 KiB) + 2 = 77.71 GiB > 71.68
  assert.ok(!evaluate(facts, plan.budget, 'nvidia-h100-80gb', 2).fits);
  // TP 4: 32.85 + 5 + 2 = 39.85 GiB ✓
  const h100 = rowOf(plan, 'nvidia-h100-80gb');
  assert.deepEqual([h100.count, h100.tensorParallelSize, h100.fits], [4, 4, true]);
  assert.ok(Math.abs(h100.needPerDeviceBytes / GiB - 39.85) < 0.01);
  // A100 80 GB: same need, 72 GiB usable → ×4. A100 40 GB: TP 4 needs 39.85 > 36 → ×8 (16.43 + 2.5 + 2).
  assert.deepEqual([rowOf(plan, 'nvidia-a100-80gb').count, rowOf(plan, 'nvidia-tesla-a100').count], [4, 8]);
  // L4 ×8: 16.43 + 2.5 (one KV head per device) + 2 = 20.93 GiB > 20.24: no L4 node holds it
  const l4 = rowOf(plan, 'nvidia-l4');
  assert.equal(l4.fits, false);
  assert.match(l4.reason, /memory alone needs 16 devices; nvidia-l4 nodes offer 1, 2, 4, 8/);
  // v6e-8: 16.43 + 2.5 + 1 = 19.93 ≤ 28.8 ✓; v5e-8: 19.93 > 14.4
  assert.deepEqual([rowOf(plan, 'tpu-v6e-slice').count, rowOf(plan, 'tpu-v6e-slice').topology, rowOf(plan, 'tpu-v5-lite-podslice').fits], [8, '2x4', false]);
  // the recommendation is the cheapest fitting row of the price table
  const fitting = plan.rows.filter((r) => r.fits && r.pricePerHour !== null);
  assert.equal(plan.recommended!.pricePerHour, Math.min(...fitting.map((r) => r.pricePerHour!)));
  assert.equal(plan.recommended!.accelerator, 'nvidia-a100-80gb'); // 4 × $5.07 at the 2025-06 prices
  const h100x2 = checkFits({ type: 'nvidia-h100-80gb', count: 2 }, plan);
  assert.ok(!h100x2.ok && h100x2.error.code === 'ACCELERATOR_TOO_SMALL');
});

test('tensor parallelism: heads must divide; KV heads divide TP or TP divides them', () => {
  const qwen = modelFacts(QWEN25_7B);
  assert.equal(tensorParallelProblem(qwen, 4), null);
  assert.match(tensorParallelProblem(qwen, 8)!, /28 attention heads are not divisible by TP 8/);
  assert.equal(tensorParallelProblem({ heads: 32, kvHeads: 8 }, 16), null); // KV heads replicated
  assert.match(tensorParallelProblem({ heads: 48, kvHeads: 6 }, 4)!, /6 KV heads and TP 4 do not divide one another/);
  const plan = planServing(QWEN25_7B);
  const h200 = rowOf(plan, 'nvidia-h200-141gb'); // a3-ultragpu-8g only has 8 GPUs
  assert.equal(h200.fits, false);
  assert.match(h200.reason, /no offered device count \(8\) is a tensor-parallel size vLLM accepts: 28 attention heads are not divisible by TP 8/);
  const bad = checkFits({ type: 'nvidia-l4', count: 8 }, plan);
  assert.ok(!bad.ok && bad.error.code === 'TENSOR_PARALLEL_INVALID');
  // KV per device stops shrinking once TP exceeds the KV heads (replication)
  const b = resolveBudget(modelFacts(LLAMA3_8B));
  assert.equal(evaluate(modelFacts(LLAMA3_8B), b, 'nvidia-h200-141gb', 8).kvCachePerDeviceBytes, 1 * GiB);
  assert.equal(evaluate(modelFacts(LLAMA3_8B), b, 'nvidia-a100-80gb', 16, 16).kvCachePerDeviceBytes, 1 * GiB);
});

test('budget: context defaults to min(8192, max_position_embeddings); vLLM knobs are honoured', () => {
  assert.equal(resolveBudget(modelFacts(TINY)).contextTokens, 256);
  assert.equal(resolveBudget(modelFacts(LLAMA31_8B)).contextTokens, DEFAULT_BUDGET.contextTokens);
  const tiny = planServing(TINY);
  assert.equal(tiny.budget.contextTokens * tiny.budget.concurrency * 384, tiny.rows[0]!.kvCachePerDeviceBytes);
  assert.equal(tiny.recommended?.accelerator, 'nvidia-l4');
  // a lower memory utilization shrinks what is usable: 22.49 GiB × 0.8 = 17.99 < 18.96
  const tight = planServing(LLAMA3_8B, { contextTokens: 4096, concurrency: 4, gpuMemoryUtilization: 0.8 });
  assert.equal(rowOf(tight, 'nvidia-l4').count, 2);
  // an fp8 KV cache (64 KiB/token): 8 × 8192 → 14.96 + 4 + 2 = 20.96 > 20.24, still two L4s; 4 × 8192 → 18.96 fits one
  assert.equal(rowOf(planServing(LLAMA3_8B, { kvCacheDtype: 'fp8', concurrency: 4 }), 'nvidia-l4').count, 1);
  const over = planServing(TINY, { contextTokens: 1024 });
  assert.match(over.warnings.join('\n'), /above the model's max_position_embeddings 256/);
});

test('families restrict the plan; models that cannot be sized say why', () => {
  const tpu = planServing(LLAMA3_8B, {}, { families: ['tpu'] });
  assert.deepEqual(
    tpu.rows.map((r) => r.accelerator),
    ['tpu-v5-lite-podslice', 'tpu-v6e-slice'],
  );
  // v5e: 14.96 GiB of weights exceed 14.4 usable on one chip; TP 2 is not a slice; TP 4: 3.74 + 2 + 1 = 6.74 ✓
  assert.deepEqual([tpu.rows[0]!.count, tpu.rows[0]!.topology], [4, '2x2']);
  // v6e: 14.96 + 8 + 1 = 23.96 ≤ 28.8 on one chip
  assert.deepEqual([tpu.rows[1]!.count, tpu.rows[1]!.topology, tpu.rows[1]!.machineType], [1, '1x1', 'ct6e-standard-1t']);
  for (const cfg of [null, config({ numLayers: null, numHeads: 8, hiddenSize: 512 }), config({ numLayers: 4, numHeads: null })]) {
    assert.throws(
      () => planServing(summary({ BF16: 10 }, cfg)),
      (e: unknown) => e instanceof FerryError && e.code === 'SIZING_UNAVAILABLE',
    );
  }
  // a model no accelerator holds: 1T parameters in BF16 (1,862.6 GiB)
  const huge = planServing(summary({ BF16: 1e12 }, LLAMA3_70B.config));
  assert.equal(huge.recommended, null);
  assert.match(huge.warnings.join('\n'), /no priced accelerator fits/);
});

test('the accelerator table agrees with the request schema', () => {
  for (const t of ACCELERATOR_TYPES) {
    const spec = ACCELERATOR_SPECS[t];
    assert.equal(spec.type, t);
    assert.deepEqual(Object.keys(spec.machines).map(Number), [...ACCELERATOR_COUNTS[t]], t);
    assert.ok(spec.memoryBytes > 8 * GiB, t);
    if (spec.family === 'tpu') {
      for (const [n, shape] of Object.entries(spec.machines)) assert.equal(TPU_TOPOLOGIES[shape.topology!], Number(n));
    }
  }
  for (const t of PLANNED_ACCELERATORS) {
    assert.ok(ACCELERATOR_SPECS[t].planned);
    for (const shape of Object.values(ACCELERATOR_SPECS[t].machines)) assert.ok(shape.pricePerHour !== null && shape.pricePerHour > 0, t);
  }
});

test('properties: a fitting row is the smallest acceptable TP that fits; more devices never need more memory', () => {
  const model = fc.record({
    layers: fc.integer({ min: 1, max: 128 }),
    kvHeads: fc.constantFrom(1, 2, 4, 8, 16),
    groups: fc.constantFrom(1, 2, 4, 8),
    headDim: fc.constantFrom(64, 128, 256),
    params: fc.integer({ min: 1e6, max: 400e9 }),
    context: fc.integer({ min: 128, max: 32768 }),
    concurrency: fc.integer({ min: 1, max: 64 }),
  });
  fc.assert(
    fc.property(model, (m) => {
      const s = summary(
        { BF16: m.params },
        config({ numLayers: m.layers, numHeads: m.kvHeads * m.groups, numKvHeads: m.kvHeads, headDim: m.headDim, maxPositionEmbeddings: 1 << 20 }),
      );
      const plan = planServing(s, { contextTokens: m.context, concurrency: m.concurrency });
      const facts = modelFacts(s);
      for (const r of plan.rows) {
        if (!r.fits) continue;
        assert.equal(r.count, r.tensorParallelSize);
        assert.ok(r.needPerDeviceBytes <= r.usablePerDeviceBytes);
        for (const smaller of ACCELERATOR_COUNTS[r.accelerator].filter((c) => c < r.count && tensorParallelProblem(facts, c) === null && (c & (c - 1)) === 0)) {
          assert.ok(!evaluate(facts, plan.budget, r.accelerator, smaller).fits, `${r.accelerator} ×${smaller} would fit too`);
        }
        for (const larger of ACCELERATOR_COUNTS[r.accelerator].filter((c) => c > r.count)) {
          assert.ok(evaluate(facts, plan.budget, r.accelerator, larger).needPerDeviceBytes <= r.needPerDeviceBytes);
        }
      }
      if (plan.recommended) assert.ok(plan.rows.every((r) => !r.fits || r.pricePerHour === null || r.pricePerHour >= plan.recommended!.pricePerHour!));
    }),
    { numRuns: 300 },
  );
});

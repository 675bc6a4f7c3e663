/**
 * Sizing, pure: from what validation already knows about a checkpoint (tensor bytes from the
 * safetensors headers, layers / heads / kv heads / head dim / dtype from config.json) and a serving
 * budget (context tokens × concurrent sequences), decide for each accelerator the smallest number
 * of GPUs / TPU chips and the tensor-parallel size that hold the model, and the cheapest of them.
 * Like the GKE Inference Quickstart, but computed from the model's own numbers.
 *
 * Memory model, per device (GPU or TPU chip) at tensor-parallel size TP:
 *
 *   usable  = memory × gpuMemoryUtilization                   (vLLM's --gpu-memory-utilization, default 0.9)
 *   need    = weights / TP                                     (vLLM shards the linear layers and the vocab)
 *           + kvBytesPerToken(TP) × contextTokens × concurrency
 *           + runtime overhead                                 (RUNTIME_OVERHEAD_BYTES: CUDA/XLA context,
 *                                                               activation peak of the profiling run, CUDA graphs)
 *   fits    ⇔ need ≤ usable
 *
 *   weights          = Σ over dtypes of parameters × bytes in memory, where F32/F64 count 2 bytes
 *                      (vLLM's dtype "auto" serves float32 checkpoints in 16-bit) and every other
 *                      dtype (BF16/F16, packed int / fp8 quantized weights, their scales) as stored.
 *   kvBytesPerToken  = 2 (K and V) × layers × kvHeadsPerDevice × headDim × kvDtypeBytes
 *                      kvHeadsPerDevice = kvHeads / TP, or 1 when TP > kvHeads (vLLM replicates KV
 *                      heads then); headDim = config head_dim, else hidden / heads; kvDtypeBytes = 2
 *                      (kv-cache-dtype "auto" = the 16-bit serving dtype) or 1 for fp8.
 *
 * Tensor parallelism: vLLM needs the attention heads divisible by TP and, for the KV heads, either
 * kvHeads divisible by TP or TP divisible by kvHeads. The plan takes the smallest power of two that
 * satisfies that, is a device count the accelerator's machine shapes offer, and fits; the pod asks
 * for exactly TP devices.
 *
 * Caveats (estimates, not guarantees; vLLM measures the real numbers at startup):
 * - the runtime overhead is a constant per family, not a measurement; long-context prefill batches
 *   (a large --max-num-batched-tokens) need more;
 * - replicated tensors (norms, biases) are counted once per TP, not per device (small);
 * - models with MLA (DeepSeek V2/V3) or sliding-window / hybrid attention keep less KV per token
 *   than the formula says (the plan errs on the large side); multimodal encoders are in the weights;
 * - TPU support of an architecture by vLLM TPU is not checked.
 */
import { z } from 'zod';
import { FerryError } from './errors.ts';
import { DTYPES } from './safetensors-format.ts';
import type { CheckpointSummary } from './checkpoint.ts';
import { ACCELERATOR_COUNTS, ACCELERATOR_FAMILIES, acceleratorFamily, isTpuType, type AcceleratorFamily, type AcceleratorType } from './accelerators.ts';
import {
  ACCELERATOR_SPECS,
  DEFAULT_GPU_MEMORY_UTILIZATION,
  GiB,
  PLANNED_ACCELERATORS,
  PRICES_AS_OF,
  PRICE_REGION,
  RUNTIME_OVERHEAD_BYTES,
  TP_CANDIDATES,
} from './accelerator-specs.ts';

// ---------------------------------------------------------------------------------------------
// Budget

export const KV_CACHE_DTYPES = ['auto', 'fp8'] as const;
export type KvCacheDtype = (typeof KV_CACHE_DTYPES)[number];

export const ServingBudget = z.object({
  /** Tokens per sequence (prompt + output): what `--max-model-len` is set to. */
  contextTokens: z.int().min(1),
  /** Sequences whose KV cache must fit at the same time. */
  concurrency: z.int().min(1),
  /** vLLM --gpu-memory-utilization. */
  gpuMemoryUtilization: z.number().gt(0).max(1),
  /** vLLM --kv-cache-dtype: auto (the 16-bit serving dtype) or fp8. */
  kvCacheDtype: z.enum(KV_CACHE_DTYPES),
});
export type ServingBudget = z.infer<typeof ServingBudget>;

/**
 * Default budget: 8,192-token sequences (capped by the model's max_position_embeddings), 8 at once
 * — 65,536 tokens of KV cache per replica, a modest interactive-serving load.
 */
export const DEFAULT_BUDGET = { contextTokens: 8192, concurrency: 8 } as const;

// ---------------------------------------------------------------------------------------------
// Model facts

export interface ModelFacts {
  architectures: string[];
  parameters: number;
  /** Σ tensor bytes from the headers. */
  tensorBytes: number;
  /** Bytes the weights take in accelerator memory (F32/F64 served in 16 bits). */
  weightBytes: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** The serving dtype (config torch_dtype / dtype), or the dominant tensor dtype. */
  dtype: string;
  quantization: string | null;
  maxPositionEmbeddings: number | null;
}

const DTYPE_BITS = new Map(DTYPES.map((d) => [d.name as string, d.bits]));
const WIDE_FLOATS = new Set(['F32', 'F64']);

/**
 * What sizing needs from a validated checkpoint summary. Throws FerryError SIZING_UNAVAILABLE when
 * config.json does not say the layers and heads (the KV cache cannot be sized without them).
 */
export function modelFacts(summary: CheckpointSummary): ModelFacts {
  const c = summary.config;
  const missing: string[] = [];
  if (!c) missing.push('config.json');
  const layers = c?.numLayers ?? null;
  const heads = c?.numHeads ?? null;
  if (c && !layers) missing.push('num_hidden_layers');
  if (c && !heads) missing.push('num_attention_heads');
  const headDim = c?.headDim ?? (c?.hiddenSize && heads ? c.hiddenSize / heads : null);
  if (c && heads && !headDim) missing.push('head_dim or hidden_size');
  if (missing.length > 0 || !layers || !heads || !headDim || !Number.isInteger(headDim)) {
    throw new FerryError(
      'SIZING_UNAVAILABLE',
      `cannot size the KV cache: the checkpoint's ${missing.join(', ') || 'head_dim (hidden_size / heads is not whole)'} ${missing.length === 1 ? 'is' : 'are'} missing`,
      {
        hint: 'name an accelerator in the deploy request (sizing is then not checked), or add the fields to config.json',
      },
    );
  }
  let weightBits = 0;
  for (const [dtype, n] of Object.entries(summary.parametersByDtype)) {
    const bits = WIDE_FLOATS.has(dtype) ? 16 : (DTYPE_BITS.get(dtype) ?? 16);
    weightBits += n * bits;
  }
  const dominant = Object.entries(summary.parametersByDtype).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'BF16';
  return {
    architectures: c!.architectures,
    parameters: summary.parameters,
    tensorBytes: summary.tensorBytes,
    weightBytes: Math.ceil(weightBits / 8),
    layers,
    heads,
    kvHeads: c!.numKvHeads ?? heads,
    headDim,
    dtype: c!.torchDtype ?? dominant,
    quantization: c!.quantization,
    maxPositionEmbeddings: c!.maxPositionEmbeddings,
  };
}

/** The budget with defaults: context = min(8192, max_position_embeddings) unless given. */
export function resolveBudget(facts: ModelFacts, partial: Partial<ServingBudget> = {}): ServingBudget {
  const cap = facts.maxPositionEmbeddings ?? DEFAULT_BUDGET.contextTokens;
  return ServingBudget.parse({
    contextTokens: partial.contextTokens ?? Math.min(DEFAULT_BUDGET.contextTokens, cap),
    concurrency: partial.concurrency ?? DEFAULT_BUDGET.concurrency,
    gpuMemoryUtilization: partial.gpuMemoryUtilization ?? DEFAULT_GPU_MEMORY_UTILIZATION,
    kvCacheDtype: partial.kvCacheDtype ?? 'auto',
  });
}

const kvDtypeBytes = (b: ServingBudget): number => (b.kvCacheDtype === 'fp8' ? 1 : 2);

/** KV heads one device holds at tensor-parallel size `tp` (vLLM replicates KV heads when tp > kvHeads). */
export const kvHeadsPerDevice = (facts: Pick<ModelFacts, 'kvHeads'>, tp: number): number => Math.max(1, Math.ceil(facts.kvHeads / tp));

/** KV-cache bytes per token of the whole model (TP 1): 2 × layers × kv heads × head dim × dtype bytes. */
export function kvBytesPerToken(facts: ModelFacts, budget: Pick<ServingBudget, 'kvCacheDtype'> = { kvCacheDtype: 'auto' }): number {
  return 2 * facts.layers * facts.kvHeads * facts.headDim * (budget.kvCacheDtype === 'fp8' ? 1 : 2);
}

/** Why vLLM would refuse this tensor-parallel size for the model, or null when it accepts it. */
export function tensorParallelProblem(facts: Pick<ModelFacts, 'heads' | 'kvHeads'>, tp: number): string | null {
  if (facts.heads % tp !== 0) return `${facts.heads} attention heads are not divisible by TP ${tp}`;
  if (facts.kvHeads % tp !== 0 && tp % facts.kvHeads !== 0) return `${facts.kvHeads} KV heads and TP ${tp} do not divide one another`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Evaluating one configuration

export interface PlanRow {
  accelerator: AcceleratorType;
  family: AcceleratorFamily;
  /** Devices per pod (= tensorParallelSize in a plan; checkFits may evaluate count > TP). */
  count: number;
  tensorParallelSize: number;
  /** TPU single-host topology for `count` chips. */
  topology: string | null;
  machineType: string | null;
  fits: boolean;
  /** One line: why it fits or not, with the numbers. */
  reason: string;
  /** Device memory (GPU or chip). */
  memoryPerDeviceBytes: number;
  /** memory × gpuMemoryUtilization. */
  usablePerDeviceBytes: number;
  /** weights + KV + overhead per device. */
  needPerDeviceBytes: number;
  weightsPerDeviceBytes: number;
  kvCachePerDeviceBytes: number;
  overheadPerDeviceBytes: number;
  /** Tokens of KV cache one replica could hold with what is left after weights and overhead. */
  kvCapacityTokens: number;
  /** On-demand USD per hour for the pod's machine (PRICES_AS_OF, ⚠), null when not listed. */
  pricePerHour: number | null;
}

export function fmtGiB(bytes: number): string {
  return `${(bytes / GiB).toFixed(1)} GiB`;
}

/** Memory need of `type` × `count` devices at tensor-parallel size `tp` (tp ≤ count). */
export function evaluate(facts: ModelFacts, budget: ServingBudget, type: AcceleratorType, count: number, tp: number = count): PlanRow {
  const spec = ACCELERATOR_SPECS[type];
  const family = acceleratorFamily(type);
  const usable = Math.floor(spec.memoryBytes * budget.gpuMemoryUtilization);
  const weights = Math.ceil(facts.weightBytes / tp);
  const kvPerToken = 2 * facts.layers * kvHeadsPerDevice(facts, tp) * facts.headDim * kvDtypeBytes(budget);
  const tokens = budget.contextTokens * budget.concurrency;
  const kv = kvPerToken * tokens;
  const overhead = RUNTIME_OVERHEAD_BYTES[family];
  const need = weights + kv + overhead;
  const shape = spec.machines[count];
  const fits = need <= usable;
  const left = usable - weights - overhead;
  const kvCapacityTokens = left > 0 ? Math.floor(left / kvPerToken) : 0;
  const where = `${type} ×${count}${tp !== count ? ` (TP ${tp})` : ''}`;
  const parts = `weights ${fmtGiB(weights)} + KV cache ${fmtGiB(kv)} for ${budget.concurrency} × ${budget.contextTokens} tokens + runtime ${fmtGiB(overhead)}`;
  const reason = fits
    ? `fits: ${fmtGiB(need)} of ${fmtGiB(usable)} usable per device (${parts}); room for ${kvCapacityTokens.toLocaleString('en-US')} tokens of KV cache`
    : `${where} needs ${fmtGiB(need)} per device (${parts}) but has ${fmtGiB(usable)} usable (${fmtGiB(spec.memoryBytes)} × ${budget.gpuMemoryUtilization})`;
  return {
    accelerator: type,
    family,
    count,
    tensorParallelSize: tp,
    topology: isTpuType(type) ? (shape?.topology ?? null) : null,
    machineType: shape?.machineType ?? null,
    fits,
    reason,
    memoryPerDeviceBytes: spec.memoryBytes,
    usablePerDeviceBytes: usable,
    needPerDeviceBytes: need,
    weightsPerDeviceBytes: weights,
    kvCachePerDeviceBytes: kv,
    overheadPerDeviceBytes: overhead,
    kvCapacityTokens,
    pricePerHour: shape?.pricePerHour ?? null,
  };
}

/**
 * The row for one accelerator: the smallest power-of-two TP that vLLM accepts for the model, that is
 * an offered device count, and that fits. When none fits, the largest acceptable one, with the reason.
 */
export function planAccelerator(facts: ModelFacts, budget: ServingBudget, type: AcceleratorType): PlanRow {
  const offered = ACCELERATOR_COUNTS[type];
  const acceptable = TP_CANDIDATES.filter((tp) => offered.includes(tp) && tensorParallelProblem(facts, tp) === null);
  for (const tp of acceptable) {
    const row = evaluate(facts, budget, type, tp);
    if (row.fits) return row;
  }
  // By memory alone (any power of two), how many devices would it take?
  const byMemory = TP_CANDIDATES.find((tp) => evaluate(facts, budget, type, tp).fits);
  const largest = acceptable.at(-1);
  if (largest === undefined) {
    const first = offered[0]!;
    const row = evaluate(facts, budget, type, first);
    const why = offered.map((tp) => tensorParallelProblem(facts, tp)).find((p) => p !== null) ?? 'no acceptable tensor-parallel size';
    return { ...row, fits: false, reason: `no offered device count (${offered.join(', ')}) is a tensor-parallel size vLLM accepts: ${why}` };
  }
  const row = evaluate(facts, budget, type, largest);
  const hint =
    byMemory === undefined
      ? `more than ${TP_CANDIDATES.at(-1)} devices would be needed`
      : byMemory > largest
        ? `memory alone needs ${byMemory} devices; ${type} nodes offer ${offered.join(', ')}${acceptable.length < offered.length ? ` and vLLM accepts TP ${acceptable.join(', ')} for this model` : ''}`
        : '';
  return { ...row, reason: hint ? `${row.reason}; ${hint}` : row.reason };
}

// ---------------------------------------------------------------------------------------------
// The plan

export interface ServingPlan {
  model: ModelFacts & { kvBytesPerToken: number };
  budget: ServingBudget;
  rows: PlanRow[];
  /** Cheapest fitting row with a known price (fewer devices, then table order, on a tie); null if none. */
  recommended: PlanRow | null;
  warnings: string[];
  pricesAsOf: string;
  priceRegion: string;
}

export interface PlanOptions {
  /** Restrict to these families (e.g. a vllm-tpu image → ['tpu']). Default: both. */
  families?: readonly AcceleratorFamily[];
  /** Accelerators to plan, in order. Default: PLANNED_ACCELERATORS. */
  accelerators?: readonly AcceleratorType[];
}

/** Rows per accelerator + the recommendation. Throws FerryError SIZING_UNAVAILABLE (no config numbers). */
export function planServing(summary: CheckpointSummary, budget: Partial<ServingBudget> = {}, options: PlanOptions = {}): ServingPlan {
  const facts = modelFacts(summary);
  const b = resolveBudget(facts, budget);
  const families = options.families ?? ACCELERATOR_FAMILIES;
  const types = (options.accelerators ?? PLANNED_ACCELERATORS).filter((t) => families.includes(acceleratorFamily(t)));
  const rows = types.map((t) => planAccelerator(facts, b, t));
  const warnings: string[] = [];
  if (facts.maxPositionEmbeddings !== null && b.contextTokens > facts.maxPositionEmbeddings) {
    warnings.push(
      `context ${b.contextTokens} is above the model's max_position_embeddings ${facts.maxPositionEmbeddings}; vLLM refuses a longer --max-model-len`,
    );
  }
  if (facts.quantization) warnings.push(`quantized (${facts.quantization}): weights are sized as stored in the checkpoint`);
  const priced = rows.filter((r) => r.fits && r.pricePerHour !== null);
  const recommended =
    priced.length === 0
      ? null
      : priced.reduce((best, r) => (r.pricePerHour! < best.pricePerHour! || (r.pricePerHour === best.pricePerHour && r.count < best.count) ? r : best));
  if (!recommended) warnings.push('no priced accelerator fits this budget: lower the context or the concurrency, or quantize the model');
  return {
    model: { ...facts, kvBytesPerToken: kvBytesPerToken(facts, b) },
    budget: b,
    rows,
    recommended,
    warnings,
    pricesAsOf: PRICES_AS_OF,
    priceRegion: PRICE_REGION,
  };
}

export type FitCheck = { ok: true; row: PlanRow } | { ok: false; error: FerryError; row: PlanRow | null };

/**
 * Does the named accelerator hold the model within the plan's budget? `tensorParallelSize` defaults
 * to the device count (as render does). Errors: ACCELERATOR_TOO_SMALL (with the numbers and the
 * plan's recommendation), TENSOR_PARALLEL_INVALID (vLLM would refuse the TP for this model).
 */
export function checkFits(accelerator: { type: AcceleratorType; count: number }, plan: ServingPlan, tensorParallelSize: number = accelerator.count): FitCheck {
  const { type, count } = accelerator;
  const tp = tensorParallelSize;
  const problem = tensorParallelProblem(plan.model, tp);
  const rec = plan.recommended;
  const recText = rec
    ? `${rec.accelerator} ×${rec.count} (TP ${rec.tensorParallelSize})${rec.pricePerHour !== null ? ` at ~$${rec.pricePerHour.toFixed(2)}/h` : ''}`
    : null;
  if (problem) {
    return {
      ok: false,
      row: null,
      error: new FerryError('TENSOR_PARALLEL_INVALID', `vLLM cannot run this model at tensor-parallel size ${tp}: ${problem}`, {
        hint: `choose a device count or tensorParallelSize that divides the attention heads${recText ? `; ferry recommends ${recText}` : ''}`,
        details: { accelerator: type, count, tensorParallelSize: tp, heads: plan.model.heads, kvHeads: plan.model.kvHeads },
      }),
    };
  }
  const row = evaluate(plan.model, plan.budget, type, count, tp);
  if (row.fits) return { ok: true, row };
  return {
    ok: false,
    row,
    error: new FerryError('ACCELERATOR_TOO_SMALL', `${row.reason}`, {
      hint: `${recText ? `use ${recText}, or ` : ''}lower sizing.contextTokens (${plan.budget.contextTokens}) or sizing.concurrency (${plan.budget.concurrency})`,
      details: {
        accelerator: type,
        count,
        tensorParallelSize: tp,
        needPerDeviceBytes: row.needPerDeviceBytes,
        usablePerDeviceBytes: row.usablePerDeviceBytes,
        weightsPerDeviceBytes: row.weightsPerDeviceBytes,
        kvCachePerDeviceBytes: row.kvCachePerDeviceBytes,
        overheadPerDeviceBytes: row.overheadPerDeviceBytes,
        budget: plan.budget,
        ...(rec ? { recommended: { accelerator: rec.accelerator, count: rec.count, tensorParallelSize: rec.tensorParallelSize } } : {}),
      },
    }),
  };
}

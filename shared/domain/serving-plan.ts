/**
 * Sizing a deploy request against the checkpoint it deploys (no I/O: the caller passes the version's
 * stored summary). Called by the deploy use case after the version is resolved and before render:
 *
 * - no accelerator in the request → the cheapest accelerator that fits (sizing.ts planServing) is
 *   filled in; nothing fits → rejected (NO_ACCELERATOR_FITS) with the closest numbers;
 * - an accelerator that cannot hold the model within the budget → rejected (ACCELERATOR_TOO_SMALL,
 *   or TENSOR_PARALLEL_INVALID when vLLM would refuse the tensor-parallel size);
 * - when the model's max_position_embeddings would not fit the chosen devices' KV cache and the
 *   request does not set `--max-model-len`, it is set to the budget's context (vLLM would otherwise
 *   refuse to start: it needs one full-length sequence to fit).
 *
 * Budget: request.sizing, else `--max-model-len` from vllmArgs for the context; vllmArgs'
 * `--gpu-memory-utilization` and `--kv-cache-dtype` are honoured; defaults in sizing.ts.
 */
import { DeployRequest, effectiveTensorParallelSize } from './deploy-request.ts';
import { isTpuType, type AcceleratorFamily } from './accelerators.ts';
import { isVllmTpuImage, parseImageReference, vllmArgValue } from './vllm.ts';
import { CheckpointSummary } from './checkpoint.ts';
import { isFerryError } from './errors.ts';
import type { DeployRejectReason } from './reasons/deploy.ts';
import { checkFits, fmtGiB, planServing, type PlanRow, type ServingBudget, type ServingPlan } from './sizing.ts';

export interface ResolvedServing {
  /** The request to render: accelerator filled in (or checked), maybe `--max-model-len` added. */
  request: DeployRequest;
  /** Null when the checkpoint could not be sized (no summary / config numbers) and the request named its accelerator. */
  plan: ServingPlan | null;
  /** The evaluated configuration of `request.accelerator`. */
  row: PlanRow | null;
  /** True when ferry chose the accelerator. */
  recommended: boolean;
  /** Human-readable notes for the logs / result message. */
  warnings: string[];
}

export interface ServingRejection {
  reject: {
    /** ACCELERATOR_TOO_SMALL | TENSOR_PARALLEL_INVALID | NO_ACCELERATOR_FITS | SIZING_UNAVAILABLE */
    reason: DeployRejectReason;
    message: string;
  };
}

export type ResolveResult = ResolvedServing | ServingRejection;

export const isRejection = (r: ResolveResult): r is ServingRejection => 'reject' in r;

/** `1024`, `8k` (×1000), `8K` (×1024), `1m`/`1M`, as vLLM's human-readable ints; undefined when not one. */
export function parseTokenCount(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(v.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = { '': 1, k: 1e3, K: 1024, m: 1e6, M: 1024 ** 2, g: 1e9, G: 1024 ** 3 };
  const n = Math.round(Number(m[1]) * mult[m[2]!]!);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The sizing budget a request asks for (unset fields take sizing.ts defaults). */
export function budgetOf(request: DeployRequest): Partial<ServingBudget> {
  const args = request.vllmArgs;
  const context = request.sizing?.contextTokens ?? parseTokenCount(vllmArgValue(args, '--max-model-len'));
  const util = Number(vllmArgValue(args, '--gpu-memory-utilization'));
  const kvDtype = vllmArgValue(args, '--kv-cache-dtype');
  return {
    ...(context !== undefined ? { contextTokens: context } : {}),
    ...(request.sizing?.concurrency !== undefined ? { concurrency: request.sizing.concurrency } : {}),
    ...(Number.isFinite(util) && util > 0 && util <= 1 ? { gpuMemoryUtilization: util } : {}),
    ...(kvDtype?.startsWith('fp8') ? { kvCacheDtype: 'fp8' as const } : {}),
  };
}

/**
 * Accelerator families a recommendation may come from: the image decides (vllm-tpu → TPU, any other
 * explicit image → GPU: custom builds are CUDA builds unless named vllm-tpu), so does the streamer's
 * CUDA-only distributed mode; otherwise both.
 */
export function familiesFor(request: DeployRequest): AcceleratorFamily[] {
  const ref = request.image !== undefined ? parseImageReference(request.image) : null;
  if (ref && isVllmTpuImage(ref)) return ['tpu'];
  if (ref || request.streamer.distributed === true) return ['gpu'];
  return ['gpu', 'tpu'];
}

const describeRow = (r: PlanRow): string =>
  `${r.accelerator} ×${r.count} (TP ${r.tensorParallelSize})${r.pricePerHour !== null ? ` ~$${r.pricePerHour.toFixed(2)}/h` : ''}`;

/**
 * Fill in or check the request's accelerator against the version's summary (VersionDoc.summary, as
 * stored: validated again here). Pure; never throws for a bad summary (it becomes a rejection or a
 * warning).
 */
export function resolveAccelerator(request: DeployRequest, versionSummary: unknown): ResolveResult {
  const summary = CheckpointSummary.safeParse(versionSummary);
  const unsized = (why: string): ResolveResult =>
    request.accelerator !== undefined
      ? {
          request,
          plan: null,
          row: null,
          recommended: false,
          warnings: [`${why}; ${request.accelerator.type} ×${request.accelerator.count} was not checked against the model`],
        }
      : {
          reject: {
            reason: 'SIZING_UNAVAILABLE',
            message: `${why}, so ferry cannot choose an accelerator; name one in the request (accelerator: {type, count})`,
          },
        };
  if (!summary.success) return unsized('the version has no checkpoint summary');

  const acc = request.accelerator;
  let plan: ServingPlan;
  try {
    plan = planServing(summary.data, budgetOf(request), acc ? {} : { families: familiesFor(request) });
  } catch (e) {
    if (isFerryError(e) && e.code === 'SIZING_UNAVAILABLE') return unsized(e.message);
    throw e;
  }
  const warnings = [...plan.warnings.filter((w) => !(acc && w.startsWith('no priced accelerator')))];

  let row: PlanRow;
  let resolved: DeployRequest;
  if (acc) {
    const fit = checkFits(acc, plan, effectiveTensorParallelSize(request));
    if (!fit.ok) return { reject: { reason: fit.error.code, message: `${fit.error.message}${fit.error.hint ? `; ${fit.error.hint}` : ''}` } };
    row = fit.row;
    resolved = request;
  } else {
    const rec = plan.recommended;
    if (!rec) {
      const closest = plan.rows
        .slice()
        .sort((a, b) => a.needPerDeviceBytes / a.usablePerDeviceBytes - b.needPerDeviceBytes / b.usablePerDeviceBytes)
        .slice(0, 2)
        .map((r) => r.reason)
        .join('; ');
      return {
        reject: {
          reason: 'NO_ACCELERATOR_FITS',
          message: `no accelerator ferry knows holds ${request.model}/${request.version} for ${plan.budget.concurrency} × ${plan.budget.contextTokens} tokens (weights ${fmtGiB(plan.model.weightBytes)}): ${closest}; lower sizing.contextTokens or sizing.concurrency`,
        },
      };
    }
    row = rec;
    resolved = DeployRequest.parse({
      ...request,
      accelerator: { type: rec.accelerator, count: rec.count, ...(isTpuType(rec.accelerator) && rec.topology ? { topology: rec.topology } : {}) },
    });
    warnings.unshift(`ferry chose ${describeRow(rec)}: ${rec.reason}`);
  }

  const maxPos = plan.model.maxPositionEmbeddings;
  if (maxPos !== null && maxPos > row.kvCapacityTokens && vllmArgValue(resolved.vllmArgs, '--max-model-len') === undefined) {
    resolved = { ...resolved, vllmArgs: [...resolved.vllmArgs, `--max-model-len=${plan.budget.contextTokens}`] };
    warnings.push(
      `added --max-model-len=${plan.budget.contextTokens}: one ${maxPos}-token sequence (max_position_embeddings) needs more KV cache than the ${row.kvCapacityTokens.toLocaleString('en-US')} tokens ${row.accelerator} ×${row.count} has room for`,
    );
  }
  return { request: resolved, plan, row, recommended: acc === undefined, warnings };
}

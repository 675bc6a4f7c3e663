/**
 * Accelerators a deploy request can name: GKE GPU and single-host TPU label values, the device
 * counts their machine shapes offer, and the `{type, count, topology}` schema. Pure.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Accelerators

/**
 * GKE GPU accelerator label values (`cloud.google.com/gke-accelerator`) that vLLM ≥ 0.11 can use
 * (compute capability ≥ 7.0, so no P4/P100).
 */
export const GPU_ACCELERATOR_TYPES = [
  'nvidia-tesla-t4',
  'nvidia-tesla-v100',
  'nvidia-l4',
  'nvidia-tesla-a100',
  'nvidia-a100-80gb',
  'nvidia-h100-80gb',
  'nvidia-h100-mega-80gb',
  'nvidia-h200-141gb',
  'nvidia-b200',
  'nvidia-gb200',
  'nvidia-rtx-pro-6000',
] as const;
/**
 * GKE TPU accelerator label values (`cloud.google.com/gke-tpu-accelerator`): v5e and v6e (Trillium).
 * Only single-host slices: vLLM on GKE TPUs serves from one host (multi-host is not supported, see
 * the GKE "Serve an LLM using TPU Trillium on GKE with vLLM" tutorial). They need the `vllm/vllm-tpu`
 * image, `google.com/tpu` resources, a topology selector, and Run:ai + GCS only from TPU vLLM 0.18.0;
 * the streamer's `distributed` mode is CUDA/ROCm only (docs.vllm.ai/en/stable/models/extensions/runai_model_streamer/).
 */
export const TPU_ACCELERATOR_TYPES = ['tpu-v5-lite-podslice', 'tpu-v6e-slice'] as const;
export const ACCELERATOR_TYPES = [...GPU_ACCELERATOR_TYPES, ...TPU_ACCELERATOR_TYPES] as const;
export const AcceleratorType = z.enum(ACCELERATOR_TYPES);
export type AcceleratorType = z.infer<typeof AcceleratorType>;
export type GpuAcceleratorType = (typeof GPU_ACCELERATOR_TYPES)[number];
export type TpuAcceleratorType = (typeof TPU_ACCELERATOR_TYPES)[number];
export const ACCELERATOR_FAMILIES = ['gpu', 'tpu'] as const;
export type AcceleratorFamily = (typeof ACCELERATOR_FAMILIES)[number];

export const isTpuType = (t: AcceleratorType): t is TpuAcceleratorType => (TPU_ACCELERATOR_TYPES as readonly string[]).includes(t);
export const acceleratorFamily = (t: AcceleratorType): AcceleratorFamily => (isTpuType(t) ? 'tpu' : 'gpu');

/**
 * Single-host TPU v5e / v6e topologies (`cloud.google.com/gke-tpu-topology`) and their chips: machine
 * types ct5lp-hightpu-{1,4,8}t and ct6e-standard-{1,4,8}t (GKE "Plan TPUs in GKE"). Larger
 * topologies span hosts, which vLLM on GKE does not serve.
 */
export const TPU_TOPOLOGIES = { '1x1': 1, '2x2': 4, '2x4': 8 } as const;
export type TpuTopology = keyof typeof TPU_TOPOLOGIES;
const TOPOLOGY_BY_CHIPS: Readonly<Record<number, TpuTopology>> = { 1: '1x1', 4: '2x2', 8: '2x4' };

/**
 * GPUs (or TPU chips) per node that GKE machine shapes offer for each accelerator (N1+T4/V100, G2,
 * A2 high/mega, A2 ultra, A3 high/mega/ultra, A4, A4X, G4; TPU single-host slices). A pod asks for
 * `count` devices on one node, so other counts could never schedule.
 */
export const ACCELERATOR_COUNTS: Readonly<Record<AcceleratorType, readonly number[]>> = {
  'nvidia-tesla-t4': [1, 2, 4],
  'nvidia-tesla-v100': [1, 2, 4, 8],
  'nvidia-l4': [1, 2, 4, 8],
  'nvidia-tesla-a100': [1, 2, 4, 8, 16],
  'nvidia-a100-80gb': [1, 2, 4, 8],
  'nvidia-h100-80gb': [1, 2, 4, 8],
  'nvidia-h100-mega-80gb': [8],
  'nvidia-h200-141gb': [8],
  'nvidia-b200': [8],
  'nvidia-gb200': [4],
  'nvidia-rtx-pro-6000': [1, 2, 4, 8],
  'tpu-v5-lite-podslice': [1, 4, 8],
  'tpu-v6e-slice': [1, 4, 8],
};

/**
 * `{type, count}` for GPUs (count default 1). For TPUs `{type, count?, topology?}`: the count is the
 * chips of the single-host slice and the topology follows from it (1 → 1x1, 4 → 2x2, 8 → 2x4), or
 * the other way round; given both, they must agree. The parsed value of a TPU always carries both;
 * a GPU's never has a topology (so stored GPU requests keep their exact shape).
 */
export const Accelerator = z
  .object({
    type: AcceleratorType,
    count: z.int().min(1).max(16).optional(),
    /** TPU only: `cloud.google.com/gke-tpu-topology`, e.g. 2x4. */
    topology: z
      .string()
      .regex(/^[0-9]{1,2}x[0-9]{1,2}(?:x[0-9]{1,2})?$/, 'topologies look like 2x4')
      .optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const allowed = ACCELERATOR_COUNTS[a.type];
    if (!isTpuType(a.type)) {
      const count = a.count ?? 1;
      if (a.topology !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['topology'], message: `${a.type} is a GPU; topology is for TPU slices only` });
      }
      if (!allowed.includes(count)) {
        ctx.addIssue({
          code: 'custom',
          path: ['count'],
          message: `${a.type} nodes have ${allowed.join(', ')} GPUs; count ${count} could never schedule`,
        });
      }
      return;
    }
    const single = Object.keys(TPU_TOPOLOGIES).join(', ');
    if (a.topology !== undefined && !(a.topology in TPU_TOPOLOGIES)) {
      ctx.addIssue({
        code: 'custom',
        path: ['topology'],
        message: `${a.type} topology ${a.topology} is not a single-host slice (${single}); vLLM on GKE serves from one TPU host`,
      });
      return;
    }
    if (a.count !== undefined && !allowed.includes(a.count)) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: `${a.type} single-host slices have ${allowed.join(', ')} chips; count ${a.count} could never schedule`,
      });
      return;
    }
    if (a.count !== undefined && a.topology !== undefined && TPU_TOPOLOGIES[a.topology as TpuTopology] !== a.count) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: `topology ${a.topology} has ${TPU_TOPOLOGIES[a.topology as TpuTopology]} chips, not ${a.count}`,
      });
    }
  })
  .transform((a): { type: AcceleratorType; count: number; topology?: string } => {
    if (!isTpuType(a.type)) return { type: a.type, count: a.count ?? 1 };
    const count = a.count ?? (a.topology !== undefined ? TPU_TOPOLOGIES[a.topology as TpuTopology] : 1);
    return { type: a.type, count, topology: a.topology ?? TOPOLOGY_BY_CHIPS[count]! };
  });
export type Accelerator = z.output<typeof Accelerator>;

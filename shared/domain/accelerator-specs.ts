/**
 * The accelerator table sizing plans with (pure data): per GKE accelerator its memory, machine
 * shapes (devices per node), on-demand price (PRICES_AS_OF, PRICE_REGION; check the pricing pages)
 * and family, plus the runtime overheads and tensor-parallel sizes the planner assumes. The model
 * that uses it is sizing.ts.
 */
import { TPU_TOPOLOGIES, type AcceleratorFamily, type AcceleratorType, type TpuTopology } from './accelerators.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

// ---------------------------------------------------------------------------------------------
// Accelerator table

export interface MachineShape {
  /** GCE machine type with `count` devices. */
  machineType: string;
  /** On-demand USD per hour for the whole machine in us-central1 (PRICES_AS_OF; ⚠ check the pricing page), null when not listed here. */
  pricePerHour: number | null;
  /** TPU single-host topology (cloud.google.com/gke-tpu-topology). */
  topology?: TpuTopology;
}

export interface AcceleratorSpec {
  type: AcceleratorType;
  family: AcceleratorFamily;
  /** Human name with the published memory, e.g. "NVIDIA L4 24 GB". */
  name: string;
  /** Device memory the sizing uses, in bytes (see the table for where each number comes from). */
  memoryBytes: number;
  /** Machine shapes by device count (the keys are ACCELERATOR_COUNTS[type]). */
  machines: Readonly<Record<number, MachineShape>>;
  /** Shown by `ferry plan` and eligible as a recommendation. The others are still checked by checkFits. */
  planned: boolean;
  /** ⚠ notes: what is uncertain about this row. */
  notes: readonly string[];
}

/** Date of the price snapshot below. */
export const PRICES_AS_OF = '2025-06';
export const PRICE_REGION = 'us-central1';

const per = (
  machineType: (n: number) => string,
  counts: readonly number[],
  perDevice: number | null,
  extra: (n: number) => Partial<MachineShape> = () => ({}),
) =>
  Object.fromEntries(
    counts.map((n) => [n, { machineType: machineType(n), pricePerHour: perDevice === null ? null : round2(perDevice * n), ...extra(n) }]),
  ) as Record<number, MachineShape>;
const round2 = (x: number): number => Math.round(x * 100) / 100;
const tpuTopology = (n: number): { topology: TpuTopology } => ({
  topology: (Object.entries(TPU_TOPOLOGIES).find(([, chips]) => chips === n)?.[0] ?? '1x1') as TpuTopology,
});

/**
 * Memory per device and machine shapes, as published by NVIDIA / Google. GPU memory is the total
 * `nvidia-smi` (and CUDA) reports where that is well known — slightly under the marketing "GB" (the
 * L4's 24 GB shows as 23,034 MiB); otherwise the published figure read as GiB. TPU memory is the
 * HBM per chip in Google's TPU system-architecture pages. Machine prices are GCE on-demand list
 * prices for us-central1 as remembered at PRICES_AS_OF, not re-checked (this build has no network):
 * ⚠ check cloud.google.com/compute/gpus-pricing, /compute/vm-instance-pricing and /tpu/pricing.
 * Spot and flex-start cost less (flex-start: Dynamic Workload Scheduler prices, up to ~53% off).
 */
export const ACCELERATOR_SPECS: Readonly<Record<AcceleratorType, AcceleratorSpec>> = {
  'nvidia-l4': {
    type: 'nvidia-l4',
    family: 'gpu',
    name: 'NVIDIA L4 24 GB',
    // NVIDIA L4 datasheet: 24 GB GDDR6; nvidia-smi total 23,034 MiB.
    memoryBytes: 23_034 * MiB,
    machines: {
      1: { machineType: 'g2-standard-8', pricePerHour: 0.85 },
      2: { machineType: 'g2-standard-24', pricePerHour: 2.0 },
      4: { machineType: 'g2-standard-48', pricePerHour: 4.0 },
      8: { machineType: 'g2-standard-96', pricePerHour: 8.0 },
    },
    planned: true,
    notes: ['⚠ G2 prices remembered (g2-standard-4 ≈ $0.71/h, -8 ≈ $0.85/h, -24 ≈ $2.00/h)'],
  },
  'nvidia-tesla-a100': {
    type: 'nvidia-tesla-a100',
    family: 'gpu',
    name: 'NVIDIA A100 40 GB',
    // NVIDIA A100 datasheet: 40 GB HBM2 (SXM4 reports 40,960 MiB).
    memoryBytes: 40 * GiB,
    machines: {
      ...per((n) => `a2-highgpu-${n}g`, [1, 2, 4, 8], 3.67),
      16: { machineType: 'a2-megagpu-16g', pricePerHour: 55.74 },
    },
    planned: true,
    notes: ['⚠ a2-highgpu-1g ≈ $3.67/h'],
  },
  'nvidia-a100-80gb': {
    type: 'nvidia-a100-80gb',
    family: 'gpu',
    name: 'NVIDIA A100 80 GB',
    // NVIDIA A100 datasheet: 80 GB HBM2e (81,920 MiB).
    memoryBytes: 80 * GiB,
    machines: per((n) => `a2-ultragpu-${n}g`, [1, 2, 4, 8], 5.07),
    planned: true,
    notes: ['⚠ a2-ultragpu-1g ≈ $5.07/h'],
  },
  'nvidia-h100-80gb': {
    type: 'nvidia-h100-80gb',
    family: 'gpu',
    name: 'NVIDIA H100 80 GB',
    // NVIDIA H100 SXM datasheet: 80 GB HBM3; nvidia-smi total 81,559 MiB.
    memoryBytes: 81_559 * MiB,
    machines: per((n) => `a3-highgpu-${n}g`, [1, 2, 4, 8], 11.06),
    planned: true,
    notes: [
      '⚠ price = a3-highgpu-8g (≈ $88.5/h) ÷ 8 per GPU',
      '⚠ a3-highgpu-1g/2g/4g are offered through Spot, flex-start or reservations, not plain on-demand',
    ],
  },
  'nvidia-h200-141gb': {
    type: 'nvidia-h200-141gb',
    family: 'gpu',
    name: 'NVIDIA H200 141 GB',
    // NVIDIA H200 datasheet: 141 GB HBM3e; ⚠ nvidia-smi total reported as 143,771 MiB.
    memoryBytes: 143_771 * MiB,
    machines: { 8: { machineType: 'a3-ultragpu-8g', pricePerHour: 84.81 } },
    planned: true,
    notes: ['⚠ a3-ultragpu-8g on-demand price not verified', '⚠ device memory from nvidia-smi output, not a datasheet'],
  },
  'tpu-v5-lite-podslice': {
    type: 'tpu-v5-lite-podslice',
    family: 'tpu',
    name: 'TPU v5e 16 GB/chip',
    // Google Cloud TPU v5e system architecture: 16 GB HBM2 per chip.
    memoryBytes: 16 * GiB,
    machines: per((n) => `ct5lp-hightpu-${n}t`, [1, 4, 8], 1.2, tpuTopology),
    planned: true,
    notes: ['⚠ $1.20 per chip-hour on-demand; v5e is not offered in every region'],
  },
  'tpu-v6e-slice': {
    type: 'tpu-v6e-slice',
    family: 'tpu',
    name: 'TPU v6e (Trillium) 32 GB/chip',
    // Google Cloud TPU v6e system architecture: 32 GB HBM per chip.
    memoryBytes: 32 * GiB,
    machines: per((n) => `ct6e-standard-${n}t`, [1, 4, 8], 2.7, tpuTopology),
    planned: true,
    notes: ['⚠ $2.70 per chip-hour on-demand; v6e is not offered in every region'],
  },
  // Checked by checkFits when a request names them; not priced, so never recommended.
  'nvidia-tesla-t4': {
    type: 'nvidia-tesla-t4',
    family: 'gpu',
    name: 'NVIDIA T4 16 GB',
    // NVIDIA T4 datasheet: 16 GB GDDR6; nvidia-smi total 15,360 MiB.
    memoryBytes: 15_360 * MiB,
    machines: per((n) => `n1-standard-${n * 8}`, [1, 2, 4], null),
    planned: false,
    notes: ['N1 machine shape is a choice, not fixed by the GPU'],
  },
  'nvidia-tesla-v100': {
    type: 'nvidia-tesla-v100',
    family: 'gpu',
    name: 'NVIDIA V100 16 GB',
    // NVIDIA V100 datasheet: 16 GB HBM2 (the GCE V100).
    memoryBytes: 16 * GiB,
    machines: per((n) => `n1-standard-${n * 8}`, [1, 2, 4, 8], null),
    planned: false,
    notes: ['N1 machine shape is a choice, not fixed by the GPU'],
  },
  'nvidia-h100-mega-80gb': {
    type: 'nvidia-h100-mega-80gb',
    family: 'gpu',
    name: 'NVIDIA H100 Mega 80 GB',
    memoryBytes: 81_559 * MiB,
    machines: { 8: { machineType: 'a3-megagpu-8g', pricePerHour: null } },
    planned: false,
    notes: [],
  },
  'nvidia-b200': {
    type: 'nvidia-b200',
    family: 'gpu',
    name: 'NVIDIA B200 180 GB',
    // ⚠ GCE A4 documentation: 180 GB HBM3e per GPU.
    memoryBytes: 180 * GiB,
    machines: { 8: { machineType: 'a4-highgpu-8g', pricePerHour: null } },
    planned: false,
    notes: ['⚠ memory as published for A4, not measured'],
  },
  'nvidia-gb200': {
    type: 'nvidia-gb200',
    family: 'gpu',
    name: 'NVIDIA GB200 186 GB',
    // ⚠ GCE A4X documentation: 186 GB HBM3e per GPU.
    memoryBytes: 186 * GiB,
    machines: { 4: { machineType: 'a4x-highgpu-4g', pricePerHour: null } },
    planned: false,
    notes: ['⚠ memory as published for A4X, not measured'],
  },
  'nvidia-rtx-pro-6000': {
    type: 'nvidia-rtx-pro-6000',
    family: 'gpu',
    name: 'NVIDIA RTX PRO 6000 96 GB',
    // NVIDIA RTX PRO 6000 Blackwell Server Edition: 96 GB GDDR7.
    memoryBytes: 96 * GiB,
    machines: per((n) => `g4-standard-${n * 48}`, [1, 2, 4, 8], null),
    planned: false,
    notes: ['⚠ G4 machine names assumed g4-standard-{48,96,192,384}'],
  },
};

/** The accelerators `ferry plan` lists, in table order. */
export const PLANNED_ACCELERATORS: readonly AcceleratorType[] = [
  'nvidia-l4',
  'nvidia-tesla-a100',
  'nvidia-a100-80gb',
  'nvidia-h100-80gb',
  'nvidia-h200-141gb',
  'tpu-v5-lite-podslice',
  'tpu-v6e-slice',
];

/**
 * Memory ferry does not give to weights or KV cache, per device: for GPUs the CUDA context, NCCL and
 * cuBLAS workspaces, the activation peak vLLM measures in its profiling run and CUDA graphs (vLLM
 * logs typically show 1–2 GiB for 7–70B models at the default batch size); for TPUs the XLA runtime.
 * ⚠ estimates, not measurements.
 */
export const RUNTIME_OVERHEAD_BYTES: Readonly<Record<AcceleratorFamily, number>> = { gpu: 2 * GiB, tpu: 1 * GiB };
/** vLLM's default --gpu-memory-utilization (also used by vLLM TPU). */
export const DEFAULT_GPU_MEMORY_UTILIZATION = 0.9;
/** Tensor-parallel sizes vLLM can use on one node (power of two, up to 16). */
export const TP_CANDIDATES = [1, 2, 4, 8, 16] as const;

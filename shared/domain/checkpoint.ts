/**
 * Checkpoint rules (pure): a checkpoint is the files under a prefix. From the listing, the index and
 * config JSON and the parsed shard headers, decide whether vLLM can load it, and summarise it.
 *
 * Flow used by the `validateCheckpoint` use case (each step pure, I/O in between):
 *   listing → relativeFiles → sideFilesToRead (index/config) → parseIndex → shardsToRead
 *           → parseShardHeader per shard → evaluateCheckpoint
 *
 * This file: the file names, limits, the summary schema and the listing steps. The side files
 * (shard names, index, config.json) are checkpoint-files.ts; the verdict is checkpoint-evaluation.ts.
 */
import { z } from 'zod';
import type { ParsedIndex } from './checkpoint-files.ts';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
export const CONFIG_FILE = 'config.json';
/** Any of these makes a tokenizer usable by vLLM (fast, sentencepiece, Mistral tekken, BPE/WordPiece vocabularies). */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer.model',
  'tekken.json',
  'spiece.model',
  'sentencepiece.bpe.model',
  'vocab.json',
  'vocab.txt',
] as const;
/**
 * Side files are read whole, and parsing JSON costs several times its size in memory, so above these
 * sizes they are refused from the listing's size, before any byte is read (issue #23; the function
 * has 512 MiB). The index: the largest real ones are ~13.4 MB (a Kimi-K2-shaped index: 139,583
 * tensors over 62 shards, written `json.dumps(index, indent=2)` as huggingface_hub does) and ~8.8 MB
 * (DeepSeek-V3-shaped: 91,985 tensors); 25,000,000 bytes keeps 1.9× over the former, and the densest
 * admitted index (short names, ~1M tensors) costs about what the densest admitted header does
 * (BENCHMARKS.md "Peak memory of the largest legal headers"). Above it: INDEX_TOO_LARGE_TO_VALIDATE.
 * config.json files are kilobytes; 4,000,000 bytes (the header cap) is far above any real one.
 */
export const MAX_INDEX_BYTES = 25_000_000;
export const MAX_CONFIG_BYTES = 4_000_000;
/** At most this many checkpoint-level findings per code (then one FINDINGS_TRUNCATED warning). */
export const MAX_FINDINGS_PER_CODE = 50;
/** huggingface.js refuses more shards than this; so do we. */
export const MAX_SHARDS = 10_000;

/** huggingface.js' shard-name pattern (parse-safetensors-metadata.ts). */
export const SHARD_NAME_PATTERN = /^(?<prefix>(?<basePrefix>.*?)[_-])(?<shard>\d{5,6})-of-(?<total>\d{5,6})\.safetensors$/;

/** A file of the checkpoint; `name` is relative to the checkpoint prefix. */
export interface CheckpointFile {
  name: string;
  size: number;
  generation: string;
}

export const LAYOUTS = ['single', 'sharded', 'none'] as const;
export type Layout = (typeof LAYOUTS)[number];

export const ModelConfigSummary = z.object({
  architectures: z.array(z.string()),
  modelType: z.string().nullable(),
  numLayers: z.number().nullable(),
  hiddenSize: z.number().nullable(),
  numHeads: z.number().nullable(),
  numKvHeads: z.number().nullable(),
  headDim: z.number().nullable(),
  intermediateSize: z.number().nullable(),
  vocabSize: z.number().nullable(),
  maxPositionEmbeddings: z.number().nullable(),
  torchDtype: z.string().nullable(),
  /** `quantization_config.quant_method` (gptq, awq, fp8, bitsandbytes, mxfp4, …). */
  quantization: z.string().nullable(),
  tieWordEmbeddings: z.boolean().nullable(),
});
export type ModelConfigSummary = z.infer<typeof ModelConfigSummary>;

export const CheckpointSummary = z.object({
  layout: z.enum(LAYOUTS),
  /** Shard files examined (referenced by the index and present, or `model.safetensors`). */
  shards: z.number(),
  tensors: z.number(),
  /** Σ Π shape over every tensor (scalars count 1; no quantization unpacking). */
  parameters: z.number(),
  parametersByDtype: z.record(z.string(), z.number()),
  /** Σ (end − begin): bytes of tensor data. */
  tensorBytes: z.number(),
  /** Dtypes present, in the reference enum's order. */
  dtypes: z.array(z.string()),
  /** Σ (8 + N): what a header-only reader has to fetch. */
  headerBytes: z.number(),
  /** Σ shard file sizes. */
  shardBytes: z.number(),
  config: ModelConfigSummary.nullable(),
});
export type CheckpointSummary = z.infer<typeof CheckpointSummary>;

// ───────────────────────────── listing ─────────────────────────────

/** `''` stays `''` (bucket or directory root); anything else gets exactly one trailing `/`. */
export function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, '');
  return p === '' || p.endsWith('/') ? p : `${p}/`;
}

/** Objects under `prefix` as checkpoint files with names relative to it (folder placeholders dropped). */
export function relativeFiles(objects: ReadonlyArray<{ name: string; size: number; generation: string }>, prefix: string): CheckpointFile[] {
  const p = normalizePrefix(prefix);
  const out: CheckpointFile[] = [];
  for (const o of objects) {
    if (!o.name.startsWith(p)) continue;
    const name = o.name.slice(p.length);
    if (name === '' || name.endsWith('/')) continue;
    out.push({ name, size: o.size, generation: o.generation });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export const isTopLevel = (name: string): boolean => !name.includes('/');
export const isSafetensors = (name: string): boolean => name.endsWith('.safetensors');

export function detectLayout(files: readonly CheckpointFile[]): Layout {
  if (files.some((f) => f.name === INDEX_FILE)) return 'sharded';
  if (files.some((f) => f.name === SINGLE_FILE)) return 'single';
  return 'none';
}

/** The JSON side files to read whole (present and not too large). */
export function sideFilesToRead(files: readonly CheckpointFile[]): { index?: CheckpointFile; config?: CheckpointFile } {
  const index = files.find((f) => f.name === INDEX_FILE && f.size <= MAX_INDEX_BYTES);
  const config = files.find((f) => f.name === CONFIG_FILE && f.size <= MAX_CONFIG_BYTES);
  return { ...(index ? { index } : {}), ...(config ? { config } : {}) };
}

/**
 * Shard files whose headers should be read. With a usable index: the safe shard names it references
 * that exist. With `model.safetensors` alone: that file. Otherwise (no weights layout, unusable index)
 * every top-level `.safetensors` file, so their own faults are reported in the same pass.
 */
export function shardsToRead(files: readonly CheckpointFile[], index?: ParsedIndex): CheckpointFile[] {
  const byName = new Map(files.map((f) => [f.name, f]));
  const layout = detectLayout(files);
  if (layout === 'single') return [byName.get(SINGLE_FILE)!];
  if (layout === 'sharded' && index && index.weightMap.size > 0) {
    return index.shardNames.flatMap((n) => {
      const f = byName.get(n);
      return f ? [f] : [];
    });
  }
  return files.filter((f) => isTopLevel(f.name) && isSafetensors(f.name)).slice(0, MAX_SHARDS);
}

/**
 * An upper estimate of a shard's 8 + N header bytes from the index alone (its tensor names are
 * known; each entry's dtype/shape/offsets take at most ~128 bytes), so a header with thousands of
 * tensors (large MoE checkpoints) is still read in one request. Undefined without an index.
 */
export function predictHeaderBytes(index: ParsedIndex | undefined, shard: string): number | undefined {
  if (!index) return undefined;
  const perShard = index.predictedHeaderBytes.get(shard);
  return perShard === undefined ? undefined : 8 + 1024 + perShard;
}

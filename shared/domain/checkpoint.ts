/**
 * Checkpoint rules (pure): a checkpoint is the files under a prefix. From the listing, the index and
 * config JSON and the parsed shard headers, decide whether vLLM can load it, and summarise it.
 *
 * Flow used by the `validateCheckpoint` use case (each step pure, I/O in between):
 *   listing → relativeFiles → sideFilesToRead (index/config) → parseIndex → shardsToRead
 *           → parseShardHeader per shard → evaluateCheckpoint
 */
import { z } from 'zod';
import { error, warning, hasErrors, type Finding, type FindingCode } from './findings.ts';
import { DTYPES, type ParsedShardHeader } from './safetensors-format.ts';

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
/** Side files are read whole; above these sizes they are refused rather than buffered. */
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
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
export function relativeFiles(
  objects: ReadonlyArray<{ name: string; size: number; generation: string }>,
  prefix: string,
): CheckpointFile[] {
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

const isTopLevel = (name: string): boolean => !name.includes('/');
const isSafetensors = (name: string): boolean => name.endsWith('.safetensors');

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

// ───────────────────────────── shard names ─────────────────────────────

/** Why a shard name from an index is unsafe to resolve under the prefix, or undefined when it is safe. */
export function unsafeShardName(name: string): string | undefined {
  if (name === '') return 'it is empty';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains control characters';
  if (name.includes('://')) return 'it is a URL';
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(name)) return 'it starts with a scheme or drive letter';
  if (name.startsWith('/') || name.startsWith('\\')) return 'it is an absolute path';
  if (name.includes('\\')) return 'it contains a backslash';
  const segments = name.split('/');
  if (segments.includes('..')) return "it contains a '..' segment";
  if (segments.includes('.') || segments.includes('')) return "it contains an empty or '.' path segment";
  return undefined;
}

export interface ShardNameParts {
  prefix: string;
  shard: number;
  total: number;
}

export function parseShardName(name: string): ShardNameParts | undefined {
  const m = SHARD_NAME_PATTERN.exec(name);
  if (!m?.groups) return undefined;
  return { prefix: m.groups['prefix']!, shard: Number(m.groups['shard']), total: Number(m.groups['total']) };
}

/** `-NNNNN-of-MMMMM` consistency of a set of shard names (no findings when none use the pattern). */
export function checkShardNames(names: readonly string[], file = INDEX_FILE): Finding[] {
  const parsed = names.map((n) => ({ name: n, parts: parseShardName(n) }));
  const numbered = parsed.filter((p) => p.parts !== undefined);
  if (numbered.length === 0) return [];
  const findings: Finding[] = [];
  const bad = (message: string) => findings.push(error('SHARD_NAMES_INCONSISTENT', file, message));
  const plain = parsed.filter((p) => p.parts === undefined).map((p) => p.name);
  if (plain.length > 0) bad(`shards mix -NNNNN-of-MMMMM names with other names: ${list(plain)}`);
  const prefixes = new Set(numbered.map((p) => p.parts!.prefix));
  if (prefixes.size > 1) bad(`shard names use different prefixes: ${list([...prefixes])}`);
  const totals = new Set(numbered.map((p) => p.parts!.total));
  if (totals.size > 1) {
    bad(`shard names disagree on the shard count: -of-${[...totals].map(pad).join(', -of-')}`);
    return findings;
  }
  const total = [...totals][0]!;
  const seen = new Map<number, string>();
  for (const { name, parts } of numbered) {
    if (parts!.shard < 1 || parts!.shard > total) bad(`"${name}" is shard ${parts!.shard} of ${total}, out of range`);
    const other = seen.get(parts!.shard);
    if (other !== undefined) bad(`"${other}" and "${name}" both claim to be shard ${parts!.shard}`);
    seen.set(parts!.shard, name);
  }
  const missing: number[] = [];
  for (let k = 1; k <= total && missing.length <= 20; k++) if (!seen.has(k)) missing.push(k);
  if (missing.length > 0 && prefixes.size === 1) {
    bad(
      `names say there are ${total} shards, but ${missing.map(pad).join(', ')}${missing.length > 20 ? ', …' : ''} ${missing.length === 1 ? 'is' : 'are'} not named by the index`,
    );
  }
  return findings;
}

const pad = (n: number): string => String(n).padStart(5, '0');

// ───────────────────────────── index ─────────────────────────────

export interface ParsedIndex {
  /** No error findings. */
  ok: boolean;
  findings: Finding[];
  /** tensor → shard name as written (including unsafe names, which are also listed below). */
  weightMap: Map<string, string>;
  /** Distinct safe `.safetensors` shard names the index references, in first-seen order. */
  shardNames: string[];
  unsafeShardNames: string[];
  totalSize: number | undefined;
  totalParameters: number | undefined;
  /** Per shard: Σ over its tensors of (quoted name length + 128), see predictHeaderBytes. */
  predictedHeaderBytes: Map<string, number>;
}

/** Parses `model.safetensors.index.json` text: `{metadata?: {total_size?, total_parameters?}, weight_map}`. */
export function parseIndex(content: string | Uint8Array, file = INDEX_FILE): ParsedIndex {
  const out: ParsedIndex = {
    ok: false,
    findings: [],
    weightMap: new Map(),
    shardNames: [],
    unsafeShardNames: [],
    totalSize: undefined,
    totalParameters: undefined,
    predictedHeaderBytes: new Map(),
  };
  const text = decodeUtf8(content);
  if (text === undefined) {
    out.findings.push(error('INDEX_INVALID_JSON', file, 'the index is not valid UTF-8'));
    return out;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    out.findings.push(error('INDEX_INVALID_JSON', file, `the index is not valid JSON: ${(e as Error).message}`));
    return out;
  }
  if (!isRecord(json)) {
    out.findings.push(error('INDEX_INVALID', file, `the index must be a JSON object with "weight_map", but it is ${kind(json)}`));
    return out;
  }
  const wm = json['weight_map'];
  if (!isRecord(wm)) {
    out.findings.push(
      error('INDEX_INVALID', file, wm === undefined ? 'the index has no "weight_map"' : `"weight_map" must be an object of tensor → shard file, but it is ${kind(wm)}`),
    );
    return out;
  }
  const safe = new Set<string>();
  const unsafe = new Set<string>();
  for (const [tensor, shard] of Object.entries(wm)) {
    if (typeof shard !== 'string') {
      out.findings.push(error('INDEX_INVALID', file, `weight_map maps the tensor to ${kind(shard)}, not a shard file name`, tensor));
      continue;
    }
    out.weightMap.set(tensor, shard);
    out.predictedHeaderBytes.set(shard, (out.predictedHeaderBytes.get(shard) ?? 0) + utf8Length(tensor) + 2 + 128);
    if (safe.has(shard) || unsafe.has(shard)) continue;
    const why = unsafeShardName(shard);
    if (why !== undefined) {
      unsafe.add(shard);
      out.findings.push(error('SHARD_NAME_UNSAFE', file, `weight_map names the shard "${clip(shard)}", which is refused because ${why}`, tensor));
    } else if (!isSafetensors(shard)) {
      unsafe.add(shard);
      out.findings.push(error('INDEX_INVALID', file, `weight_map names "${clip(shard)}", which is not a .safetensors file`, tensor));
    } else {
      safe.add(shard);
    }
  }
  if (Object.keys(wm).length === 0) out.findings.push(error('INDEX_INVALID', file, '"weight_map" is empty'));
  if (safe.size > MAX_SHARDS) {
    out.findings.push(error('INDEX_INVALID', file, `the index names ${safe.size} shards; more than ${MAX_SHARDS} are refused`));
  }
  out.shardNames = [...safe].slice(0, MAX_SHARDS);
  out.unsafeShardNames = [...unsafe];

  const meta = json['metadata'];
  if (meta !== undefined && meta !== null && !isRecord(meta)) {
    out.findings.push(error('INDEX_INVALID', file, `"metadata" must be an object, but it is ${kind(meta)}`));
  } else if (isRecord(meta)) {
    const ts = meta['total_size'];
    if (isCount(ts)) out.totalSize = ts;
    else if (ts !== undefined && ts !== null) {
      out.findings.push(
        warning('INDEX_TOTAL_SIZE_MISMATCH', file, `metadata.total_size must be a non-negative integer, but it is ${kind(ts)}; it is ignored`),
      );
    }
    const tp = meta['total_parameters'];
    if (isCount(tp)) out.totalParameters = tp;
  }
  out.findings.push(...checkShardNames([...safe], file));
  out.ok = !hasErrors(out.findings);
  return out;
}

// ───────────────────────────── config ─────────────────────────────

export interface ParsedConfig {
  config: ModelConfigSummary | null;
  findings: Finding[];
}

/** Parses `config.json`: a JSON object with `architectures` (non-empty list of strings) and `model_type`. */
export function parseConfig(content: string | Uint8Array, file = CONFIG_FILE): ParsedConfig {
  const text = decodeUtf8(content);
  if (text === undefined) return { config: null, findings: [error('CONFIG_INVALID', file, 'config.json is not valid UTF-8')] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // Python's json (which transformers uses) also accepts NaN/Infinity; retry with them nulled.
    try {
      json = JSON.parse(text.replace(/-?\b(?:NaN|Infinity)\b/g, 'null'));
    } catch {
      return { config: null, findings: [error('CONFIG_INVALID', file, `config.json is not valid JSON: ${(e as Error).message}`)] };
    }
  }
  if (!isRecord(json)) {
    return { config: null, findings: [error('CONFIG_INVALID', file, `config.json must be a JSON object, but it is ${kind(json)}`)] };
  }
  const findings: Finding[] = [];
  const archs = json['architectures'];
  const archOk = Array.isArray(archs) && archs.length > 0 && archs.every((a) => typeof a === 'string' && a !== '');
  if (!archOk) {
    findings.push(
      error(
        'CONFIG_INVALID',
        file,
        archs === undefined
          ? 'config.json has no "architectures"; vLLM picks the model class from it'
          : `"architectures" must be a non-empty list of class names, but it is ${kind(archs)}`,
      ),
    );
  }
  const modelType = json['model_type'];
  if (typeof modelType !== 'string' || modelType === '') {
    findings.push(
      error(
        'CONFIG_INVALID',
        file,
        modelType === undefined ? 'config.json has no "model_type"' : `"model_type" must be a non-empty string, but it is ${kind(modelType)}`,
      ),
    );
  }
  return { config: summariseConfig(json), findings };
}

/** What config.json says about the model's size; text_config/llm_config are used for multimodal configs. */
export function summariseConfig(json: Record<string, unknown>): ModelConfigSummary {
  const nested = [json['text_config'], json['llm_config'], json['language_config']].filter(isRecord);
  const scopes = [json, ...nested];
  const num = (...keys: string[]): number | null => {
    for (const s of scopes) for (const k of keys) if (isCount(s[k])) return s[k];
    return null;
  };
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const archs = json['architectures'];
  const quant = json['quantization_config'];
  const tie = json['tie_word_embeddings'];
  return {
    architectures: Array.isArray(archs) ? archs.filter((a): a is string => typeof a === 'string') : [],
    modelType: str(json['model_type']),
    numLayers: num('num_hidden_layers', 'n_layer', 'num_layers', 'n_layers'),
    hiddenSize: num('hidden_size', 'n_embd', 'd_model'),
    numHeads: num('num_attention_heads', 'n_head', 'num_heads', 'n_heads'),
    numKvHeads: num('num_key_value_heads', 'num_kv_heads', 'n_head_kv', 'multi_query_group_num', 'n_kv_heads'),
    headDim: num('head_dim'),
    intermediateSize: num('intermediate_size', 'ffn_hidden_size', 'n_inner'),
    vocabSize: num('vocab_size', 'padded_vocab_size'),
    maxPositionEmbeddings: num('max_position_embeddings', 'n_positions', 'seq_length', 'max_seq_len'),
    torchDtype: str(json['torch_dtype']) ?? str(json['dtype']) ?? nested.map((n) => str(n['torch_dtype']) ?? str(n['dtype'])).find((d) => d !== null) ?? null,
    quantization: isRecord(quant) ? str(quant['quant_method']) : null,
    tieWordEmbeddings: typeof tie === 'boolean' ? tie : null,
  };
}

// ───────────────────────────── the checkpoint ─────────────────────────────

export interface ShardHeaderInput {
  /** Relative name of the shard. */
  file: string;
  size: number;
  header: ParsedShardHeader;
}

export interface CheckpointInput {
  files: readonly CheckpointFile[];
  /** The parsed index, when the layout is sharded and the index was read. */
  index?: ParsedIndex | undefined;
  /** config.json content, when present and read. */
  config?: string | Uint8Array | undefined;
  /** Parsed headers of the shards returned by `shardsToRead`. */
  shards: readonly ShardHeaderInput[];
}

export interface CheckpointEvaluation {
  ok: boolean;
  findings: Finding[];
  summary: CheckpointSummary;
}

/** Every checkpoint-level rule plus the shards' own findings, and the derived summary. */
export function evaluateCheckpoint(input: CheckpointInput): CheckpointEvaluation {
  const { files, index, shards } = input;
  const byName = new Map(files.map((f) => [f.name, f]));
  const layout = detectLayout(files);
  const findings: Finding[] = [];
  const topSafetensors = files.filter((f) => isTopLevel(f.name) && isSafetensors(f.name)).map((f) => f.name);

  // Layout.
  if (layout === 'none') {
    const numbered = topSafetensors.filter((n) => parseShardName(n) !== undefined);
    if (numbered.length > 0) {
      findings.push(
        error('INDEX_MISSING', INDEX_FILE, `found sharded weights (${list(numbered)}) but no ${INDEX_FILE} that maps tensors to them`),
      );
    } else {
      findings.push(
        error(
          'WEIGHTS_MISSING',
          SINGLE_FILE,
          topSafetensors.length > 0
            ? `neither ${SINGLE_FILE} nor ${INDEX_FILE} is present (found ${list(topSafetensors)})`
            : `no weights: neither ${SINGLE_FILE} nor ${INDEX_FILE} is present`,
        ),
      );
    }
  } else if (layout === 'single') {
    for (const n of topSafetensors.filter((n) => n !== SINGLE_FILE)) {
      findings.push(
        warning(
          'SHARD_NOT_IN_INDEX',
          n,
          `there is no index, so vLLM will also load this file next to ${SINGLE_FILE}; remove it unless it belongs to the model`,
        ),
      );
    }
  }

  // Index.
  const sharded = layout === 'sharded';
  const indexFile = byName.get(INDEX_FILE);
  if (sharded && indexFile && indexFile.size > MAX_INDEX_BYTES) {
    findings.push(error('FILE_TOO_LARGE', INDEX_FILE, `the index is ${indexFile.size} bytes; more than ${MAX_INDEX_BYTES} are refused`));
  }
  const usableIndex = sharded && index !== undefined && index.weightMap.size > 0 ? index : undefined;
  if (sharded && index) findings.push(...index.findings);
  if (usableIndex) {
    const referenced = new Set(usableIndex.shardNames);
    const counts = new Map<string, number>();
    for (const s of usableIndex.weightMap.values()) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const s of usableIndex.shardNames) {
      if (!byName.has(s)) {
        const k = counts.get(s) ?? 0;
        findings.push(
          error('SHARD_MISSING', s, `the index maps ${k} tensor${k === 1 ? '' : 's'} to this shard, but it is not in the checkpoint`),
        );
      }
    }
    for (const n of topSafetensors) {
      if (!referenced.has(n)) {
        findings.push(
          warning('SHARD_NOT_IN_INDEX', n, `the index does not reference this file, so vLLM will not load it; remove it or fix the index`),
        );
      }
    }
  }

  // Shards' own findings.
  for (const s of shards) findings.push(...s.header.findings);

  // Cross-shard consistency.
  const namesByShard = new Map<string, ReadonlySet<string>>();
  for (const s of shards) if (s.header.tensorNames) namesByShard.set(s.file, new Set(s.header.tensorNames));
  const holders = new Map<string, string[]>();
  for (const s of shards) {
    for (const t of s.header.tensorNames ?? []) {
      const h = holders.get(t);
      if (h) h.push(s.file);
      else holders.set(t, [s.file]);
    }
  }
  for (const [tensor, files] of holders) {
    if (files.length > 1) {
      const mapped = usableIndex?.weightMap.get(tensor);
      const extra = files.find((f) => f !== mapped && f !== files[0]) ?? files[1]!;
      findings.push(error('TENSOR_IN_MULTIPLE_SHARDS', extra, `the tensor is stored in ${files.length} shards: ${list(files)}`, tensor));
    }
  }
  if (usableIndex) {
    for (const [tensor, shard] of usableIndex.weightMap) {
      const names = namesByShard.get(shard);
      if (names === undefined || names.has(tensor)) continue; // missing/unsafe/unreadable shards are reported already
      const elsewhere = (holders.get(tensor) ?? []).filter((f) => f !== shard);
      if (elsewhere.length > 0) {
        findings.push(
          error('INDEX_WRONG_SHARD', INDEX_FILE, `the index maps the tensor to ${shard}, but it is stored in ${list(elsewhere)}`, tensor),
        );
      } else {
        findings.push(
          error('INDEX_TENSOR_NOT_FOUND', INDEX_FILE, `the index maps the tensor to ${shard}, but no shard holds it`, tensor),
        );
      }
    }
    for (const s of shards) {
      for (const t of s.header.tensorNames ?? []) {
        if (!usableIndex.weightMap.has(t)) {
          findings.push(error('TENSOR_NOT_IN_INDEX', s.file, `the shard holds this tensor, but the index does not map it`, t));
        }
      }
    }
  }

  // Summary.
  const summary = summarise(layout, shards);
  const allShardsClean = shards.length > 0 && shards.every((s) => s.header.ok);
  const complete = allShardsClean && (!usableIndex || usableIndex.shardNames.every((n) => byName.has(n)));
  if (complete && summary.tensors === 0) findings.push(error('NO_TENSORS', shards[0]!.file, 'the checkpoint holds no tensors'));
  if (complete && usableIndex?.totalSize !== undefined && usableIndex.totalSize !== summary.tensorBytes) {
    const ts = usableIndex.totalSize;
    if (ts === summary.shardBytes) {
      findings.push(
        warning(
          'INDEX_TOTAL_SIZE_MISMATCH',
          INDEX_FILE,
          `metadata.total_size is ${ts}, the sum of the shard file sizes; it should be the ${summary.tensorBytes} bytes of tensor data (some tools write file sizes)`,
        ),
      );
    } else {
      findings.push(
        error(
          'INDEX_TOTAL_SIZE_MISMATCH',
          INDEX_FILE,
          `metadata.total_size is ${ts}, but the shards' tensors hold ${summary.tensorBytes} bytes (difference ${ts - summary.tensorBytes}); the index does not describe these shards`,
        ),
      );
    }
  }
  if (complete && usableIndex?.totalParameters !== undefined && usableIndex.totalParameters !== summary.parameters) {
    findings.push(
      warning(
        'INDEX_TOTAL_PARAMETERS_MISMATCH',
        INDEX_FILE,
        `metadata.total_parameters is ${usableIndex.totalParameters}, but the tensors hold ${summary.parameters} elements (expected for packed/quantized weights)`,
      ),
    );
  }

  // config.json.
  const configFile = byName.get(CONFIG_FILE);
  let config: ModelConfigSummary | null = null;
  if (!configFile) {
    findings.push(error('CONFIG_MISSING', CONFIG_FILE, 'config.json is missing; vLLM needs it to know the architecture'));
  } else if (configFile.size > MAX_CONFIG_BYTES) {
    findings.push(error('FILE_TOO_LARGE', CONFIG_FILE, `config.json is ${configFile.size} bytes; more than ${MAX_CONFIG_BYTES} are refused`));
  } else if (input.config !== undefined) {
    const parsed = parseConfig(input.config);
    findings.push(...parsed.findings);
    config = parsed.config;
  }

  // Tokenizer.
  if (!TOKENIZER_FILES.some((t) => byName.has(t))) {
    findings.push(
      warning(
        'TOKENIZER_MISSING',
        'tokenizer.json',
        'no tokenizer files (tokenizer.json or tokenizer.model); vLLM will need --tokenizer pointing elsewhere',
      ),
    );
  }

  const capped = capPerCode(findings);
  return { ok: !hasErrors(capped), findings: capped, summary: { ...summary, config } };
}

function summarise(layout: Layout, shards: readonly ShardHeaderInput[]): CheckpointSummary {
  let tensors = 0;
  let parameters = 0n;
  let tensorBytes = 0n;
  let headerBytes = 0;
  let shardBytes = 0;
  const byDtype = new Map<string, bigint>();
  for (const s of shards) {
    shardBytes += s.size;
    if (s.header.headerBytes > 0 || s.header.tensorNames !== null) headerBytes += 8 + s.header.headerBytes;
    for (const t of s.header.tensors) {
      tensors++;
      parameters += t.numel;
      if (t.end >= t.begin) tensorBytes += t.end - t.begin;
      byDtype.set(t.dtype, (byDtype.get(t.dtype) ?? 0n) + t.numel);
    }
  }
  const dtypes = DTYPES.map((d) => d.name as string).filter((d) => byDtype.has(d));
  return {
    layout,
    shards: shards.length,
    tensors,
    parameters: Number(parameters),
    parametersByDtype: Object.fromEntries(dtypes.map((d) => [d, Number(byDtype.get(d)!)])),
    tensorBytes: Number(tensorBytes),
    dtypes,
    headerBytes,
    shardBytes,
    config: null,
  };
}

function capPerCode(findings: Finding[]): Finding[] {
  const counts = new Map<FindingCode, number>();
  const out: Finding[] = [];
  const dropped: Finding[] = [];
  for (const f of findings) {
    const c = (counts.get(f.code) ?? 0) + 1;
    counts.set(f.code, c);
    if (c <= MAX_FINDINGS_PER_CODE || f.code === 'FINDINGS_TRUNCATED') out.push(f);
    else dropped.push(f);
  }
  if (dropped.length > 0) {
    const codes = [...new Set(dropped.map((f) => f.code))];
    out.push(
      warning(
        'FINDINGS_TRUNCATED',
        dropped[0]!.file,
        `${dropped.length} more findings (${codes.join(', ')}) are not listed; at most ${MAX_FINDINGS_PER_CODE} are shown per code`,
      ),
    );
  }
  return out;
}

// ───────────────────────────── helpers ─────────────────────────────

/** UTF-8 text of a JSON file, or undefined if invalid. A BOM is kept, so JSON parsing rejects it as Python's json does. */
function decodeUtf8(content: string | Uint8Array): string | undefined {
  if (typeof content === 'string') return content;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(content);
  } catch {
    return undefined;
  }
}

function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) n += c > 0x7ff && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const clip = (s: string, max = 80): string => (s.length > max ? `${s.slice(0, max)}…` : s);

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string "${clip(v, 40)}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return `a${typeof v === 'object' ? 'n' : ''} ${typeof v}`;
}

function list(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

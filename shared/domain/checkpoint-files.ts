/**
 * A checkpoint's side files, pure: shard file names (`model-00001-of-00004.safetensors`), the
 * index (`model.safetensors.index.json`: which tensor lives in which shard) and `config.json`
 * (summarised for sizing), each parsed strictly with findings instead of exceptions.
 */
import { error, warning, hasErrors, type Finding } from './findings.ts';
import { CONFIG_FILE, INDEX_FILE, MAX_SHARDS, ModelConfigSummary, SHARD_NAME_PATTERN, isSafetensors } from './checkpoint.ts';

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
      error(
        'INDEX_INVALID',
        file,
        wm === undefined ? 'the index has no "weight_map"' : `"weight_map" must be an object of tensor → shard file, but it is ${kind(wm)}`,
      ),
    );
    return out;
  }
  const safe = new Set<string>();
  const unsafe = new Set<string>();
  let entries = 0;
  // for…in, not Object.entries: an index may hold ~10⁶ entries, and a pair array per entry would
  // add ~60 bytes each to the parse's peak (BENCHMARKS.md "Peak memory of the largest legal headers").
  for (const tensor in wm) {
    if (!Object.hasOwn(wm, tensor)) continue;
    const shard = wm[tensor];
    entries++;
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
  if (entries === 0) out.findings.push(error('INDEX_INVALID', file, '"weight_map" is empty'));
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
      out.findings.push(warning('INDEX_TOTAL_SIZE_MISMATCH', file, `metadata.total_size must be a non-negative integer, but it is ${kind(ts)}; it is ignored`));
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

export function list(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

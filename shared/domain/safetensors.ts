/**
 * Header-only safetensors validation (pure). Given the first bytes of a file and the file's size, it
 * applies every rule the reference reader (huggingface/safetensors `read_metadata` +
 * `Metadata::validate`) enforces, without touching tensor bytes:
 *
 *   [0,8) u64 LE header length N · [8,8+N) UTF-8 JSON object · [8+N, EOF) tensor bytes
 *
 * The JSON parser is our own (not `JSON.parse`) so that it sees what serde_json sees: integers are
 * kept as source text (exact u64, no float rounding; `1.0`, `1e2` and `-0` are not integers),
 * duplicate keys are visible, nesting is capped at serde_json's recursion limit (127) and escaped
 * lone surrogates are rejected. It allocates at most in proportion to the header it is given.
 */
import { z } from 'zod';
import { error, warning, type Finding, type FindingCode } from './findings.ts';

/** The reference `Dtype` enum (safetensors ≥ 0.8), in its order, with bits per element. */
export const DTYPES = [
  { name: 'BOOL', bits: 8 },
  { name: 'F4', bits: 4 },
  { name: 'F6_E2M3', bits: 6 },
  { name: 'F6_E3M2', bits: 6 },
  { name: 'U8', bits: 8 },
  { name: 'I8', bits: 8 },
  { name: 'F8_E5M2', bits: 8 },
  { name: 'F8_E4M3', bits: 8 },
  { name: 'F8_E8M0', bits: 8 },
  { name: 'F8_E4M3FNUZ', bits: 8 },
  { name: 'F8_E5M2FNUZ', bits: 8 },
  { name: 'I16', bits: 16 },
  { name: 'U16', bits: 16 },
  { name: 'F16', bits: 16 },
  { name: 'BF16', bits: 16 },
  { name: 'I32', bits: 32 },
  { name: 'U32', bits: 32 },
  { name: 'F32', bits: 32 },
  { name: 'C64', bits: 64 },
  { name: 'F64', bits: 64 },
  { name: 'I64', bits: 64 },
  { name: 'U64', bits: 64 },
] as const;

export type Dtype = (typeof DTYPES)[number]['name'];
export const DTYPE_NAMES = DTYPES.map((d) => d.name) as unknown as readonly [Dtype, ...Dtype[]];
export const DtypeSchema = z.enum(DTYPE_NAMES);
const DTYPE_BITS: ReadonlyMap<string, number> = new Map(DTYPES.map((d) => [d.name, d.bits]));

/** Bits per element of a dtype, or undefined for a string that is not a dtype. */
export const dtypeBits = (dtype: string): number | undefined => DTYPE_BITS.get(dtype);

/** `MAX_HEADER_SIZE` of the reference reader: 100 MB, decimal. */
export const MAX_HEADER_SIZE = 100_000_000;
/** The u64 header length prefix. */
export const LENGTH_PREFIX_BYTES = 8;
/** serde_json's recursion limit: a 128th nested container is an error. */
export const MAX_JSON_DEPTH = 127;
/** Findings reported per file at most (a broken header with 100k tensors would otherwise flood). */
export const MAX_FINDINGS_PER_FILE = 100;

const U64_MAX = (1n << 64n) - 1n;
const LFS_SIGNATURES = ['version https://git-lfs.github.com/spec/', 'version https://hawser.github.com/spec/'];
const LFS_PROBE_BYTES = 40;

/** One tensor as declared in a header. Integers are exact (u64 in the format). */
export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: bigint[];
  /** Offsets relative to the start of the byte buffer (after the header); `end` is exclusive. */
  begin: bigint;
  end: bigint;
  /** Π shape (1 for a scalar). */
  numel: bigint;
}

/** The prefix does not reach the end of the header yet: read bytes [0, needMoreBytes). */
export interface NeedMoreBytes {
  needMoreBytes: number;
}

export interface ParsedShardHeader {
  ok: boolean;
  findings: Finding[];
  /** Tensors whose entries deserialized (possibly with offset/size findings); last entry wins on duplicates. */
  tensors: TensorEntry[];
  /**
   * Every tensor name the header declares (including entries with invalid fields), or null when the
   * header could not be read as a JSON object. Checkpoint rules use it to cross-check the index.
   */
  tensorNames: string[] | null;
  /** N, the JSON header length (0 when the length itself could not be used). */
  headerBytes: number;
  metadata: Record<string, string> | null;
}

export type ShardHeaderResult = NeedMoreBytes | ParsedShardHeader;

export const needsMoreBytes = (r: ShardHeaderResult): r is NeedMoreBytes => 'needMoreBytes' in r;

/**
 * Validates one safetensors file from a prefix of its bytes and its size. Returns `{needMoreBytes}`
 * when the prefix does not cover what is needed yet (never more than `min(fileSize, 8 + 100 MB)`),
 * otherwise the verdict. Never throws for any input bytes.
 */
export function parseShardHeader(prefix: Uint8Array, fileSize: number, file: string): ShardHeaderResult {
  const have = Math.min(prefix.length, fileSize);
  const fail = (code: FindingCode, message: string, headerBytes = 0): ParsedShardHeader => ({
    ok: false,
    findings: [error(code, file, message)],
    tensors: [],
    tensorNames: null,
    headerBytes,
    metadata: null,
  });

  if (fileSize >= LFS_PROBE_BYTES) {
    // Only ask for the 40-byte probe while what we have could still be the start of a pointer.
    if (have < LFS_PROBE_BYTES && couldBeLfs(prefix.subarray(0, have))) return { needMoreBytes: LFS_PROBE_BYTES };
    const lfs = have >= LFS_PROBE_BYTES ? lfsPointer(prefix.subarray(0, have), fileSize) : undefined;
    if (lfs !== undefined) return fail('GIT_LFS_POINTER', lfs);
  }

  if (fileSize < LENGTH_PREFIX_BYTES) {
    return fail(
      'HEADER_TOO_SMALL',
      `file is ${fileSize} bytes; a safetensors file starts with an 8-byte header length, so it cannot be a safetensors file`,
    );
  }
  if (have < LENGTH_PREFIX_BYTES) return { needMoreBytes: LENGTH_PREFIX_BYTES };
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    return fail(
      'HEADER_TOO_LARGE',
      `header length is ${n} bytes, above the 100,000,000-byte limit of the reference reader (the first 8 bytes are probably not a safetensors header)`,
    );
  }
  const headerBytes = Number(n);
  const stop = LENGTH_PREFIX_BYTES + headerBytes;
  if (stop > fileSize) {
    return fail(
      'HEADER_BEYOND_FILE',
      `header length says the JSON header runs to byte ${stop}, but the file is only ${fileSize} bytes (truncated upload?)`,
      headerBytes,
    );
  }
  if (have < stop) return { needMoreBytes: stop };

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(prefix.subarray(LENGTH_PREFIX_BYTES, stop));
  } catch {
    return fail('HEADER_NOT_UTF8', `the ${headerBytes}-byte JSON header is not valid UTF-8`, headerBytes);
  }
  const parsed = parseJson(text);
  if (!parsed.ok) {
    // serde_json reports a JSON value of the wrong type before it reaches a syntax error inside it.
    const first = /[^ \t\n\r]/.exec(text)?.[0];
    if (first !== undefined && /^[["0-9tfn-]$/.test(first)) {
      return fail('HEADER_NOT_OBJECT', `the header must be a JSON object (starting with '{'), but it starts with ${JSON.stringify(first)}`, headerBytes);
    }
    return fail('HEADER_INVALID_JSON', `the header is not valid JSON: ${parsed.message}`, headerBytes);
  }
  const root = parsed.value;
  if (!isObject(root)) {
    return fail('HEADER_NOT_OBJECT', `the header must be a JSON object of tensors, but it is ${describe(root)}`, headerBytes);
  }
  return validateHeaderObject(root, BigInt(fileSize), n, file);
}

// ───────────────────────────── header semantics ─────────────────────────────

interface RawTensor {
  name: string;
  dtype: Dtype | undefined;
  shape: bigint[] | undefined;
  offsets: readonly [bigint, bigint] | undefined;
}

function validateHeaderObject(root: JsonObject, fileSize: bigint, n: bigint, file: string): ParsedShardHeader {
  const findings: Finding[] = [];
  let metadata: Record<string, string> | null = null;
  let metadataSeen = false;
  const byName = new Map<string, RawTensor>();

  for (const [key, value] of root.entries) {
    if (key === '__metadata__') {
      if (metadataSeen) findings.push(error('HEADER_DUPLICATE_KEY', file, '`__metadata__` appears twice in the header'));
      metadataSeen = true;
      metadata = readMetadata(value, file, findings);
      continue;
    }
    if (byName.has(key)) {
      findings.push(
        warning(
          'HEADER_DUPLICATE_KEY',
          file,
          `tensor "${key}" is declared twice in the header; the format forbids duplicate keys and, like the reference reader, only the last entry is used`,
          key,
        ),
      );
      byName.delete(key); // keep insertion order of the surviving (last) entry
    }
    byName.set(key, readTensor(key, value, file, findings));
  }

  const raws = [...byName.values()];
  const tensors: TensorEntry[] = [];
  for (const t of raws) {
    if (t.dtype === undefined || t.shape === undefined || t.offsets === undefined) continue;
    tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, begin: t.offsets[0], end: t.offsets[1], numel: product(t.shape) });
  }

  // Offsets: sorted by (begin, end), each must start where the previous ended, from 0.
  if (raws.every((t) => t.offsets !== undefined)) {
    const sorted = raws.slice().sort((a, b) => cmpOffsets(a.offsets!, b.offsets!));
    let start = 0n;
    let prev: RawTensor | undefined;
    for (const t of sorted) {
      const [b, e] = t.offsets!;
      if (e < b) {
        findings.push(
          error('OFFSETS_REVERSED', file, `data_offsets [${b}, ${e}] end before they begin`, t.name),
        );
      } else if (b !== start) {
        findings.push(error('OFFSETS_NOT_CONTIGUOUS', file, contiguityMessage(b, start, prev), t.name));
      }
      start = e;
      prev = t;
    }
    const expected = BigInt(LENGTH_PREFIX_BYTES) + n + start;
    if (expected > fileSize) {
      findings.push(
        error(
          'FILE_TRUNCATED',
          file,
          `the tensors end at byte ${start} of the data buffer, so the file should be ${expected} bytes, but it is ${fileSize} (${expected - fileSize} bytes missing)`,
          prev?.name,
        ),
      );
    } else if (expected < fileSize) {
      findings.push(
        error(
          'TRAILING_BYTES',
          file,
          `the file has ${fileSize - expected} bytes after the end of the last tensor (expected ${expected} bytes, found ${fileSize}); the reference reader rejects files whose data is not fully covered`,
        ),
      );
    }
  }

  // Sizes: end - begin == Π shape × bits / 8, with u64 overflow checks like the reference.
  for (const t of raws) {
    if (t.dtype === undefined || t.shape === undefined) continue;
    const bits = BigInt(DTYPE_BITS.get(t.dtype)!);
    let numel: bigint | undefined = 1n;
    for (const d of t.shape) {
      numel *= d;
      if (numel > U64_MAX) {
        numel = undefined;
        break;
      }
    }
    const nbits = numel === undefined ? undefined : numel * bits;
    if (nbits === undefined || nbits > U64_MAX) {
      findings.push(
        error('SIZE_OVERFLOW', file, `shape [${t.shape.join(', ')}] × ${t.dtype} overflows 64 bits`, t.name),
      );
      continue;
    }
    if (nbits % 8n !== 0n) {
      findings.push(
        error(
          'TENSOR_NOT_BYTE_ALIGNED',
          file,
          `${numel} elements of ${t.dtype} (${bits} bits each) are ${nbits} bits, which does not end on a byte boundary`,
          t.name,
        ),
      );
      continue;
    }
    if (t.offsets === undefined) continue;
    const [b, e] = t.offsets;
    if (e < b) continue;
    const want = nbits / 8n;
    if (e - b !== want) {
      findings.push(
        error(
          'TENSOR_SIZE_MISMATCH',
          file,
          `data_offsets [${b}, ${e}] span ${e - b} bytes, but shape [${t.shape.join(', ')}] of ${t.dtype} needs ${want} bytes`,
          t.name,
        ),
      );
    }
  }

  if (raws.length === 0) findings.push(warning('SHARD_EMPTY', file, 'the file declares no tensors'));

  const capped = capFindings(findings, file);
  return {
    ok: !capped.some((f) => f.severity === 'error'),
    findings: capped,
    tensors,
    tensorNames: [...byName.keys()],
    headerBytes: Number(n),
    metadata,
  };
}

function readMetadata(value: JsonValue, file: string, findings: Finding[]): Record<string, string> | null {
  if (value === null) return null; // `Option<HashMap<..>>`: null is None
  if (!isObject(value)) {
    findings.push(error('METADATA_INVALID', file, `\`__metadata__\` must be an object of string → string, but it is ${describe(value)}`));
    return null;
  }
  const entries: Array<[string, string]> = [];
  for (const [k, v] of value.entries) {
    if (typeof v !== 'string') {
      findings.push(
        error('METADATA_INVALID', file, `\`__metadata__\` value for "${k}" must be a string, but it is ${describe(v)}`),
      );
      continue;
    }
    entries.push([k, v]);
  }
  return Object.fromEntries(entries); // own data properties, so a "__proto__" key is just a key
}

function readTensor(name: string, value: JsonValue, file: string, findings: Finding[]): RawTensor {
  const t: RawTensor = { name, dtype: undefined, shape: undefined, offsets: undefined };
  if (!isObject(value)) {
    findings.push(
      error('TENSOR_INFO_INVALID', file, `entry must be an object with dtype, shape and data_offsets, but it is ${describe(value)}`, name),
    );
    return t;
  }
  const fields = new Map<string, JsonValue>();
  for (const [k, v] of value.entries) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') continue; // unknown fields are ignored, as by serde
    if (fields.has(k)) findings.push(error('HEADER_DUPLICATE_KEY', file, `field "${k}" appears twice in the tensor entry`, name));
    fields.set(k, v);
  }
  const missing = ['dtype', 'shape', 'data_offsets'].filter((k) => !fields.has(k));
  if (missing.length > 0) {
    findings.push(error('TENSOR_INFO_INVALID', file, `entry lacks ${missing.map((m) => `"${m}"`).join(', ')}`, name));
  }

  const dtype = fields.get('dtype');
  if (dtype !== undefined) {
    if (typeof dtype !== 'string') {
      findings.push(error('TENSOR_INFO_INVALID', file, `dtype must be a string, but it is ${describe(dtype)}`, name));
    } else if (!DTYPE_BITS.has(dtype)) {
      findings.push(
        error('DTYPE_UNKNOWN', file, `unknown dtype "${truncate(dtype)}"; expected one of ${DTYPE_NAMES.join(', ')}`, name),
      );
    } else {
      t.dtype = dtype as Dtype;
    }
  }

  const shape = fields.get('shape');
  if (shape !== undefined) {
    if (!Array.isArray(shape)) {
      findings.push(error('SHAPE_INVALID', file, `shape must be an array of non-negative integers, but it is ${describe(shape)}`, name));
    } else {
      const dims: bigint[] = [];
      let bad = -1;
      for (let i = 0; i < shape.length; i++) {
        const d = u64(shape[i]!);
        if (d === undefined) {
          bad = i;
          break;
        }
        dims.push(d);
      }
      if (bad >= 0) {
        findings.push(
          error(
            'SHAPE_INVALID',
            file,
            `shape[${bad}] is ${describe(shape[bad]!)}; dimensions must be non-negative integers below 2^64`,
            name,
          ),
        );
      } else {
        t.shape = dims;
      }
    }
  }

  const offsets = fields.get('data_offsets');
  if (offsets !== undefined) {
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      findings.push(
        error(
          'OFFSETS_INVALID',
          file,
          `data_offsets must be a pair [begin, end] of non-negative integers, but it is ${describe(offsets)}`,
          name,
        ),
      );
    } else {
      const b = u64(offsets[0]!);
      const e = u64(offsets[1]!);
      if (b === undefined || e === undefined) {
        const which = b === undefined ? 0 : 1;
        findings.push(
          error(
            'OFFSETS_INVALID',
            file,
            `data_offsets[${which}] is ${describe(offsets[which]!)}; offsets must be non-negative integers below 2^64`,
            name,
          ),
        );
      } else {
        t.offsets = [b, e];
      }
    }
  }
  return t;
}

function contiguityMessage(begin: bigint, expected: bigint, prev: RawTensor | undefined): string {
  if (prev === undefined) return `the first tensor (by offset) starts at byte ${begin} of the data buffer, not at 0`;
  if (begin < expected) {
    return `data_offsets begin at ${begin}, overlapping the previous tensor "${prev.name}" which ends at ${expected} (${expected - begin} bytes overlap)`;
  }
  return `data_offsets begin at ${begin}, leaving a gap of ${begin - expected} bytes after the previous tensor "${prev.name}" which ends at ${expected}`;
}

function capFindings(findings: Finding[], file: string): Finding[] {
  if (findings.length <= MAX_FINDINGS_PER_FILE) return findings;
  const kept = findings.slice(0, MAX_FINDINGS_PER_FILE);
  kept.push(
    warning('FINDINGS_TRUNCATED', file, `${findings.length - MAX_FINDINGS_PER_FILE} more findings in this file are not listed`),
  );
  return kept;
}

const cmpOffsets = (a: readonly [bigint, bigint], b: readonly [bigint, bigint]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;

const product = (dims: readonly bigint[]): bigint => dims.reduce((p, d) => p * d, 1n);

const INTEGER = /^(?:0|[1-9][0-9]*)$/;

/** A JSON number that serde_json would accept as u64/usize: integer syntax, no sign, < 2^64. */
function u64(v: JsonValue): bigint | undefined {
  if (!isNumber(v) || v.raw.length > 20 || !INTEGER.test(v.raw)) return undefined;
  const b = BigInt(v.raw);
  return b <= U64_MAX ? b : undefined;
}

function couldBeLfs(bytes: Uint8Array): boolean {
  const head = latin1(bytes);
  return LFS_SIGNATURES.some((s) => s.startsWith(head));
}

function lfsPointer(bytes: Uint8Array, fileSize: number): string | undefined {
  const head = latin1(bytes.subarray(0, LFS_PROBE_BYTES));
  if (!LFS_SIGNATURES.some((s) => head.startsWith(s))) return undefined;
  const text = latin1(bytes.subarray(0, Math.min(bytes.length, 1024)));
  const oid = /^oid ([a-z0-9]+:[0-9a-f]+)$/m.exec(text)?.[1];
  const size = /^size (\d+)$/m.exec(text)?.[1];
  const points = oid !== undefined ? ` pointing to ${oid}${size !== undefined ? ` (${size} bytes)` : ''}` : '';
  return `this ${fileSize}-byte object is a Git LFS pointer file${points}, not the weights; fetch the real files (git lfs pull) and upload again`;
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

const truncate = (s: string, max = 60): string => (s.length > max ? `${s.slice(0, max)}…` : s);

// ───────────────────────────── a strict JSON parser ─────────────────────────────

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
/** A number kept as its source text. */
export interface JsonNumber {
  readonly kind: 'number';
  readonly raw: string;
}
/** An object as its entries in source order (duplicates kept). */
export interface JsonObject {
  readonly kind: 'object';
  readonly entries: Array<readonly [string, JsonValue]>;
}

const isObject = (v: JsonValue): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'object';
const isNumber = (v: JsonValue): v is JsonNumber =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'number';

function describe(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'string') return `the string "${truncate(v, 40)}"`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v.kind === 'number') {
    if (v.raw.startsWith('-')) return `the negative number ${truncate(v.raw, 30)}`;
    if (!INTEGER.test(v.raw)) return `the non-integer number ${truncate(v.raw, 30)}`;
    if (v.raw.length > 20 || BigInt(v.raw) > U64_MAX) return `the number ${truncate(v.raw, 30)}, which does not fit in 64 bits`;
    return `the number ${v.raw}`;
  }
  return 'an object';
}

class JsonSyntaxError extends Error {
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}

export type JsonParseResult = { ok: true; value: JsonValue } | { ok: false; message: string; at: number };

/**
 * RFC 8259 JSON, as strict as serde_json: whitespace is space/tab/LF/CR only, nothing after the
 * value, nesting ≤ 127, escaped lone surrogates rejected. Numbers stay source text.
 */
export function parseJson(text: string): JsonParseResult {
  const len = text.length;
  let i = 0;

  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(message, at);
  };
  const ws = (): void => {
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const hex4 = (): number => {
    if (i + 4 > len) fail('EOF in \\u escape');
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = text.charCodeAt(i + k);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
      if (d < 0) fail('invalid \\u escape', i + k);
      v = v * 16 + d;
    }
    i += 4;
    return v;
  };
  const str = (): string => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= len) fail('EOF while parsing a string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c === 0x5c) {
        out += text.slice(start, i);
        i++;
        if (i >= len) fail('EOF while parsing a string');
        const e = text.charCodeAt(i++);
        switch (e) {
          case 0x22: out += '"'; break;
          case 0x5c: out += '\\'; break;
          case 0x2f: out += '/'; break;
          case 0x62: out += '\b'; break;
          case 0x66: out += '\f'; break;
          case 0x6e: out += '\n'; break;
          case 0x72: out += '\r'; break;
          case 0x74: out += '\t'; break;
          case 0x75: {
            const u = hex4();
            if (u >= 0xdc00 && u <= 0xdfff) fail('lone trailing surrogate in \\u escape', i - 6);
            if (u >= 0xd800 && u <= 0xdbff) {
              if (text.charCodeAt(i) !== 0x5c || text.charCodeAt(i + 1) !== 0x75) fail('lone leading surrogate in \\u escape', i - 6);
              i += 2;
              const lo = hex4();
              if (lo < 0xdc00 || lo > 0xdfff) fail('lone leading surrogate in \\u escape', i - 12);
              out += String.fromCharCode(u, lo);
            } else {
              out += String.fromCharCode(u);
            }
            break;
          }
          default:
            fail('invalid escape', i - 1);
        }
        start = i;
        continue;
      }
      if (c < 0x20) fail('control character in a string (must be escaped)');
      i++;
    }
  };
  const digits = (): void => {
    const s = i;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c >= 0x30 && c <= 0x39) i++;
      else break;
    }
    if (i === s) fail('expected a digit');
  };
  const num = (): JsonNumber => {
    const s = i;
    if (text.charCodeAt(i) === 0x2d) i++;
    const c = text.charCodeAt(i);
    if (c === 0x30) i++;
    else if (c >= 0x31 && c <= 0x39) digits();
    else fail('invalid number');
    if (text.charCodeAt(i) === 0x2e) {
      i++;
      digits();
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = text.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      digits();
    }
    return { kind: 'number', raw: text.slice(s, i) };
  };
  const literal = (word: string, value: JsonValue): JsonValue => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    return fail('expected a value');
  };
  const value = (depth: number): JsonValue => {
    ws();
    if (i >= len) fail('EOF while parsing a value');
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      if (depth >= MAX_JSON_DEPTH) fail('nesting deeper than 127 (serde_json recursion limit)');
      i++;
      const entries: Array<readonly [string, JsonValue]> = [];
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        return { kind: 'object', entries };
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 0x22) fail(i >= len ? 'EOF while parsing an object' : 'key must be a string');
        const k = str();
        ws();
        if (text.charCodeAt(i) !== 0x3a) fail("expected ':' after an object key");
        i++;
        entries.push([k, value(depth + 1)]);
        ws();
        const d = text.charCodeAt(i);
        if (d === 0x2c) {
          i++;
          continue;
        }
        if (d === 0x7d) {
          i++;
          return { kind: 'object', entries };
        }
        fail(i >= len ? 'EOF while parsing an object' : "expected ',' or '}' in an object");
      }
    }
    if (c === 0x5b) {
      if (depth >= MAX_JSON_DEPTH) fail('nesting deeper than 127 (serde_json recursion limit)');
      i++;
      const items: JsonValue[] = [];
      ws();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        return items;
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const d = text.charCodeAt(i);
        if (d === 0x2c) {
          i++;
          continue;
        }
        if (d === 0x5d) {
          i++;
          return items;
        }
        fail(i >= len ? 'EOF while parsing an array' : "expected ',' or ']' in an array");
      }
    }
    if (c === 0x22) return str();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return num();
    if (c === 0x74) return literal('true', true);
    if (c === 0x66) return literal('false', false);
    if (c === 0x6e) return literal('null', null);
    return fail('expected a value');
  };

  try {
    const v = value(0);
    ws();
    if (i < len) fail('trailing characters after the JSON value');
    return { ok: true, value: v };
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, message: `${e.message} ${position(text, e.at)}`, at: e.at };
    if (e instanceof RangeError) return { ok: false, message: 'header too complex to parse', at: i };
    throw e;
  }
}

function position(text: string, at: number): string {
  let line = 1;
  let col = 1;
  const end = Math.min(at, text.length);
  for (let k = 0; k < end; k++) {
    if (text.charCodeAt(k) === 0x0a) {
      line++;
      col = 1;
    } else col++;
  }
  return `at line ${line} column ${col} (character ${at})`;
}

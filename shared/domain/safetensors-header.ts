/**
 * The meaning of a safetensors header once it is valid JSON: every rule of the reference reader
 * (huggingface/safetensors `read_metadata` + `Metadata::validate`) on `__metadata__`, dtypes,
 * shapes and `data_offsets` (sorted, contiguous from 0, covering the data exactly). Pure.
 */
import { error, warning, type Finding } from './findings.ts';
import {
  DTYPE_BITS,
  DTYPE_NAMES,
  type Dtype,
  LENGTH_PREFIX_BYTES,
  MAX_FINDINGS_PER_FILE,
  type ParsedShardHeader,
  type TensorEntry,
} from './safetensors-format.ts';
import { type JsonObject, type JsonValue, U64_MAX, describe, isObject, truncate, u64 } from './strict-json.ts';

// ───────────────────────────── header semantics ─────────────────────────────

interface RawTensor {
  name: string;
  dtype: Dtype | undefined;
  shape: bigint[] | undefined;
  offsets: readonly [bigint, bigint] | undefined;
}

export function validateHeaderObject(root: JsonObject, fileSize: bigint, n: bigint, file: string): ParsedShardHeader {
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
        findings.push(error('OFFSETS_REVERSED', file, `data_offsets [${b}, ${e}] end before they begin`, t.name));
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
      findings.push(error('SIZE_OVERFLOW', file, `shape [${t.shape.join(', ')}] × ${t.dtype} overflows 64 bits`, t.name));
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
      findings.push(error('METADATA_INVALID', file, `\`__metadata__\` value for "${k}" must be a string, but it is ${describe(v)}`));
      continue;
    }
    entries.push([k, v]);
  }
  return Object.fromEntries(entries); // own data properties, so a "__proto__" key is just a key
}

function readTensor(name: string, value: JsonValue, file: string, findings: Finding[]): RawTensor {
  const t: RawTensor = { name, dtype: undefined, shape: undefined, offsets: undefined };
  if (!isObject(value)) {
    findings.push(error('TENSOR_INFO_INVALID', file, `entry must be an object with dtype, shape and data_offsets, but it is ${describe(value)}`, name));
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
      findings.push(error('DTYPE_UNKNOWN', file, `unknown dtype "${truncate(dtype)}"; expected one of ${DTYPE_NAMES.join(', ')}`, name));
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
        findings.push(error('SHAPE_INVALID', file, `shape[${bad}] is ${describe(shape[bad]!)}; dimensions must be non-negative integers below 2^64`, name));
      } else {
        t.shape = dims;
      }
    }
  }

  const offsets = fields.get('data_offsets');
  if (offsets !== undefined) {
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      findings.push(error('OFFSETS_INVALID', file, `data_offsets must be a pair [begin, end] of non-negative integers, but it is ${describe(offsets)}`, name));
    } else {
      const b = u64(offsets[0]!);
      const e = u64(offsets[1]!);
      if (b === undefined || e === undefined) {
        const which = b === undefined ? 0 : 1;
        findings.push(
          error('OFFSETS_INVALID', file, `data_offsets[${which}] is ${describe(offsets[which]!)}; offsets must be non-negative integers below 2^64`, name),
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
  kept.push(warning('FINDINGS_TRUNCATED', file, `${findings.length - MAX_FINDINGS_PER_FILE} more findings in this file are not listed`));
  return kept;
}

const cmpOffsets = (a: readonly [bigint, bigint], b: readonly [bigint, bigint]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;

const product = (dims: readonly bigint[]): bigint => dims.reduce((p, d) => p * d, 1n);

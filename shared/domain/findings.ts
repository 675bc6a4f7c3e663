/**
 * Findings: what the checkpoint validator says about a file or a checkpoint. Every finding has a
 * stable `code` (state and alerts key on it, never on the prose), a severity, the file it is about
 * (relative to the checkpoint prefix), the tensor where there is one, and a message in words.
 */
import { z } from 'zod';

/** Codes about one safetensors file (decided from the 8-byte length, the JSON header and the size). */
export const SHARD_FINDING_CODES = [
  /** The object is a Git LFS pointer file, not the weights (cloned without `git lfs pull`). */
  'GIT_LFS_POINTER',
  /** The file is shorter than the 8-byte header length. */
  'HEADER_TOO_SMALL',
  /** The header length is above 100,000,000 bytes (the reference reader's MAX_HEADER_SIZE). */
  'HEADER_TOO_LARGE',
  /** 8 + header length is past the end of the file. */
  'HEADER_BEYOND_FILE',
  /** The header bytes are not valid UTF-8. */
  'HEADER_NOT_UTF8',
  /** The header is not valid JSON (syntax, trailing data, nesting deeper than 127, lone surrogates). */
  'HEADER_INVALID_JSON',
  /** The header is JSON but not an object. */
  'HEADER_NOT_OBJECT',
  /** A key appears twice (`__metadata__`, a tensor field, or a tensor name). */
  'HEADER_DUPLICATE_KEY',
  /** `__metadata__` is not an object of string → string. */
  'METADATA_INVALID',
  /** A tensor entry is not an object or lacks `dtype`/`shape`/`data_offsets`. */
  'TENSOR_INFO_INVALID',
  /** `dtype` is not one of the 22 dtypes of the reference enum. */
  'DTYPE_UNKNOWN',
  /** `shape` is not an array of non-negative integers that fit in 64 bits. */
  'SHAPE_INVALID',
  /** `data_offsets` is not a pair of non-negative integers that fit in 64 bits. */
  'OFFSETS_INVALID',
  /** `data_offsets` has end < begin. */
  'OFFSETS_REVERSED',
  /** Sorted by offset, a tensor does not start where the previous one ends (gap, overlap, not from 0). */
  'OFFSETS_NOT_CONTIGUOUS',
  /** Π shape × dtype bits overflows 64 bits. */
  'SIZE_OVERFLOW',
  /** A sub-byte dtype (F4, F6_*) whose element count does not end on a byte boundary. */
  'TENSOR_NOT_BYTE_ALIGNED',
  /** end − begin ≠ Π shape × dtype size. */
  'TENSOR_SIZE_MISMATCH',
  /** The tensors need more bytes than the file has after the header. */
  'FILE_TRUNCATED',
  /** The file has bytes after the end of the last tensor. */
  'TRAILING_BYTES',
  /** The file holds no tensors (warning). */
  'SHARD_EMPTY',
  /** More findings in this file than are reported (warning; the rest are left out). */
  'FINDINGS_TRUNCATED',
] as const;

/** Codes about the checkpoint as a whole (listing, index, config, cross-shard consistency). */
export const CHECKPOINT_FINDING_CODES = [
  /** Neither `model.safetensors` nor `model.safetensors.index.json` is present. */
  'WEIGHTS_MISSING',
  /** Sharded `*-NNNNN-of-MMMMM.safetensors` files without `model.safetensors.index.json`. */
  'INDEX_MISSING',
  /** The index is not valid JSON. */
  'INDEX_INVALID_JSON',
  /** The index is JSON but not `{metadata?, weight_map: {tensor: shard}}`. */
  'INDEX_INVALID',
  /** The index names a shard with `..`, an absolute path, a URL or another unsafe form. */
  'SHARD_NAME_UNSAFE',
  /** The index names a shard that is not in the listing. */
  'SHARD_MISSING',
  /** A `.safetensors` file next to the index that the index does not name (warning; not loaded). */
  'SHARD_NOT_IN_INDEX',
  /** `-NNNNN-of-MMMMM` names disagree (different totals or prefixes, numbers out of range or missing). */
  'SHARD_NAMES_INCONSISTENT',
  /** The index maps a tensor to a shard that does not hold it; another shard does. */
  'INDEX_WRONG_SHARD',
  /** The index maps a tensor that no shard holds. */
  'INDEX_TENSOR_NOT_FOUND',
  /** A shard holds a tensor the index does not map. */
  'TENSOR_NOT_IN_INDEX',
  /** The same tensor name is stored in two or more shards. */
  'TENSOR_IN_MULTIPLE_SHARDS',
  /** `metadata.total_size` differs from the bytes of the tensors. */
  'INDEX_TOTAL_SIZE_MISMATCH',
  /** `metadata.total_parameters` differs from the element count of the tensors (warning). */
  'INDEX_TOTAL_PARAMETERS_MISMATCH',
  /** `config.json` is absent. */
  'CONFIG_MISSING',
  /** `config.json` is not a JSON object with `architectures` (non-empty string list) and `model_type`. */
  'CONFIG_INVALID',
  /** No `tokenizer.json` / `tokenizer.model` (warning: vLLM then needs `--tokenizer`). */
  'TOKENIZER_MISSING',
  /** The checkpoint holds no tensors at all. */
  'NO_TENSORS',
  /** A JSON side file (index, config) is too large to be read safely. */
  'FILE_TOO_LARGE',
] as const;

export const FINDING_CODES = [...SHARD_FINDING_CODES, ...CHECKPOINT_FINDING_CODES] as const;
export const FindingCode = z.enum(FINDING_CODES);
export type FindingCode = z.infer<typeof FindingCode>;

export const SEVERITIES = ['error', 'warning'] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

export const Finding = z.object({
  code: FindingCode,
  severity: Severity,
  /** File the finding is about, relative to the checkpoint prefix (e.g. `model-00001-of-00002.safetensors`). */
  file: z.string(),
  tensor: z.string().optional(),
  message: z.string(),
});
export type Finding = z.infer<typeof Finding>;

export function error(code: FindingCode, file: string, message: string, tensor?: string): Finding {
  return tensor === undefined ? { code, severity: 'error', file, message } : { code, severity: 'error', file, tensor, message };
}

export function warning(code: FindingCode, file: string, message: string, tensor?: string): Finding {
  return tensor === undefined
    ? { code, severity: 'warning', file, message }
    : { code, severity: 'warning', file, tensor, message };
}

export const hasErrors = (findings: readonly Finding[]): boolean => findings.some((f) => f.severity === 'error');

/**
 * Checkpoint validation findings (shared/domain/findings.ts). The safetensors format is the
 * reference reader's (https://github.com/huggingface/safetensors/blob/main/safetensors/src/tensor.rs);
 * the sharded index is transformers' (`model.safetensors.index.json`, `weight_map`).
 */
import type { Catalogue } from './catalogue.ts';

const RE_EXPORT = 'Export the checkpoint again (e.g. `save_pretrained(..., safe_serialization=True)`) and upload it as a new version.';

/** About one safetensors file (decided from the 8-byte length, the JSON header and the size). */
export const SHARD_FINDINGS = {
  GIT_LFS_POINTER: {
    meaning: 'The object is a Git LFS pointer file, not the weights (cloned without `git lfs pull`).',
    hint: 'Run `git lfs pull` in the clone (or download with `huggingface-cli download`) and upload again.',
  },
  HEADER_TOO_SMALL: { meaning: 'The file is shorter than the 8-byte header length.', hint: 'The file is cut off: upload it again.' },
  HEADER_TOO_LARGE: {
    meaning: "The header length is above 100,000,000 bytes (the reference reader's MAX_HEADER_SIZE).",
    hint: RE_EXPORT,
  },
  HEADER_TOO_LARGE_TO_VALIDATE: {
    meaning:
      "The header is legal (at most 100,000,000 bytes) but above ferry's 4,000,000-byte validation limit: parsing it could exhaust the function's memory.",
    hint: 'Export the checkpoint again with smaller shards (`save_pretrained(..., max_shard_size=...)`) or a smaller `__metadata__`, and upload it as a new version.',
  },
  HEADER_BEYOND_FILE: { meaning: '8 + header length is past the end of the file.', hint: 'The file is cut off or not safetensors: upload it again.' },
  HEADER_NOT_UTF8: { meaning: 'The header bytes are not valid UTF-8.', hint: RE_EXPORT },
  HEADER_INVALID_JSON: {
    meaning: 'The header is not valid JSON (syntax, trailing data, nesting deeper than 127, lone surrogates).',
    hint: RE_EXPORT,
  },
  HEADER_NOT_OBJECT: { meaning: 'The header is JSON but not an object.', hint: RE_EXPORT },
  HEADER_DUPLICATE_KEY: { meaning: 'A key appears twice (`__metadata__`, a tensor field, or a tensor name).', hint: RE_EXPORT },
  METADATA_INVALID: { meaning: '`__metadata__` is not an object of string → string.', hint: RE_EXPORT },
  TENSOR_INFO_INVALID: { meaning: 'A tensor entry is not an object or lacks `dtype`/`shape`/`data_offsets`.', hint: RE_EXPORT },
  DTYPE_UNKNOWN: {
    meaning: '`dtype` is not one of the 22 dtypes of the reference enum.',
    hint: 'Convert the tensor to a dtype vLLM reads (BF16, F16, F32, F8_E4M3, …) and export again.',
  },
  SHAPE_INVALID: { meaning: '`shape` is not an array of non-negative integers that fit in 64 bits.', hint: RE_EXPORT },
  OFFSETS_INVALID: { meaning: '`data_offsets` is not a pair of non-negative integers that fit in 64 bits.', hint: RE_EXPORT },
  OFFSETS_REVERSED: { meaning: '`data_offsets` has end < begin.', hint: RE_EXPORT },
  OFFSETS_NOT_CONTIGUOUS: {
    meaning: 'Sorted by offset, a tensor does not start where the previous one ends (gap, overlap, not from 0).',
    hint: RE_EXPORT,
  },
  SIZE_OVERFLOW: { meaning: 'Π shape × dtype bits overflows 64 bits.', hint: RE_EXPORT },
  TENSOR_NOT_BYTE_ALIGNED: {
    meaning: 'A sub-byte dtype (F4, F6_*) whose element count does not end on a byte boundary.',
    hint: RE_EXPORT,
  },
  TENSOR_SIZE_MISMATCH: { meaning: 'end − begin ≠ Π shape × dtype size.', hint: RE_EXPORT },
  FILE_TRUNCATED: {
    meaning: 'The tensors need more bytes than the file has after the header.',
    hint: 'The upload is incomplete: upload the file again (`ferry upload` resumes).',
  },
  TRAILING_BYTES: { meaning: 'The file has bytes after the end of the last tensor.', hint: 'Upload the original file again; it was appended to or corrupted.' },
  SHARD_EMPTY: { meaning: 'The file holds no tensors (warning).', hint: 'Remove the file from the checkpoint if it is not meant to be there.' },
  FINDINGS_TRUNCATED: {
    meaning: 'More findings in this file than are reported (warning; the rest are left out).',
    hint: 'Fix the findings shown and validate again (`ferry validate`) to see the rest.',
  },
} as const satisfies Catalogue;

/** About the checkpoint as a whole (listing, index, config, cross-shard consistency). */
export const CHECKPOINT_FINDINGS = {
  WEIGHTS_MISSING: {
    meaning: 'Neither `model.safetensors` nor `model.safetensors.index.json` is present.',
    hint: 'Upload the weights in safetensors format (convert .bin/.pt checkpoints first).',
  },
  INDEX_MISSING: {
    meaning: 'Sharded `*-NNNNN-of-MMMMM.safetensors` files without `model.safetensors.index.json`.',
    hint: 'Upload `model.safetensors.index.json` with the shards.',
  },
  INDEX_TOO_LARGE_TO_VALIDATE: {
    meaning:
      "`model.safetensors.index.json` is above ferry's 25,000,000-byte validation limit (the largest real indexes, of trillion-parameter MoE models, are ~14 MB): parsing it could exhaust the function's memory, so it is refused from its size and not read.",
    hint: 'Upload the index as the export wrote it (`save_pretrained` writes only `metadata` and `weight_map`), as a new version.',
  },
  INDEX_INVALID_JSON: { meaning: 'The index is not valid JSON.', hint: 'Upload the index as written by the export again.' },
  INDEX_INVALID: {
    meaning: 'The index is JSON but not `{metadata?, weight_map: {tensor: shard}}`.',
    hint: 'Upload the index as written by the export again.',
  },
  SHARD_NAME_UNSAFE: {
    meaning: 'The index names a shard with `..`, an absolute path, a URL or another unsafe form.',
    hint: 'Name shards as plain file names next to the index.',
  },
  SHARD_MISSING: { meaning: 'The index names a shard that is not in the listing.', hint: 'Upload the missing shard (`ferry upload` resumes).' },
  SHARD_NOT_IN_INDEX: {
    meaning:
      "A `.safetensors` file next to the index that the index does not name: vLLM's Run:ai loader streams it too (the index filters nothing on `gs://`). A warning when there is no index and it sits beside `model.safetensors`.",
    hint: 'Delete the stray file or move it out of the checkpoint folder, or upload the index that names it.',
  },
  SAFETENSORS_IN_SUBFOLDER: {
    meaning:
      'A `.safetensors` file in a sub-folder of the checkpoint. The GPU image (Run:ai streamer ≤ 0.15.3) streams it with the rest; the TPU image (streamer 0.15.4) never loads it, even when the index names it.',
    hint: 'Delete the file or move it out of the checkpoint folder; a shard the index names goes next to the index.',
  },
  SHARD_NAMES_INCONSISTENT: {
    meaning: '`-NNNNN-of-MMMMM` names disagree (different totals or prefixes, numbers out of range or missing).',
    hint: 'Upload the shards of one export only, into a fresh version.',
  },
  INDEX_WRONG_SHARD: {
    meaning: 'The index maps a tensor to a shard that does not hold it; another shard does.',
    hint: 'Upload the index and the shards of the same export.',
  },
  INDEX_TENSOR_NOT_FOUND: {
    meaning: 'The index maps a tensor that no shard holds.',
    hint: 'Upload the missing shard, or the index of the same export.',
  },
  TENSOR_NOT_IN_INDEX: { meaning: 'A shard holds a tensor the index does not map.', hint: 'Upload the index and the shards of the same export.' },
  TENSOR_IN_MULTIPLE_SHARDS: {
    meaning: 'The same tensor name is stored in two or more shards.',
    hint: 'Upload the shards of one export only, into a fresh version.',
  },
  INDEX_TOTAL_SIZE_MISMATCH: {
    meaning: '`metadata.total_size` differs from the bytes of the tensors.',
    hint: 'Upload the index and the shards of the same export.',
  },
  INDEX_TOTAL_PARAMETERS_MISMATCH: {
    meaning: '`metadata.total_parameters` differs from the element count of the tensors (warning).',
    hint: 'Check that the index and the shards are of the same export.',
  },
  CONFIG_MISSING: { meaning: '`config.json` is absent.', hint: "Upload the model's config.json with the weights." },
  CONFIG_INVALID: {
    meaning: '`config.json` is not a JSON object with `architectures` (non-empty string list) and `model_type`.',
    hint: "Upload the model's config.json as the export wrote it.",
  },
  TOKENIZER_MISSING: {
    meaning: 'No `tokenizer.json` / `tokenizer.model` (warning: vLLM then needs `--tokenizer`).',
    hint: 'Upload the tokenizer files with the weights.',
  },
  NO_TENSORS: { meaning: 'The checkpoint holds no tensors at all.', hint: 'Upload the weights.' },
  FILE_TOO_LARGE: {
    meaning: '`config.json` is above 4,000,000 bytes: too large to be read safely (the index has its own code, INDEX_TOO_LARGE_TO_VALIDATE).',
    hint: 'Upload config.json as the export wrote it.',
  },
} as const satisfies Catalogue;

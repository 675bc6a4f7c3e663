/**
 * The safetensors format as ferry's header-only validator sees it: the reference reader's dtypes
 * (with bits per element), its limits, and what a parsed header is. Pure.
 */
import { z } from 'zod';
import type { Finding } from './findings.ts';

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
export const DTYPE_BITS: ReadonlyMap<string, number> = new Map(DTYPES.map((d) => [d.name, d.bits]));

/** Bits per element of a dtype, or undefined for a string that is not a dtype. */
export const dtypeBits = (dtype: string): number | undefined => DTYPE_BITS.get(dtype);

/** `MAX_HEADER_SIZE` of the reference reader: 100 MB, decimal. */
export const MAX_HEADER_SIZE = 100_000_000;
/**
 * Largest header ferry validates (4 MB): legal headers go up to MAX_HEADER_SIZE, but parsing one
 * costs up to ~22× its size in memory when it is dense with tensors (a 1M-tensor, 84 MB header
 * peaked at 2.4 GB RSS; 8 MB / 100k tensors at +265 MB), and the functions have 512 MiB. A larger
 * header is refused with HEADER_TOO_LARGE_TO_VALIDATE before it is read. See BENCHMARKS.md.
 */
export const MAX_VALIDATED_HEADER_BYTES = 4_000_000;
/** The u64 header length prefix. */
export const LENGTH_PREFIX_BYTES = 8;
/** serde_json's recursion limit: a 128th nested container is an error. */
export const MAX_JSON_DEPTH = 127;
/** Findings reported per file at most (a broken header with 100k tensors would otherwise flood). */
export const MAX_FINDINGS_PER_FILE = 100;

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

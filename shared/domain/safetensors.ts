/**
 * Header-only safetensors validation (pure). Given the first bytes of a file and the file's size, it
 * applies every rule the reference reader (huggingface/safetensors `read_metadata` +
 * `Metadata::validate`) enforces, without touching tensor bytes:
 *
 *   [0,8) u64 LE header length N · [8,8+N) UTF-8 JSON object · [8+N, EOF) tensor bytes
 *
 * The JSON parser is our own (strict-json.ts, not `JSON.parse`) so that it sees what serde_json sees: integers are
 * kept as source text (exact u64, no float rounding; `1.0`, `1e2` and `-0` are not integers),
 * duplicate keys are visible, nesting is capped at serde_json's recursion limit (127) and escaped
 * lone surrogates are rejected. It allocates at most in proportion to the header it is given.
 */
import { error, type FindingCode } from './findings.ts';
import { LENGTH_PREFIX_BYTES, MAX_HEADER_SIZE, type ParsedShardHeader, type ShardHeaderResult } from './safetensors-format.ts';
import { validateHeaderObject } from './safetensors-header.ts';
import { describe, isObject, parseJson } from './strict-json.ts';

const LFS_SIGNATURES = ['version https://git-lfs.github.com/spec/', 'version https://hawser.github.com/spec/'];
const LFS_PROBE_BYTES = 40;

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
    return fail('HEADER_TOO_SMALL', `file is ${fileSize} bytes; a safetensors file starts with an 8-byte header length, so it cannot be a safetensors file`);
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

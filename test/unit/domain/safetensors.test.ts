import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseShardHeader } from '../../../shared/domain/safetensors.ts';
import {
  DTYPES,
  DTYPE_NAMES,
  MAX_FINDINGS_PER_FILE,
  MAX_HEADER_SIZE,
  dtypeBits,
  needsMoreBytes,
  type ParsedShardHeader,
} from '../../../shared/domain/safetensors-format.ts';
import { parseJson } from '../../../shared/domain/strict-json.ts';
import { Finding, SHARD_FINDING_CODES, type FindingCode } from '../../../shared/domain/findings.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';

const enc = new TextEncoder();

/** [u64 LE N][header bytes][data bytes of zeros][trailing]. */
function build(header: string | Uint8Array, dataBytes: number | bigint, opts: { n?: bigint; trailing?: number } = {}): Uint8Array {
  const h = typeof header === 'string' ? enc.encode(header) : header;
  const data = Number(dataBytes) + (opts.trailing ?? 0);
  const out = new Uint8Array(8 + h.length + Math.max(0, data));
  new DataView(out.buffer).setBigUint64(0, opts.n ?? BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

type T = { name: string; dtype: string; shape: Array<number | string>; offsets?: [number | string, number | string] };

/** A header with contiguous offsets computed from dtype × shape unless given. Returns the text and data size. */
function header(tensors: T[], metadata?: Record<string, string> | null): { text: string; data: bigint } {
  let at = 0n;
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  for (const t of tensors) {
    let offsets = t.offsets;
    if (!offsets) {
      const numel = t.shape.reduce<bigint>((p, d) => p * BigInt(d), 1n);
      const bytes = (numel * BigInt(dtypeBits(t.dtype) ?? 8)) / 8n;
      offsets = [String(at), String(at + bytes)];
      at += bytes;
    } else {
      const e = BigInt(offsets[1]);
      if (e > at) at = e;
    }
    parts.push(`${JSON.stringify(t.name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":[${t.shape.join(',')}],"data_offsets":[${offsets.join(',')}]}`);
  }
  return { text: `{${parts.join(',')}}`, data: at };
}

function parse(bytes: Uint8Array, fileSize = bytes.length): ParsedShardHeader {
  const r = parseShardHeader(bytes, fileSize, 'model.safetensors');
  if (needsMoreBytes(r)) assert.fail(`unexpected needMoreBytes ${r.needMoreBytes}`);
  for (const f of r.findings) Finding.parse(f);
  assert.equal(r.ok, !r.findings.some((f) => f.severity === 'error'));
  return r;
}

function file(tensors: T[], opts: { metadata?: Record<string, string> | null; trailing?: number; short?: number } = {}): Uint8Array {
  const h = header(tensors, opts.metadata);
  return build(h.text, h.data - BigInt(opts.short ?? 0), { trailing: opts.trailing ?? 0 });
}

const codes = (r: ParsedShardHeader): FindingCode[] => r.findings.filter((f) => f.severity === 'error').map((f) => f.code);
const assertRejects = (r: ParsedShardHeader, code: FindingCode) => {
  assert.equal(r.ok, false, `expected ${code}, got ok`);
  assert.ok(codes(r).includes(code), `expected ${code}, got ${JSON.stringify(r.findings)}`);
};

describe('DTYPES', () => {
  it('has the 22 dtypes of the reference enum with their bit widths', () => {
    assert.equal(DTYPES.length, 22);
    assert.equal(new Set(DTYPE_NAMES).size, 22);
    const expected: Record<string, number> = {
      BOOL: 8,
      F4: 4,
      F6_E2M3: 6,
      F6_E3M2: 6,
      U8: 8,
      I8: 8,
      F8_E5M2: 8,
      F8_E4M3: 8,
      F8_E8M0: 8,
      F8_E4M3FNUZ: 8,
      F8_E5M2FNUZ: 8,
      I16: 16,
      U16: 16,
      F16: 16,
      BF16: 16,
      I32: 32,
      U32: 32,
      F32: 32,
      C64: 64,
      F64: 64,
      I64: 64,
      U64: 64,
    };
    assert.deepEqual(Object.fromEntries(DTYPES.map((d) => [d.name, d.bits])), expected);
  });

  it('accepts a tensor of every dtype', () => {
    const r = parse(file(DTYPE_NAMES.map((d) => ({ name: `t.${d}`, dtype: d, shape: [2, 4] }))));
    assert.equal(r.ok, true);
    assert.equal(r.tensors.length, 22);
    const f4 = r.tensors.find((t) => t.dtype === 'F4')!;
    assert.equal(f4.end - f4.begin, 4n); // 8 × 4 bits
    const c64 = r.tensors.find((t) => t.dtype === 'C64')!;
    assert.equal(c64.end - c64.begin, 64n);
  });

  it('is case-sensitive and rejects unknown dtypes', () => {
    for (const d of ['bf16', 'F48', '', 'FLOAT32', 'F8_E4M3FN']) {
      assertRejects(parse(file([{ name: 'w', dtype: d, shape: [1], offsets: [0, 1] }])), 'DTYPE_UNKNOWN');
    }
  });

  it('requires sub-byte dtypes to end on a byte', () => {
    assertRejects(parse(file([{ name: 'w', dtype: 'F4', shape: [3], offsets: [0, 2] }])), 'TENSOR_NOT_BYTE_ALIGNED');
    assertRejects(parse(file([{ name: 'w', dtype: 'F6_E2M3', shape: [2], offsets: [0, 2] }])), 'TENSOR_NOT_BYTE_ALIGNED');
    assert.equal(parse(file([{ name: 'w', dtype: 'F4', shape: [4] }])).ok, true);
    assert.equal(parse(file([{ name: 'w', dtype: 'F6_E3M2', shape: [4] }])).ok, true); // 24 bits = 3 bytes
  });
});

describe('parseShardHeader: valid files', () => {
  it('reads tensors, metadata and the header length', () => {
    const bytes = file(
      [
        { name: 'b', dtype: 'F32', shape: [2, 3] },
        { name: 'a', dtype: 'BF16', shape: [4] },
      ],
      { metadata: { format: 'pt' } },
    );
    const r = parse(bytes);
    assert.equal(r.ok, true);
    assert.deepEqual(r.findings, []);
    assert.deepEqual(r.metadata, { format: 'pt' });
    assert.deepEqual(
      r.tensors.map((t) => [t.name, t.dtype, t.shape, t.begin, t.end, t.numel]),
      [
        ['b', 'F32', [2n, 3n], 0n, 24n, 6n],
        ['a', 'BF16', [4n], 24n, 32n, 4n],
      ],
    );
    assert.deepEqual(r.tensorNames, ['b', 'a']);
    assert.equal(r.headerBytes, new DataView(bytes.buffer).getUint32(0, true));
  });

  it('accepts scalars, empty tensors, JSON order different from offset order, and no __metadata__', () => {
    const text =
      '{"z":{"dtype":"F16","shape":[3],"data_offsets":[4,10]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
      '"e":{"dtype":"I64","shape":[0,7],"data_offsets":[10,10]}}';
    const r = parse(build(text, 10));
    assert.equal(r.ok, true);
    assert.equal(r.metadata, null);
    assert.deepEqual(
      r.tensors.map((t) => [t.name, t.numel]),
      [
        ['z', 3n],
        ['s', 1n],
        ['e', 0n],
      ],
    );
  });

  it('accepts whitespace around the JSON (space padding, newlines) and __metadata__: null', () => {
    const h = header([{ name: 'w', dtype: 'U8', shape: [3] }], null);
    assert.equal(parse(build(`${h.text}      `, h.data)).ok, true);
    assert.equal(parse(build(`\n\t ${h.text}\r\n`, h.data)).ok, true);
  });

  it('keeps u64 integers exact (beyond 2^53)', () => {
    // A zero dimension makes any other dimension legal: Π = 0 without overflow, as in the reference.
    const r = parse(build('{"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}', 0));
    assert.equal(r.ok, true);
    assert.deepEqual(r.tensors[0]!.shape, [0n, 18446744073709551615n]);
    const big = parse(build('{"w":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,9007199254740993]}}', 0));
    assertRejects(big, 'FILE_TRUNCATED');
    assert.match(big.findings.find((f) => f.code === 'FILE_TRUNCATED')!.message, /9007199254740993/);
  });

  it('warns about a file with no tensors but accepts it', () => {
    const r = parse(build('{}      ', 0));
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.findings.map((f) => [f.code, f.severity]),
      [['SHARD_EMPTY', 'warning']],
    );
  });

  it('ignores unknown fields in a tensor entry, as serde does', () => {
    const r = parse(build('{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"note":{"x":[1,2]}}}', 2));
    assert.equal(r.ok, true);
  });
});

describe('parseShardHeader: length prefix and framing', () => {
  it('rejects files shorter than 8 bytes without needing any bytes', () => {
    for (let size = 0; size < 8; size++) {
      const r = parseShardHeader(new Uint8Array(0), size, 'x.safetensors');
      assert.ok(!needsMoreBytes(r));
      assertRejects(r, 'HEADER_TOO_SMALL');
    }
  });

  it('rejects a header length above 100,000,000 and accepts exactly the limit as a length', () => {
    const huge = build('{}', 64, { n: BigInt(MAX_HEADER_SIZE) + 1n });
    assertRejects(parse(huge, 2 * MAX_HEADER_SIZE), 'HEADER_TOO_LARGE');
    const atLimit = build('{}', 64, { n: BigInt(MAX_HEADER_SIZE) });
    assertRejects(parse(atLimit, 1000), 'HEADER_BEYOND_FILE');
    assert.deepEqual(parseShardHeader(atLimit, 8 + MAX_HEADER_SIZE, 'x'), { needMoreBytes: 8 + MAX_HEADER_SIZE });
    assertRejects(parse(build('{}', 0, { n: 2n ** 64n - 1n })), 'HEADER_TOO_LARGE');
  });

  it('rejects a header that runs past the end of the file', () => {
    assertRejects(parse(build('{}', 0, { n: 3n })), 'HEADER_BEYOND_FILE');
  });

  it('asks for exactly the bytes it needs, never more than the file or the limit', () => {
    const h = header([{ name: 'w', dtype: 'F16', shape: [1000] }]);
    const bytes = build(h.text + ' '.repeat(5000), h.data);
    const stop = 8 + h.text.length + 5000;
    const r0 = parseShardHeader(new Uint8Array(0), bytes.length, 'w');
    assert.deepEqual(r0, { needMoreBytes: 40 });
    const r1 = parseShardHeader(bytes.subarray(0, 64), bytes.length, 'w');
    assert.deepEqual(r1, { needMoreBytes: stop });
    const r2 = parseShardHeader(bytes.subarray(0, stop), bytes.length, 'w');
    assert.ok(!needsMoreBytes(r2) && r2.ok);
    // A tiny file asks for 8 bytes only.
    assert.deepEqual(parseShardHeader(new Uint8Array(0), 20, 'w'), { needMoreBytes: 8 });
  });

  it('detects Git LFS pointer files with their own code', () => {
    const pointer =
      'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 4943162336\n';
    const r = parse(enc.encode(pointer));
    assert.deepEqual(codes(r), ['GIT_LFS_POINTER']);
    assert.match(r.findings[0]!.message, /Git LFS pointer.*sha256:4d7a2146.*4943162336/s);
  });

  it('rejects invalid UTF-8 in the header', () => {
    const h = enc.encode('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":"\u00e9"}');
    const bad = new Uint8Array(h);
    bad[bad.length - 3] = 0xff;
    assertRejects(parse(build(bad, 1)), 'HEADER_NOT_UTF8');
  });
});

describe('parseShardHeader: JSON', () => {
  it('rejects text that is not JSON', () => {
    for (const text of ['{xxxx}', '{"a":1,}', '{"a" 1}', '{"w":{"dtype":"U8"}} x', '', '   ', '{"a":tru}', "{'a':1}", '{"a":01}', '{"a":1.}']) {
      const r = parse(build(text, 0));
      assertRejects(r, 'HEADER_INVALID_JSON');
      assert.match(r.findings[0]!.message, /not valid JSON/);
    }
  });

  it('rejects a header that is JSON but not an object, or starts like another value', () => {
    for (const text of ['[]', '"x"', '1', 'null', 'true', '["__metadata__":{}]']) assertRejects(parse(build(text, 0)), 'HEADER_NOT_OBJECT');
  });

  it('rejects a byte-order mark (serde_json does not skip it)', () => {
    assert.equal(parse(build('\ufeff{}', 0)).ok, false);
  });

  it('caps nesting at serde_json recursion limit', () => {
    const nest = (d: number) => `${'['.repeat(d)}${']'.repeat(d)}`;
    // root object + tensor entry + ignored field: depth 2 + d
    const ok = parse(build(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":${nest(125)}}}`, 1));
    assert.equal(ok.ok, true);
    assertRejects(parse(build(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":${nest(126)}}}`, 1)), 'HEADER_INVALID_JSON');
    assertRejects(parse(build(`{"x":${nest(100_000)}}`, 0)), 'HEADER_INVALID_JSON');
  });

  it('rejects escaped lone surrogates and accepts escaped pairs', () => {
    assertRejects(parse(build('{"w\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1)), 'HEADER_INVALID_JSON');
    assertRejects(parse(build('{"w\\udc00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1)), 'HEADER_INVALID_JSON');
    const r = parse(build('{"w\\ud83d\\ude00\\n":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1));
    assert.equal(r.ok, true);
    assert.equal(r.tensors[0]!.name, 'w\u{1f600}\n');
  });

  it('parseJson agrees with JSON.parse on well-formed documents', () => {
    const doc = '{"a":[1,-2.5e3,true,false,null,"x\\"y\\u0041"],"b":{"c":{}},"d":[]}';
    const r = parseJson(doc);
    assert.ok(r.ok);
    const plain = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(plain)
        : v && typeof v === 'object'
          ? 'raw' in v
            ? Number((v as { raw: string }).raw)
            : Object.fromEntries((v as { entries: Array<[string, unknown]> }).entries.map(([k, x]) => [k, plain(x)]))
          : v;
    assert.deepEqual(plain(r.value), JSON.parse(doc));
  });
});

describe('parseShardHeader: header fields', () => {
  it('requires __metadata__ to be an object of strings', () => {
    assertRejects(parse(build('{"__metadata__":{"format":1}}', 0)), 'METADATA_INVALID');
    assertRejects(parse(build('{"__metadata__":["pt"]}', 0)), 'METADATA_INVALID');
    assertRejects(parse(build('{"__metadata__":"pt"}', 0)), 'METADATA_INVALID');
  });

  it('treats duplicate keys like the reference: __metadata__ and tensor fields are errors, tensor names last-wins', () => {
    assertRejects(parse(build('{"__metadata__":{},"__metadata__":{}}', 0)), 'HEADER_DUPLICATE_KEY');
    assertRejects(parse(build('{"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1)), 'HEADER_DUPLICATE_KEY');
    const same = '{"dtype":"U8","shape":[1],"data_offsets":[0,1]}';
    const r = parse(build(`{"w":${same},"w":${same}}`, 1));
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.findings.map((f) => [f.code, f.severity, f.tensor]),
      [['HEADER_DUPLICATE_KEY', 'warning', 'w']],
    );
    // Last wins, so the first entry's bytes are a gap.
    const r2 = parse(build(`{"w":${same},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2));
    assertRejects(r2, 'OFFSETS_NOT_CONTIGUOUS');
  });

  it('requires each tensor entry to be an object with dtype, shape and data_offsets', () => {
    assertRejects(parse(build('{"w":1}', 0)), 'TENSOR_INFO_INVALID');
    assertRejects(parse(build('{"w":{"dtype":"U8","shape":[1]}}', 1)), 'TENSOR_INFO_INVALID');
    assertRejects(parse(build('{"w":{"dtype":8,"shape":[1],"data_offsets":[0,1]}}', 1)), 'TENSOR_INFO_INVALID');
    const r = parse(build('{"w":{"shape":[1]}}', 1));
    assert.equal(r.findings[0]!.tensor, 'w');
    assert.match(r.findings[0]!.message, /"dtype".*"data_offsets"/);
  });

  it('requires dimensions to be non-negative integers that fit in 64 bits', () => {
    for (const d of ['-1', '1.5', '64.0', '1e2', '"3"', 'null', '18446744073709551616', '-0']) {
      const r = parse(build(`{"w":{"dtype":"U8","shape":[2,${d}],"data_offsets":[0,2]}}`, 2));
      assertRejects(r, 'SHAPE_INVALID');
      assert.equal(r.findings.find((f) => f.code === 'SHAPE_INVALID')!.tensor, 'w');
    }
    assertRejects(parse(build('{"w":{"dtype":"U8","shape":3,"data_offsets":[0,3]}}', 3)), 'SHAPE_INVALID');
  });

  it('requires data_offsets to be a pair of non-negative integers', () => {
    for (const o of ['[0]', '[0,1,2]', '[-1,0]', '["0",1]', '[0,1.0]', '{}', '[0,18446744073709551616]']) {
      assertRejects(parse(build(`{"w":{"dtype":"U8","shape":[1],"data_offsets":${o}}}`, 1)), 'OFFSETS_INVALID');
    }
  });

  it('detects Π shape × dtype overflow in 64 bits', () => {
    assertRejects(parse(build('{"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}', 0)), 'SIZE_OVERFLOW');
    assertRejects(parse(build('{"w":{"dtype":"U8","shape":[2305843009213693952],"data_offsets":[0,0]}}', 0)), 'SIZE_OVERFLOW'); // ×8 bits
    // The reference multiplies left to right: an overflow before a zero dimension is still an overflow.
    assertRejects(parse(build('{"w":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}', 0)), 'SIZE_OVERFLOW');
  });
});

describe('parseShardHeader: offsets and sizes', () => {
  it('rejects a byte count that does not match shape × dtype', () => {
    const r = parse(file([{ name: 'w', dtype: 'BF16', shape: [64], offsets: [0, 126] }]));
    assertRejects(r, 'TENSOR_SIZE_MISMATCH');
    const f = r.findings.find((x) => x.code === 'TENSOR_SIZE_MISMATCH')!;
    assert.equal(f.tensor, 'w');
    assert.match(f.message, /126 bytes.*needs 128 bytes/);
  });

  it('rejects reversed offsets', () => {
    assertRejects(parse(build('{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', 4)), 'OFFSETS_REVERSED');
  });

  it('requires offsets to start at 0 and be contiguous without gaps or overlaps', () => {
    const start = parse(file([{ name: 'w', dtype: 'U8', shape: [4], offsets: [4, 8] }]));
    assertRejects(start, 'OFFSETS_NOT_CONTIGUOUS');
    assert.match(start.findings[0]!.message, /starts at byte 4.*not at 0/);
    const gap = parse(
      file([
        { name: 'a', dtype: 'U8', shape: [4], offsets: [0, 4] },
        { name: 'b', dtype: 'U8', shape: [4], offsets: [6, 10] },
      ]),
    );
    assertRejects(gap, 'OFFSETS_NOT_CONTIGUOUS');
    assert.match(gap.findings[0]!.message, /gap of 2 bytes/);
    assert.equal(gap.findings[0]!.tensor, 'b');
    const overlap = parse(
      file([
        { name: 'a', dtype: 'U8', shape: [4], offsets: [0, 4] },
        { name: 'b', dtype: 'U8', shape: [4], offsets: [2, 6] },
      ]),
    );
    assertRejects(overlap, 'OFFSETS_NOT_CONTIGUOUS');
    assert.match(overlap.findings[0]!.message, /overlapping.*"a".*2 bytes/);
  });

  it('requires the data to end exactly at the end of the file', () => {
    const t: T[] = [{ name: 'w', dtype: 'F32', shape: [8] }];
    assertRejects(parse(file(t, { trailing: 1 })), 'TRAILING_BYTES');
    const trunc = parse(file(t, { short: 3 }));
    assertRejects(trunc, 'FILE_TRUNCATED');
    assert.match(trunc.findings[0]!.message, /3 bytes missing/);
  });

  it('caps the findings per file', () => {
    const tensors: T[] = Array.from({ length: 500 }, (_, i) => ({ name: `t${i}`, dtype: 'U8', shape: [2], offsets: [i * 3, i * 3 + 3] }));
    const r = parse(file(tensors));
    assert.equal(r.ok, false);
    assert.equal(r.findings.length, MAX_FINDINGS_PER_FILE + 1);
    assert.equal(r.findings.at(-1)!.code, 'FINDINGS_TRUNCATED');
  });

  it('only ever reports codes from the shard code list', () => {
    assert.ok(SHARD_FINDING_CODES.includes('GIT_LFS_POINTER'));
  });
});

describe('parseShardHeader: the reference corpus', () => {
  const shards: string[] = [];
  for (const d of ['llama-sharded', 'mistral-single', 'all-dtypes']) {
    for (const f of readdirSync(path.join(FIXTURES_DIR, d))) if (f.endsWith('.safetensors')) shards.push(path.join(d, f));
  }
  for (const rel of shards) {
    it(`accepts ${rel}`, () => {
      const bytes = readFileSync(path.join(FIXTURES_DIR, rel));
      const r = parse(bytes);
      assert.deepEqual(r.findings, []);
      // The header alone suffices: the same verdict from the first 8 + N bytes and the size.
      const again = parseShardHeader(bytes.subarray(0, 8 + r.headerBytes), bytes.length, rel);
      assert.ok(!needsMoreBytes(again) && again.ok);
    });
  }

  it('all-dtypes has a scalar, an empty tensor and 18 tensors', () => {
    const r = parse(readFileSync(path.join(FIXTURES_DIR, 'all-dtypes/model.safetensors')));
    assert.equal(r.tensors.length, 18);
    assert.equal(r.tensors.find((t) => t.name === 'scalar')!.numel, 1n);
    assert.equal(r.tensors.find((t) => t.name === 'empty')!.numel, 0n);
    assert.equal(
      r.tensors.reduce((s, t) => s + t.numel, 0n),
      241n,
    );
  });
});

/**
 * Property tests for the header parser: random mutations of real headers (from the reference corpus)
 * never throw, never ask for more bytes than the file or the 100 MB limit, always converge in at most
 * three reads, and every rejection carries a code from the list. Structured mutations are checked
 * against an independent oracle of the reference reader's rules. Runtime is bounded by numRuns.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseShardHeader } from '../../../shared/domain/safetensors.ts';
import { DTYPE_NAMES, MAX_HEADER_SIZE, dtypeBits, needsMoreBytes, type ParsedShardHeader } from '../../../shared/domain/safetensors-format.ts';
import { Finding, SHARD_FINDING_CODES } from '../../../shared/domain/findings.ts';
import { FIXTURES_DIR } from '../../helpers/fixtures.ts';

const NUM_RUNS = Number(process.env['FERRY_FUZZ_RUNS'] ?? 400);
const U64_MAX = (1n << 64n) - 1n;

const bases: Uint8Array[] = [];
for (const d of ['llama-sharded', 'mistral-single', 'all-dtypes']) {
  for (const f of readdirSync(path.join(FIXTURES_DIR, d))) {
    if (f.endsWith('.safetensors')) bases.push(new Uint8Array(readFileSync(path.join(FIXTURES_DIR, d, f))));
  }
}
const headerLen = (b: Uint8Array) => Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));

/**
 * Drives the parser like the use case does: start with nothing, hand it exactly the bytes it asks
 * for. Checks the contract of every step and returns the verdict.
 */
function drive(file: Uint8Array, fileSize = file.length): ParsedShardHeader {
  let have = 0;
  for (let step = 0; step < 4; step++) {
    const r = parseShardHeader(file.subarray(0, have), fileSize, 'shard.safetensors');
    if (!needsMoreBytes(r)) {
      checkVerdict(r);
      return r;
    }
    assert.ok(r.needMoreBytes > have, `asks for ${r.needMoreBytes} holding ${have}`);
    assert.ok(r.needMoreBytes <= fileSize, `asks for ${r.needMoreBytes} of a ${fileSize}-byte file`);
    assert.ok(r.needMoreBytes <= 8 + MAX_HEADER_SIZE, 'never more than the header limit');
    have = r.needMoreBytes;
  }
  assert.fail('did not converge in 3 reads');
}

function checkVerdict(r: ParsedShardHeader): void {
  const errors = r.findings.filter((f) => f.severity === 'error');
  assert.equal(r.ok, errors.length === 0);
  for (const f of r.findings) {
    Finding.parse(f);
    assert.ok((SHARD_FINDING_CODES as readonly string[]).includes(f.code), f.code);
    assert.ok(f.message.length > 0);
  }
  if (r.tensorNames) assert.ok(r.tensors.length <= r.tensorNames.length);
}

const baseArb = fc.integer({ min: 0, max: bases.length - 1 }).map((i) => bases[i]!);

describe('safetensors header fuzzing', () => {
  it('the unmutated corpus is accepted', () => {
    for (const b of bases) assert.equal(drive(b).ok, true);
  });

  it('random byte replacements in the length prefix and header never crash', () => {
    fc.assert(
      fc.property(baseArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (base, edits) => {
        const b = new Uint8Array(base);
        const span = 8 + headerLen(base);
        for (const [pos, v] of edits) b[pos % span] = v;
        drive(b);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('byte insertions and deletions inside the header (length prefix unchanged) are rejected or accepted, never crash', () => {
    fc.assert(
      fc.property(baseArb, fc.nat(), fc.uint8Array({ minLength: 0, maxLength: 16 }), fc.nat({ max: 16 }), (base, at, insert, del) => {
        const n = headerLen(base);
        const pos = 8 + (at % n);
        const b = new Uint8Array(base.length - Math.min(del, base.length - pos) + insert.length);
        b.set(base.subarray(0, pos), 0);
        b.set(insert, pos);
        b.set(base.subarray(pos + Math.min(del, base.length - pos)), pos + insert.length);
        const r = drive(b);
        if (insert.length !== del) assert.equal(r.ok, false, 'a shifted buffer cannot be valid');
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('arbitrary header lengths are handled from the prefix alone', () => {
    const lenArb = fc.oneof(
      fc.bigInt({ min: 0n, max: U64_MAX }),
      fc.bigInt({ min: 0n, max: 70_000n }),
      fc.constantFrom(BigInt(MAX_HEADER_SIZE), BigInt(MAX_HEADER_SIZE) + 1n, U64_MAX, 0n, 1n),
    );
    fc.assert(
      fc.property(baseArb, lenArb, (base, n) => {
        const b = new Uint8Array(base);
        new DataView(b.buffer).setBigUint64(0, n, true);
        const r = drive(b);
        if (n > BigInt(MAX_HEADER_SIZE))
          assert.deepEqual(
            r.findings.map((f) => f.code),
            ['HEADER_TOO_LARGE'],
          );
        else if (8n + n > BigInt(b.length))
          assert.deepEqual(
            r.findings.map((f) => f.code),
            ['HEADER_BEYOND_FILE'],
          );
        else if (n !== BigInt(headerLen(base))) assert.equal(r.ok, false);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('truncated and padded files are rejected with a code', () => {
    fc.assert(
      fc.property(baseArb, fc.integer({ min: -70_000, max: 64 }), (base, delta) => {
        const size = Math.max(0, base.length + delta);
        const b = new Uint8Array(size);
        b.set(base.subarray(0, Math.min(size, base.length)));
        const r = drive(b);
        assert.equal(r.ok, delta === 0);
        if (delta !== 0) assert.ok(r.findings.some((f) => f.severity === 'error'));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('completely random bytes never crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        drive(b);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// ───────────── structured mutations vs an oracle of the reference rules ─────────────

const dimArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 9 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('-1', '1.5', '2.0', '1e1', '18446744073709551615', '4294967296', '18446744073709551616', '"2"') },
);
const dtypeArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...DTYPE_NAMES) },
  { weight: 1, arbitrary: fc.constantFrom('F48', 'bf16', '', 'F8_E4M3FN') },
);
const tensorArb = fc.record({
  dtype: dtypeArb,
  shape: fc.array(dimArb, { maxLength: 3 }),
  beginDelta: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) }),
  endDelta: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) }),
});
const headerArb = fc.record({
  names: fc.uniqueArray(
    fc.string({ maxLength: 12 }).filter((s) => s !== '__metadata__'),
    { maxLength: 6 },
  ),
  tensors: fc.array(tensorArb, { minLength: 6, maxLength: 6 }),
  metadata: fc.constantFrom('none', 'ok', 'null', 'number'),
  shuffle: fc.boolean(),
  sizeDelta: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) }),
  pad: fc.integer({ min: 0, max: 7 }),
});

const INT = /^(?:0|[1-9][0-9]*)$/;
const u64 = (raw: string): bigint | undefined => (INT.test(raw) && BigInt(raw) <= U64_MAX ? BigInt(raw) : undefined);

describe('structured header mutations agree with an oracle of the reference reader', () => {
  it('ok ⇔ the reference rules pass', () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        // Lay the tensors out contiguously by their intended sizes, then perturb.
        let at = 0n;
        const entries = h.names.map((name, i) => {
          const t = h.tensors[i]!;
          const dims = t.shape.map(u64);
          const bits = BigInt(dtypeBits(t.dtype) ?? 8);
          const numel = dims.reduce<bigint>((p, d) => p * (d ?? 1n), 1n);
          const size = numel * bits <= U64_MAX && numel * bits <= 1n << 40n ? (numel * bits) / 8n : 0n;
          let begin = at + BigInt(t.beginDelta);
          let end = at + size + BigInt(t.endDelta);
          if (begin < 0n) begin = 0n;
          if (end < 0n) end = 0n;
          at += size;
          return { name, t, dims, begin, end };
        });
        const dataLen = at + BigInt(h.sizeDelta);
        const order = h.shuffle ? [...entries].reverse() : entries;
        const parts = order.map(
          (e) => `${JSON.stringify(e.name)}:{"dtype":${JSON.stringify(e.t.dtype)},"shape":[${e.t.shape.join(',')}],"data_offsets":[${e.begin},${e.end}]}`,
        );
        if (h.metadata === 'ok') parts.unshift('"__metadata__":{"format":"pt"}');
        if (h.metadata === 'null') parts.unshift('"__metadata__":null');
        if (h.metadata === 'number') parts.unshift('"__metadata__":{"format":1}');
        const text = new TextEncoder().encode(`{${parts.join(',')}}${' '.repeat(h.pad)}`);
        const prefix = new Uint8Array(8 + text.length);
        new DataView(prefix.buffer).setBigUint64(0, BigInt(text.length), true);
        prefix.set(text, 8);
        const fileSizeBig = 8n + BigInt(text.length) + (dataLen < 0n ? 0n : dataLen);
        if (fileSizeBig > BigInt(Number.MAX_SAFE_INTEGER)) return; // not a file size anyone has
        const fileSize = Number(fileSizeBig);

        const r = parseShardHeader(prefix, fileSize, 'shard.safetensors');
        if (needsMoreBytes(r)) return assert.fail('the whole header was given');
        checkVerdict(r);

        // The oracle: read_metadata + Metadata::validate.
        let ok = h.metadata !== 'number';
        for (const e of entries) {
          if (dtypeBits(e.t.dtype) === undefined || e.dims.some((d) => d === undefined)) ok = false;
        }
        if (ok) {
          const sorted = [...entries].sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0));
          let start = 0n;
          for (const e of sorted) {
            if (e.begin !== start || e.end < e.begin) ok = false;
            start = e.end;
            let numel: bigint | undefined = 1n;
            for (const d of e.dims as bigint[]) {
              numel = numel === undefined ? undefined : numel * d;
              if (numel !== undefined && numel > U64_MAX) numel = undefined;
            }
            const nbits = numel === undefined ? undefined : numel * BigInt(dtypeBits(e.t.dtype)!);
            if (nbits === undefined || nbits > U64_MAX || nbits % 8n !== 0n) ok = false;
            else if (e.end >= e.begin && e.end - e.begin !== nbits / 8n) ok = false;
          }
          if (8n + BigInt(text.length) + start !== BigInt(fileSize)) ok = false;
        }
        assert.equal(r.ok, ok, `${new TextDecoder().decode(text)} size=${fileSize}: ${JSON.stringify(r.findings)}`);
        if (!ok) assert.ok(r.findings.some((f) => f.severity === 'error'));
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });
});

/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud Storage stores for every
 * object (`crc32c`: the big-endian 4 bytes in base64). Pure, slicing-by-8: eight table lookups per
 * 8 bytes instead of one per byte.
 *
 * Same result as `@google-cloud/storage`'s own CRC32C class (node_modules/@google-cloud/storage
 * @8.4.0 build/esm/src/crc32c.js: `CRC32C_EXTENSIONS` is the byte table of this polynomial, ported
 * from github.com/google/crc32c src/crc32c_portable.cc; `update()` walks one byte at a time and
 * `toString()` is `toBuffer()` — the CRC as a big-endian uint32 — in base64). The SDK class is the
 * test oracle (test/unit/domain/crc32c.test.ts); this one is several times faster
 * (BENCHMARKS.md, `npm run bench -- verify`).
 */

const POLY = 0x82f63b78;

const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0]![i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) t[s]![i] = (t[0]![t[s - 1]![i]! & 0xff]! ^ (t[s - 1]![i]! >>> 8)) >>> 0;
  }
  return t;
})();

/** A running CRC32C. `update` any number of times, in order; `base64()` as GCS reports it. */
export class Crc32c {
  #crc = 0;

  update(data: Uint8Array): this {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
    let c = ~this.#crc >>> 0;
    let i = 0;
    const n = data.length;
    const end8 = n - (n % 8);
    while (i < end8) {
      const a = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ c;
      c =
        t7[a & 0xff]! ^
        t6[(a >>> 8) & 0xff]! ^
        t5[(a >>> 16) & 0xff]! ^
        t4[a >>> 24]! ^
        t3[data[i + 4]!]! ^
        t2[data[i + 5]!]! ^
        t1[data[i + 6]!]! ^
        t0[data[i + 7]!]!;
      i += 8;
    }
    while (i < n) c = t0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
    this.#crc = ~c >>> 0;
    return this;
  }

  /** The CRC as an unsigned 32-bit number. */
  value(): number {
    return this.#crc >>> 0;
  }

  /** Big-endian 4 bytes in base64: the form of GCS's `crc32c` field. */
  base64(): string {
    const v = this.#crc >>> 0;
    return Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]).toString('base64');
  }
}

export const crc32cBase64 = (data: Uint8Array): string => new Crc32c().update(data).base64();

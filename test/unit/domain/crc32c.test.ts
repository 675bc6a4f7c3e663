/**
 * ferry's CRC32C against the SDK's (the oracle: @google-cloud/storage@8.4.0
 * build/esm/src/crc32c.js, the class the SDK validates uploads and downloads with) and the
 * standard check value of CRC-32C ("123456789" → 0xE3069283, RFC 3720 B.4 / the CRC catalogue).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CRC32C } from '@google-cloud/storage';
import { Crc32c, crc32cBase64 } from '../../../shared/domain/crc32c.ts';

test('the CRC-32C check value', () => {
  assert.equal(new Crc32c().update(Buffer.from('123456789')).value(), 0xe3069283);
  assert.equal(new Crc32c().value(), 0);
});

test('same base64 as the SDK for every length 0..100 and random large buffers', () => {
  for (let n = 0; n <= 100; n++) {
    const b = randomBytes(n);
    const sdk = new CRC32C();
    sdk.update(b);
    assert.equal(crc32cBase64(b), sdk.toString(), `length ${n}`);
  }
  const big = randomBytes(3 * 1024 * 1024 + 7);
  const sdk = new CRC32C();
  sdk.update(big);
  assert.equal(crc32cBase64(big), sdk.toString());
});

test('updating in pieces of any size gives the CRC of the whole', () => {
  const b = randomBytes(10_000);
  const whole = crc32cBase64(b);
  for (const piece of [1, 3, 7, 8, 9, 4096]) {
    const c = new Crc32c();
    for (let i = 0; i < b.length; i += piece) c.update(b.subarray(i, i + piece));
    assert.equal(c.base64(), whole, `pieces of ${piece}`);
  }
});

/**
 * The local stack's port picker. A stack picks ~15 ports, some long before their servers bind them
 * (a function's port is written into the Storage emulator's config first), so one process must never
 * be handed the same port twice — CI once failed when etcd was given a function's port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, freeStablePort, ephemeralRange } from '../../../infra/local/proc.ts';

test('freeStablePort and freePort never hand out a port twice, even before anything binds it', async () => {
  const seen = new Set<number>();
  for (let i = 0; i < 300; i++) {
    const p = i % 3 === 0 ? await freePort() : await freeStablePort();
    assert.ok(!seen.has(p), `port ${p} handed out twice (call ${i})`);
    seen.add(p);
  }
});

test('freeStablePort stays out of the kernel ephemeral range and honours exclude', async () => {
  const eph = ephemeralRange();
  const outside = eph.lo - 10_000 + (65_535 - eph.hi);
  const exclude = new Set<number>();
  for (let i = 0; i < 100; i++) {
    const p = await freeStablePort(exclude);
    assert.ok(p >= 10_000 && p <= 65_535, `port ${p} out of range`);
    if (outside >= 1000) assert.ok(p < eph.lo || p > eph.hi, `port ${p} is in the ephemeral range ${eph.lo}-${eph.hi}`);
    assert.ok(!exclude.has(p));
    exclude.add(p + 1);
  }
});

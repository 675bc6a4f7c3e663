import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffVersions, formatBytes, formatCount, versionFacts } from '../../../shared/domain/version-diff.ts';
import { VersionSummary } from '../../../shared/domain/version.ts';

const summary = (over: Partial<VersionSummary> = {}): VersionSummary => ({
  layout: 'sharded',
  shards: 4,
  tensors: 291,
  parameters: 8_030_261_248,
  parametersByDtype: { BF16: 8_030_261_248 },
  tensorBytes: 16_060_522_496,
  dtypes: ['BF16'],
  headerBytes: 120_000,
  shardBytes: 16_060_642_496,
  config: null,
  io: { requests: 5, bytesRead: 120_040 },
  ...over,
});

test('facts come from the validation summary; none before validation', () => {
  assert.deepEqual(versionFacts(summary()), { shards: 4, dtypes: ['BF16'], parameters: 8_030_261_248, tensorBytes: 16_060_522_496 });
  assert.equal(versionFacts(null), null);
  // As stored: VersionSummary reads int64 strings and early documents' {total} as numbers.
  assert.deepEqual(
    versionFacts(VersionSummary.parse({ parameters: { total: '12' }, shards: '2' })),
    { shards: 2, dtypes: [], parameters: 12, tensorBytes: null },
    'int64 strings and {total}',
  );
});

test('what changed: shards, dtypes, parameters, bytes — and nothing when nothing did', () => {
  const a = versionFacts(summary())!;
  const b = versionFacts(summary({ shards: 2, dtypes: ['F8_E4M3', 'BF16'], tensorBytes: 8_030_261_248 + 2_000_000 }))!;
  const changes = diffVersions(a, b);
  assert.deepEqual(
    changes.map((c) => c.fact),
    ['shards', 'dtypes', 'bytes'],
  );
  assert.equal(changes[0]!.text, 'shards 4 → 2');
  assert.equal(changes[1]!.text, 'dtypes +F8_E4M3');
  assert.match(changes[2]!.text, /^bytes 15\.0 GiB → 7\.5 GiB \(−50\.0%\)$/);
  const c = diffVersions(a, versionFacts(summary({ parameters: 8_030_261_248 * 2, dtypes: ['F32'] }))!);
  assert.deepEqual(
    c.map((x) => x.text),
    ['dtypes +F32 −BF16', 'parameters 8.03B → 16.06B (+100.0%)'],
  );
  assert.deepEqual(diffVersions(a, a), []);
});

test('formatting', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(16 * 1024 ** 3), '16.0 GiB');
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(124_000), '124.0K');
  assert.equal(formatCount(7_241_732_096), '7.24B');
  assert.equal(formatCount(1.2e12), '1.20T');
});

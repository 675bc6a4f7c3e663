/**
 * What the console's batched reads promise, checked the same way against the memory fakes (unit)
 * and the Firestore adapters on the emulator (integration): every version's brief in one read with
 * only the brief's fields, sizes of a set of versions, rollouts by id — missing ones left out.
 */
import assert from 'node:assert/strict';
import type { CheckpointState } from '../../shared/ports/checkpoint-state.ts';
import type { RolloutState } from '../../shared/ports/rollout-state.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';
import type { Rollout } from '../../shared/domain/rollout.ts';
import { at, rolloutDoc, versionDoc } from './console-data.ts';
import { newVersionDoc } from '../../shared/domain/version.ts';

export interface ConsoleReadsUnderTest {
  versions: Pick<CheckpointState, 'listVersionBriefs' | 'getTensorBytes'>;
  rollouts: Pick<RolloutState, 'getRollouts'>;
  /** Stores these documents where the implementation reads them. */
  seed(docs: { versions: VersionDoc[]; rollouts: Rollout[] }): Promise<void>;
}

/** `prefix` names this run's models and rollouts (a shared emulator holds other tests' documents too). */
export async function checkConsoleReads(u: ConsoleReadsUnderTest, prefix: string): Promise<void> {
  const a = `${prefix}-a`;
  const b = `${prefix}-b`;
  const big = (model: string, version: string, tensorBytes: number, valid = true) =>
    versionDoc(model, version, { createdAt: at(60), valid, parameters: 7e9, tensorBytes, shards: 3, dtypes: ['BF16'] });
  const versions = [
    big(a, 'v1', 14_000_000_000),
    big(a, 'v2', 16_000_000_000, false),
    big(b, 'v1', 2_000_000_000),
    newVersionDoc(b, 'v2', `gs://ferry-models/models/${b}/v2/`, at(120).toISOString()), // incomplete: no summary
  ];
  const rollouts = [1, 2].map((i) => rolloutDoc(`${prefix}-r${i}`, { model: a, version: 'v1', createdAt: at(i * 100), path: [['applying', 'Started', 1]] }));
  await u.seed({ versions, rollouts });

  const briefs = (await u.versions.listVersionBriefs()).filter((v) => v.model === a || v.model === b);
  const key = (v: { model: string; version: string }) => `${v.model}/${v.version}`;
  assert.deepEqual(
    briefs.sort((x, y) => key(x).localeCompare(key(y))),
    versions.map((v) => ({ model: v.model, version: v.version, status: v.status, createdAt: v.createdAt })).sort((x, y) => key(x).localeCompare(key(y))),
    'one brief per version, with only model, version, status and createdAt',
  );

  const sizes = await u.versions.getTensorBytes([
    { model: a, version: 'v1' },
    { model: a, version: 'missing' },
    { model: b, version: 'v1' },
    { model: b, version: 'v2' },
  ]);
  assert.deepEqual(
    sizes.sort((x, y) => key(x).localeCompare(key(y))),
    [
      { model: a, version: 'v1', tensorBytes: 14_000_000_000 },
      { model: b, version: 'v1', tensorBytes: 2_000_000_000 },
      { model: b, version: 'v2', tensorBytes: null },
    ],
  );
  assert.deepEqual(await u.versions.getTensorBytes([]), []);

  const got = await u.rollouts.getRollouts([`${prefix}-r2`, `${prefix}-nope`, `${prefix}-r1`]);
  assert.deepEqual(got.map((r) => r.id).sort(), [`${prefix}-r1`, `${prefix}-r2`]);
  assert.deepEqual(
    got.find((r) => r.id === `${prefix}-r1`),
    rollouts[0],
  );
  assert.deepEqual(await u.rollouts.getRollouts([]), []);
}

/**
 * Pinning what is served (issue #20): while a target serves a version (its last good rollout) or a
 * rollout of it is in flight, the version's objects carry a GCS temporary hold, so they cannot be
 * overwritten or deleted; the reconciler releases the holds once nothing uses the version.
 *
 * Which holds are ferry's: the object itself says so. The hold and the custom metadata marker
 * `ferry-hold: <rolloutId>` are set in one objects.patch (shared/ports/object-store.ts
 * setTemporaryHold), so no crash can leave a hold ferry set without its mark, or a mark without the
 * hold; a hold found without the mark was set by someone else and is never touched (not renewed,
 * not released). The version document's `holds` note only tells the reconciler where to look.
 *
 * Concurrency, without locks:
 * - every PATCH is conditional on the generation and metageneration the caller listed, so a PATCH
 *   decided on a stale listing fails (412: `conflict`) and is decided again from a fresh listing;
 * - two rollouts of one version both PATCH (each renews with its own rollout id): the end state is
 *   the same, held and marked;
 * - a release racing a new rollout: the releaser lists, then re-reads who uses the version, then
 *   PATCHes. A rollout that became active before the re-read is seen and the release is skipped;
 *   one that became active after it PATCHes its holds before applying, which changes every held
 *   object's metageneration: the release PATCHes on the older listing fail, or, when they came
 *   first, the rollout's own PATCH holds the object again. The note on the version is cleared only
 *   if no rollout rewrote it meanwhile (recordHolds ifRolloutId).
 */
import { FerryError, asFerryError } from '../domain/errors.ts';
import { heldByFerry, heldByOthers, versionsInUse } from '../domain/holds.ts';
import type { VersionDoc } from '../domain/version.ts';
import type { TargetState } from '../domain/target-state.ts';
import type { TeardownRun } from '../domain/teardown-run.ts';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.ts';
import type { CheckpointState } from '../ports/checkpoint-state.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { versionLocation } from './integrity.ts';

/** Listings per call before a version whose objects keep changing under ferry is left for the next time. */
const MAX_PASSES = 3;

export interface HoldDeps {
  objects: (bucket: string) => ObjectStore;
  versions: Pick<CheckpointState, 'recordHolds'>;
  clock: Clock;
  logger: Logger;
}

export type HoldResult =
  | { status: 'held'; held: number; others: number }
  /** The store cannot hold objects (a local directory, or the Storage emulator: 501). */
  | { status: 'unsupported' };

/**
 * Holds every validated object of `version` (its `files`: name and generation) for `rolloutId`,
 * right before that rollout applies. An object no longer at its validated generation refuses the
 * apply (CONTENT_CHANGED): it changed after the re-listing. Other failures throw (HOLD_FAILED,
 * STORAGE_*); the caller decides whether the rollout goes on (it does: shared/app/rollouts.ts).
 */
export async function holdVersion(version: VersionDoc, rolloutId: string, d: HoldDeps): Promise<HoldResult> {
  const { bucket, prefix } = versionLocation(version.uri);
  const store = d.objects(bucket);
  if (!store.setTemporaryHold || version.files.length === 0) return { status: 'unsupported' };
  // The note first: a crash after some PATCHes still leaves the reconciler a reason to look here.
  await d.versions.recordHolds(version.model, version.version, { rolloutId, at: d.clock.now().toISOString() });
  let todo = version.files.map((f) => f.name);
  let held = 0;
  let others = 0;
  for (let pass = 0; pass < MAX_PASSES && todo.length; pass++) {
    const listed = new Map((await store.list(prefix)).map((o) => [o.name.slice(prefix.length), o]));
    const retry: string[] = [];
    for (const name of todo) {
      const want = version.files.find((f) => f.name === name)!;
      const o = listed.get(name);
      if (!o || o.generation !== want.generation) {
        throw new FerryError(
          'CONTENT_CHANGED',
          `${version.model}/${version.version}: ${name} ${o ? `is now generation ${o.generation}, not the validated ${want.generation}` : 'was deleted'} while ferry was holding the version; not applying it`,
          { details: { model: version.model, version: version.version, file: name } },
        );
      }
      if (heldByOthers(o)) {
        others++; // someone else's hold: it protects the object as well; ferry does not mark it as its own
        continue;
      }
      const r = await store.setTemporaryHold(o.name, { hold: true, marker: rolloutId }, at(o));
      if (r === 'unsupported') {
        // Nothing can be held here: take the note back, so the reconciler does not look here each tick.
        await d.versions.recordHolds(version.model, version.version, null, { ifRolloutId: rolloutId });
        return { status: 'unsupported' };
      }
      if (r === 'conflict') retry.push(name);
      else held++;
    }
    todo = retry;
  }
  if (todo.length) {
    throw new FerryError(
      'HOLD_FAILED',
      `${todo.length} object(s) of ${version.model}/${version.version} kept changing while ferry held them (${todo.slice(0, 3).join(', ')})`,
      {
        retryable: true,
      },
    );
  }
  return { status: 'held', held, others };
}

export interface ReleaseDeps {
  /** Every target's state. */
  targets: () => Promise<TargetState[]>;
  rollouts: Pick<RolloutState, 'getRollout'>;
  versions: Pick<CheckpointState, 'listHeldVersions' | 'recordHolds'>;
  /** Recent teardown runs (newest first): a target teardown scaled to zero or whose cluster it deleted uses nothing. */
  teardownRuns?: (() => Promise<TeardownRun[]>) | undefined;
  objects: (bucket: string) => ObjectStore;
  logger: Logger;
}

/** Who uses which version now ("model/version" → target keys), read fresh each time it is asked. */
async function inUse(d: ReleaseDeps): Promise<Map<string, string[]>> {
  const targets = await d.targets();
  const active = new Map<string, { model: string; version: string }>();
  for (const t of targets) {
    if (!t.activeRolloutId) continue;
    const r = await d.rollouts.getRollout(t.activeRolloutId);
    if (r) active.set(t.key, { model: r.model, version: r.version });
  }
  const runs = d.teardownRuns ? await d.teardownRuns() : [];
  return versionsInUse(targets, active, runs);
}

/**
 * The reconciler's step: for each version with a `holds` note that no target uses any more
 * (shared/domain/holds-use.ts versionsInUse), release the holds that carry ferry's marker, then
 * clear the note. Holds without the marker are left alone.
 */
export async function releaseUnusedHolds(d: ReleaseDeps): Promise<{ versions: number; released: number; kept: number; failed: number }> {
  const held = await d.versions.listHeldVersions();
  const out = { versions: held.length, released: 0, kept: 0, failed: 0 };
  if (held.length === 0) return out;
  let unsupportedLogged = false;
  const used = await inUse(d);
  for (const v of held) {
    const key = `${v.model}/${v.version}`;
    if (used.has(key)) continue;
    const log = d.logger.child({ model: v.model, version: v.version });
    try {
      const { bucket, prefix } = versionLocation(v.uri);
      const store = d.objects(bucket);
      if (!store.setTemporaryHold) continue;
      let done = true;
      for (let pass = 0; pass < MAX_PASSES; pass++) {
        const ours = (await store.list(prefix)).filter(heldByFerry);
        if (ours.length === 0) break;
        // Re-read who uses it right before releasing: a rollout admitted meanwhile keeps the holds.
        const now = await inUse(d);
        if (now.has(key)) {
          done = false;
          out.kept++;
          log.info('not releasing the holds: the version is in use again', { targets: now.get(key) });
          break;
        }
        let conflicts = 0;
        let unsupported = false;
        for (const o of ours) {
          const r = await store.setTemporaryHold(o.name, { hold: false, marker: null }, at(o));
          if (r === 'done') out.released++;
          else if (r === 'conflict') conflicts++;
          else unsupported = true;
          if (unsupported) break;
        }
        if (unsupported) {
          // No hold can exist in this store: nothing to release; the note goes.
          if (!unsupportedLogged) log.info('holds are not supported by this object store; nothing to release', { code: 'HOLDS_UNSUPPORTED' });
          unsupportedLogged = true;
          break;
        }
        if (conflicts === 0) break;
        done = pass < MAX_PASSES - 1; // objects changed under the release: list and decide again
      }
      if (done) {
        const cleared = await d.versions.recordHolds(v.model, v.version, null, { ifRolloutId: v.holds?.rolloutId ?? '' });
        if (cleared) log.info('released the temporary holds ferry set: no target uses this version any more');
      }
    } catch (e) {
      out.failed++;
      const err = asFerryError(e);
      log.warn(`could not release the temporary holds; the next tick tries again: ${err.message}`, { code: 'HOLD_FAILED', error: err });
    }
  }
  return out;
}

const at = (o: ObjectInfo) => ({ generation: o.generation, metageneration: o.metageneration ?? '1' });

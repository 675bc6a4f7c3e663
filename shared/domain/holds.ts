/**
 * Issue #20, pinning what is served: the custom metadata marker ferry writes on every object it puts
 * a GCS temporary hold on, in the same PATCH as the hold (shared/app/holds.ts). ferry releases only
 * holds whose object carries this key; a hold without it was set by someone else and is left alone.
 * The value names the rollout that set (or last renewed) it, so each rollout's PATCH changes the
 * object's metageneration — what makes a release that races a new rollout lose (its
 * ifMetagenerationMatch precondition fails).
 */
import type { ObjectInfo } from './object-info.ts';
import type { TargetState } from './target-state.ts';
import type { TeardownRun } from './teardown-run.ts';

export const HOLD_MARKER_KEY = 'ferry-hold';

/** Whether ferry set this object's hold (held, and carrying ferry's marker). */
export const heldByFerry = (o: Pick<ObjectInfo, 'metadata' | 'temporaryHold'>): boolean => o.temporaryHold === true && !!o.metadata?.[HOLD_MARKER_KEY];

/** Whether someone other than ferry holds it (held, without ferry's marker): never touched. */
export const heldByOthers = (o: Pick<ObjectInfo, 'metadata' | 'temporaryHold'>): boolean => o.temporaryHold === true && !o.metadata?.[HOLD_MARKER_KEY];

/**
 * Which versions are in use ("model/version" → the target keys using it): each target's in-flight
 * rollout (`active`: target key → its version), and its last good rollout unless a teardown run
 * took that target down after it was deployed — scaled its Deployment to zero, or deleted its
 * cluster (a `done`, or for a delete `started`, result later than `lastGood.at`, not a dry run).
 */
export function versionsInUse(
  targets: readonly TargetState[],
  active: ReadonlyMap<string, { model: string; version: string }>,
  runs: readonly TeardownRun[],
): Map<string, string[]> {
  const downAt = new Map<string, string>(); // "target:<key>" | "cluster:<name>" → latest teardown time
  for (const run of runs) {
    if (run.dryRun) continue;
    for (const r of run.results) {
      const a = r.action;
      const k =
        a.kind === 'scale-deployment' && r.outcome === 'done'
          ? `target:${a.targetKey}`
          : a.kind === 'delete-cluster' && (r.outcome === 'done' || r.outcome === 'started')
            ? `cluster:${a.cluster}`
            : null;
      if (k && (downAt.get(k) ?? '') < r.at) downAt.set(k, r.at);
    }
  }
  const out = new Map<string, string[]>();
  const use = (model: string, version: string, target: string) => {
    const k = `${model}/${version}`;
    out.set(k, [...new Set([...(out.get(k) ?? []), target])].sort());
  };
  for (const t of targets) {
    const a = active.get(t.key);
    if (a) use(a.model, a.version, t.key);
    if (!t.lastGood) continue;
    const down = [downAt.get(`target:${t.key}`), downAt.get(`cluster:${t.target.cluster}`)].some(
      (x) => x !== undefined && Date.parse(x) > Date.parse(t.lastGood!.at),
    );
    if (!down) use(t.lastGood.model, t.lastGood.version, t.key);
  }
  return out;
}

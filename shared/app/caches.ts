/**
 * Anywhere Cache use cases. Each observes (the API, the stored record), asks a pure function in
 * shared/domain/cache.ts what to do, does it, and records the result in `caches/{bucket}~{zone}`:
 *
 * - planRolloutCaches — at request time: the bucket's location, the zones that can host the
 *   accelerator, the zones with a running cache → the rollout's cache plan (and, for pin-one-zone,
 *   the zone node selector rendered into the Deployment), or a reason to refuse the request.
 * - ensureCaches — in the rollout's caching phase (every reconcile step): per planned zone, poll the
 *   recorded operation, read the cache, create it if absent (ALREADY_EXISTS counts as success),
 *   resume it if paused or disabled, update TTL / admission policy when the wish differs. Never
 *   waits for an operation: it is recorded and polled by the next step. Returns the caches' states
 *   for the rollout state machine, which decides when caching ends.
 * - advanceCaches — from the scheduled reconciler: finish watching operations no rollout waits for
 *   any more, and refresh `lastUsedAt` of the caches a running Deployment relies on.
 */
import {
  planCache,
  decideCacheAction,
  LAST_USED_RESOLUTION_SECONDS,
  type CacheObservation,
  type LiveCache,
  type PlanCacheResult,
  type RolloutCachePlan,
} from '../domain/cache.ts';
import { recordCacheEvent, cacheNeedsRefresh, observationOf, type CacheEvent, type CacheRecord, type CacheUse } from '../domain/cache-record.ts';
import type { DeployRequest } from '../domain/deploy-request.ts';
import { cacheId } from '../domain/names.ts';
import { templateRolloutId } from '../domain/rendered-spec.ts';
import { asFerryError } from '../domain/errors.ts';
import { cacheCodeOf, type CacheControl } from '../ports/cache-control.ts';
import type { CacheDeps } from '../ports/caches.ts';
import type { ClusterProvider } from '../ports/cluster.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';

export type { CacheDeps };

// ---------------------------------------------------------------------------------------------
// Request time

/**
 * The cache plan of a request whose cache.mode is not off. Throws FerryErrors (retryable ones for
 * the caller to retry; permanent ones are a reason to refuse the request).
 */
export async function planRolloutCaches(
  request: DeployRequest,
  resolved: { bucket: string; accelerator: string },
  deps: CacheDeps,
  log: Logger,
): Promise<PlanCacheResult> {
  const { bucket, accelerator } = resolved;
  const location = await deps.buckets.location(bucket);
  let hostZones: string[] | null;
  try {
    hostZones = await deps.zones.acceleratorZones(request.target.cluster, accelerator);
  } catch (e) {
    // Explicit zones do not need the cluster; without them the cluster is the only source.
    if (!request.cache.zones) throw e;
    log.warn(`could not list the zones of ${request.target.cluster}; using the requested cache zones as they are`, { error: asFerryError(e) });
    hostZones = null;
  }
  let runningZones: string[] = [];
  if (request.cache.mode === 'pin-one-zone') runningZones = await runningCacheZones(bucket, deps, log);
  return planCache({
    cache: request.cache,
    bucket,
    location,
    accelerator,
    cluster: request.target.cluster,
    hostZones,
    runningZones,
    ...(deps.defaultMaxWaitSeconds !== undefined ? { defaultMaxWaitSeconds: deps.defaultMaxWaitSeconds } : {}),
  });
}

/** Zones with a RUNNING cache of the bucket: from the API, or from the records when it cannot answer. */
async function runningCacheZones(bucket: string, deps: CacheDeps, log: Logger): Promise<string[]> {
  try {
    return (await deps.control.list(bucket)).filter((c) => c.state === 'running').map((c) => c.zone);
  } catch (e) {
    log.warn(`could not list the caches of gs://${bucket}; choosing the pinned zone from ferry's records`, { error: asFerryError(e) });
    return (await deps.records.list({ bucket })).filter((r) => r.state === 'running').map((r) => r.zone);
  }
}

// ---------------------------------------------------------------------------------------------
// Caching phase

/** Makes every planned cache exist and run (as far as one step can); returns their states. */
export async function ensureCaches(plan: RolloutCachePlan, use: CacheUse, deps: CacheDeps, clock: Clock, log: Logger): Promise<CacheObservation[]> {
  const desired = { ttlSeconds: plan.ttlSeconds, admissionPolicy: plan.admissionPolicy };
  return Promise.all(
    plan.zones.map(async (zone) => {
      const zlog = log.child({ bucket: plan.bucket, zone });
      try {
        return await ensureZone(plan.bucket, zone, desired, use, deps, clock, zlog);
      } catch (e) {
        const err = asFerryError(e, 'CACHE_UNAVAILABLE', true);
        zlog.warn(`cache ${cacheId(plan.bucket, zone)}: ${err.message}; trying again at the next step`, { code: err.code });
        return observationOf(zone, 'unknown', `${err.code}: ${err.message}`);
      }
    }),
  );
}

type Events = Array<Omit<CacheEvent, 'bucket' | 'zone' | 'now'>>;

async function ensureZone(
  bucket: string,
  zone: string,
  desired: { ttlSeconds: number | null; admissionPolicy: string | null },
  use: CacheUse,
  deps: CacheDeps,
  clock: Clock,
  log: Logger,
): Promise<CacheObservation> {
  const stored = await deps.records.get(bucket, zone);
  const events: Events = [];
  const now = () => clock.now();
  const working = (): CacheRecord => events.reduce<CacheRecord | undefined>((r, e) => recordCacheEvent(r, { ...e, bucket, zone, now: now() }), stored)!;

  await pollOperation(stored, deps.control, events, log);
  let live = await deps.control.get(bucket, zone);
  events.push({ live });
  let why: string | undefined;
  // At most two actions: e.g. a resume finding the cache gone (deleted after its grace), then a create.
  for (let i = 0; i < 2; i++) {
    const decision = decideCacheAction(desired, live, working(), now());
    if (decision.kind === 'none') break;
    if (decision.kind === 'wait') {
      why = decision.why;
      break;
    }
    const settings = {
      ...(desired.ttlSeconds !== null ? { ttlSeconds: desired.ttlSeconds } : {}),
      ...(desired.admissionPolicy !== null ? { admissionPolicy: desired.admissionPolicy } : {}),
    };
    try {
      if (decision.kind === 'create') {
        const op = await deps.control.create(bucket, zone, settings);
        live = (await deps.control.get(bucket, zone)) ?? live;
        events.push({ action: 'create', operation: { name: op.name, kind: 'create', startedAt: now().toISOString() }, live, error: null, use });
        log.info(`creating Anywhere Cache ${cacheId(bucket, zone)}`, { operation: op.name, rolloutId: use.rolloutId });
      } else if (decision.kind === 'resume') {
        const before = live?.state;
        live = await deps.control.resume(bucket, zone);
        events.push({ action: 'resume', live, error: null, use });
        log.info(`resumed ${before} Anywhere Cache ${cacheId(bucket, zone)}`, { rolloutId: use.rolloutId });
      } else {
        const op = await deps.control.update(bucket, zone, {
          ...(decision.ttlSeconds !== null ? { ttlSeconds: decision.ttlSeconds } : {}),
          ...(decision.admissionPolicy !== null ? { admissionPolicy: decision.admissionPolicy } : {}),
        });
        live = (await deps.control.get(bucket, zone)) ?? live;
        events.push({ action: 'update', operation: { name: op.name, kind: 'update', startedAt: now().toISOString() }, live, error: null, use });
        log.info(`updating Anywhere Cache ${cacheId(bucket, zone)}`, {
          operation: op.name,
          ttlSeconds: decision.ttlSeconds,
          admissionPolicy: decision.admissionPolicy,
        });
      }
      break;
    } catch (e) {
      const code = cacheCodeOf(e);
      const message = e instanceof Error ? e.message : String(e);
      if (code === 'CACHE_ALREADY_EXISTS' || code === 'CACHE_FAILED_PRECONDITION' || (code === 'CACHE_NOT_FOUND' && decision.kind !== 'create')) {
        // Someone else got there first, or the state moved under us: look again, decide again.
        live = await deps.control.get(bucket, zone);
        events.push({ live });
        continue;
      }
      if (code === 'CACHE_UNAVAILABLE' || !code) throw e;
      // INVALID_ARGUMENT (zone not offered, …), FORBIDDEN, NOT_FOUND (bucket): this cache cannot be had.
      events.push({ error: { code, message }, ...(decision.kind === 'create' ? { failed: true } : {}) });
      log.warn(`cannot ${decision.kind} Anywhere Cache ${cacheId(bucket, zone)}: ${message}`, { code });
      break;
    }
  }
  events.push({ use });
  const saved = await deps.records.mutate(bucket, zone, (current) =>
    events.reduce<CacheRecord | undefined>((r, e) => recordCacheEvent(r, { ...e, bucket, zone, now: now() }), current),
  );
  const rec = saved ?? working();
  if (rec.state === 'failed') return observationOf(zone, 'failed', rec.lastError ? `${rec.lastError.code}: ${rec.lastError.message}` : undefined);
  // A reason only where the state does not say it already (an update pending, a failed creation held back).
  return observationOf(zone, rec.state, rec.state === 'running' || rec.state === 'creating' ? undefined : why);
}

/** Polls the record's operation; a finished one is forgotten (a failed create marks the cache failed). */
async function pollOperation(rec: CacheRecord | undefined, control: CacheControl, events: Events, log: Logger): Promise<void> {
  const op = rec?.operation;
  if (!op) return;
  try {
    const progress = await control.getOperation(op.name, op.kind);
    if (!progress.done) return;
    if (progress.error) {
      log.warn(`Anywhere Cache ${op.kind} ${op.name} failed: ${progress.error.message}`, { code: progress.error.code });
      events.push({ operationDone: true, error: progress.error, ...(op.kind === 'create' ? { failed: true } : {}) });
    } else {
      events.push({ operationDone: true, ...(progress.cache ? { live: progress.cache } : {}) });
    }
  } catch (e) {
    if (cacheCodeOf(e) === 'CACHE_NOT_FOUND')
      events.push({ operationDone: true }); // expired or unknown: the cache itself tells the rest
    else throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Scheduled

export interface AdvanceCachesDeps {
  caches: CacheDeps;
  rollouts: RolloutState;
  clusters: ClusterProvider;
  clock: Clock;
  logger: Logger;
}

/**
 * Refreshes records with an operation in flight or an unsettled state (no rollout may be waiting on
 * them any more), and marks as used the caches that a running Deployment relies on (its pod
 * template's rollout planned them). One failing cache or target never blocks the others.
 */
export async function advanceCaches(deps: AdvanceCachesDeps): Promise<{ refreshed: number; touched: number; failed: number }> {
  const { records, control } = deps.caches;
  const all = await records.list();
  let refreshed = 0;
  let touched = 0;
  let failed = 0;
  for (const rec of all.filter(cacheNeedsRefresh)) {
    try {
      const events: Events = [];
      await pollOperation(rec, control, events, deps.logger);
      const live: LiveCache | null = await control.get(rec.bucket, rec.zone);
      events.push({ live });
      // A record deleted meanwhile stays deleted (only rollouts create records).
      await records.mutate(rec.bucket, rec.zone, (cur) =>
        cur ? events.reduce<CacheRecord>((r, e) => recordCacheEvent(r, { ...e, bucket: rec.bucket, zone: rec.zone, now: deps.clock.now() }), cur) : undefined,
      );
      refreshed++;
    } catch (e) {
      failed++;
      deps.logger.warn(`could not refresh cache ${rec.id}; the next tick retries`, { error: asFerryError(e) });
    }
  }

  const now = deps.clock.now();
  const stale = (iso: string | null) => !iso || (now.getTime() - Date.parse(iso)) / 1000 >= LAST_USED_RESOLUTION_SECONDS;
  const targets = new Map(all.flatMap((r) => r.targets).map((t) => [t.targetKey, t.target] as const));
  for (const [key, target] of targets) {
    try {
      const cluster = await deps.clusters.get(target.cluster);
      const d = await cluster.getDeployment(target.namespace, target.name);
      if (!d || (d.status?.availableReplicas ?? 0) < 1 || (d.spec?.replicas ?? 1) < 1) continue;
      const rolloutId = templateRolloutId(d);
      const plan = rolloutId ? (await deps.rollouts.getRollout(rolloutId))?.cache : undefined;
      if (!plan) continue;
      for (const zone of plan.zones) {
        const rec = all.find((r) => r.bucket === plan.bucket && r.zone === zone);
        const entry = rec?.targets.find((t) => t.targetKey === key);
        if (!rec || !(stale(rec.lastUsedAt) || stale(entry?.lastUsedAt ?? null))) continue;
        await records.mutate(plan.bucket, zone, (cur) =>
          cur ? recordCacheEvent(cur, { bucket: plan.bucket, zone, now: deps.clock.now(), touch: { targetKey: key } }) : undefined,
        );
        touched++;
      }
    } catch (e) {
      failed++;
      deps.logger.debug(`could not check whether ${key} still relies on its caches`, { error: asFerryError(e) });
    }
  }
  return { refreshed, touched, failed };
}

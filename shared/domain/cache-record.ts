/**
 * The Firestore record of an Anywhere Cache ferry tracks (`caches/{cacheId}`, names.ts cacheId):
 * its state, settings, pending operation, who created it and which targets and rollouts rely on it,
 * and the pure fold of events into it. Pure.
 */
import { z } from 'zod';
import { RequestedBy } from './deploy-request.ts';
import { cacheId } from './names.ts';
import { CacheObservation, CacheState, type LiveCache, cacheResourceName } from './cache.ts';

// ---------------------------------------------------------------------------------------------
// The Firestore record: caches/{bucket}~{zone}

const IsoTime = z.iso.datetime();
export const CACHE_ACTIONS = ['create', 'resume', 'update', 'adopt', 'disable'] as const;
export const MAX_RECORDED_ROLLOUTS = 20;

export const CacheOperationRef = z.object({
  name: z.string().min(1),
  kind: z.enum(['create', 'update']),
  startedAt: IsoTime,
});
export type CacheOperationRef = z.infer<typeof CacheOperationRef>;

export const CacheRecord = z.object({
  schemaVersion: z.literal(1),
  id: z.string(),
  bucket: z.string(),
  zone: z.string(),
  /** The API resource name. */
  name: z.string(),
  state: CacheState,
  rawState: z.string().nullable(),
  ttlSeconds: z.int().nullable(),
  admissionPolicy: z.string().nullable(),
  pendingUpdate: z.boolean(),
  /** A long-running operation ferry started and has not seen finish. */
  operation: CacheOperationRef.nullable(),
  lastAction: z.object({ kind: z.enum(CACHE_ACTIONS), at: IsoTime, rolloutId: z.string().nullable() }).nullable(),
  lastError: z.object({ code: z.string(), message: z.string(), at: IsoTime }).nullable(),
  /** ferry created it (for that rollout, asked by that person), or found it already there. */
  createdBy: z.object({
    by: z.enum(['ferry', 'external']),
    rolloutId: z.string().nullable(),
    requestedBy: RequestedBy.nullable(),
    at: IsoTime,
  }),
  /** Targets that rely on it, with the rollout that last did and when. */
  targets: z.array(
    z.object({
      targetKey: z.string(),
      target: z.object({ cluster: z.string(), namespace: z.string(), name: z.string() }),
      rolloutId: z.string(),
      lastUsedAt: IsoTime,
    }),
  ),
  /** Rollouts that relied on it, oldest first (the last MAX_RECORDED_ROLLOUTS). */
  rollouts: z.array(z.string()).max(MAX_RECORDED_ROLLOUTS),
  /** Last time a rollout or a running Deployment relied on it. */
  lastUsedAt: IsoTime.nullable(),
  /** Last time ferry read the cache from the API. */
  observedAt: IsoTime.nullable(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type CacheRecord = z.infer<typeof CacheRecord>;

export interface CacheUse {
  rolloutId: string;
  targetKey: string;
  target: { cluster: string; namespace: string; name: string };
  requestedBy: RequestedBy | null;
}

export interface CacheEvent {
  bucket: string;
  zone: string;
  now: Date;
  /** What the API showed (null = no cache; undefined = not asked / could not ask). */
  live?: LiveCache | null;
  /** An action ferry carried out just now. */
  action?: (typeof CACHE_ACTIONS)[number];
  /** An operation started just now (kept until seen done). */
  operation?: CacheOperationRef;
  /** The recorded operation is finished (successfully or not): forget it. */
  operationDone?: boolean;
  error?: { code: string; message: string } | null;
  /** `failed` overrides the state (creating the cache failed for good). */
  failed?: boolean;
  /** A rollout relying on the cache now. */
  use?: CacheUse;
  /** A running Deployment relies on it now (only lastUsedAt and the target's entry move). */
  touch?: { targetKey: string };
}

const iso = (d: Date): string => d.toISOString();
const maxIso = (a: string, b: string): string => (a >= b ? a : b);

/** The record after an event (pure; a new record when there was none). */
export function recordCacheEvent(record: CacheRecord | undefined, e: CacheEvent): CacheRecord {
  const at = iso(e.now);
  let r: CacheRecord = record ?? {
    schemaVersion: 1,
    id: cacheId(e.bucket, e.zone),
    bucket: e.bucket,
    zone: e.zone,
    name: cacheResourceName(e.bucket, e.zone),
    state: 'unknown',
    rawState: null,
    ttlSeconds: null,
    admissionPolicy: null,
    pendingUpdate: false,
    operation: null,
    lastAction: null,
    lastError: null,
    createdBy: {
      by: e.action === 'create' ? 'ferry' : 'external',
      rolloutId: e.action === 'create' ? (e.use?.rolloutId ?? null) : null,
      requestedBy: e.action === 'create' ? (e.use?.requestedBy ?? null) : null,
      at,
    },
    targets: [],
    rollouts: [],
    lastUsedAt: null,
    observedAt: null,
    createdAt: at,
    updatedAt: at,
  };
  if (record && e.action === 'create' && (record.state === 'absent' || record.state === 'failed')) {
    // A cache that had gone (deleted after being disabled, or never made) is created anew by ferry.
    r = { ...r, createdBy: { by: 'ferry', rolloutId: e.use?.rolloutId ?? null, requestedBy: e.use?.requestedBy ?? null, at } };
  }
  if (e.live !== undefined) {
    const l = e.live;
    r = l
      ? {
          ...r,
          name: l.name || r.name,
          state: l.state,
          rawState: l.rawState,
          ttlSeconds: l.ttlSeconds,
          admissionPolicy: l.admissionPolicy,
          pendingUpdate: l.pendingUpdate,
          observedAt: at,
        }
      : { ...r, state: r.state === 'failed' ? 'failed' : 'absent', rawState: null, pendingUpdate: false, observedAt: at }; // failed = absent because creating it failed
  }
  if (e.operationDone) r = { ...r, operation: null };
  if (e.operation) r = { ...r, operation: e.operation };
  if (e.action) r = { ...r, lastAction: { kind: e.action, at, rolloutId: e.use?.rolloutId ?? null } };
  if (e.error !== undefined) r = { ...r, lastError: e.error ? { ...e.error, at } : null };
  if (e.failed) r = { ...r, state: 'failed' };
  if (e.use) {
    const u = e.use;
    const others = r.targets.filter((t) => t.targetKey !== u.targetKey);
    const rollouts = [...r.rollouts.filter((id) => id !== u.rolloutId), u.rolloutId].slice(-MAX_RECORDED_ROLLOUTS);
    r = {
      ...r,
      targets: [...others, { targetKey: u.targetKey, target: u.target, rolloutId: u.rolloutId, lastUsedAt: at }].sort((a, b) =>
        a.targetKey.localeCompare(b.targetKey),
      ),
      rollouts,
      lastUsedAt: r.lastUsedAt ? maxIso(r.lastUsedAt, at) : at,
    };
  }
  if (e.touch) {
    const key = e.touch.targetKey;
    r = {
      ...r,
      targets: r.targets.map((t) => (t.targetKey === key ? { ...t, lastUsedAt: maxIso(t.lastUsedAt, at) } : t)),
      lastUsedAt: r.lastUsedAt ? maxIso(r.lastUsedAt, at) : at,
    };
  }
  return { ...r, updatedAt: maxIso(at, r.updatedAt) };
}

/** Whether the record needs the API again without a rollout asking (operation in flight, not settled). */
export function cacheNeedsRefresh(r: CacheRecord): boolean {
  return r.operation !== null || r.pendingUpdate || r.state === 'creating' || r.state === 'unknown';
}

/** The live state as a rollout sees it. */
export function observationOf(zone: string, state: CacheState, message?: string): CacheObservation {
  return message ? { zone, state, message } : { zone, state };
}

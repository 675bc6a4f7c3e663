/**
 * `ferry caches [--bucket B] [--no-live] [--json]`: the Anywhere Caches ferry tracks (Firestore
 * `caches/{bucket}~{zone}`: state, TTL, admission policy, who created it, which targets and rollouts
 * rely on it, last use), merged with what the Storage Control API shows now for the same buckets
 * (locally: the stack's fake; its state is the truth, the record is what ferry last saw). Caches the
 * API shows but ferry does not track are listed too, as `tracked: false`.
 */
import { EXIT, emit, parseCommand, type CliIo } from '../io.ts';
import { cliState } from '../deps.ts';
import type { LiveCache } from '../../domain/cache.ts';
import type { CacheRecord } from '../../domain/cache-record.ts';
import { cacheId } from '../../domain/names.ts';
import { table } from './status.ts';

export interface CacheRow {
  bucket: string;
  zone: string;
  /** Live state when the API answered, else the recorded one. */
  state: string;
  recordedState: string | null;
  liveState: string | null;
  ttlSeconds: number | null;
  admissionPolicy: string | null;
  pendingUpdate: boolean;
  lastUsedAt: string | null;
  targets: string[];
  rollouts: string[];
  createdBy: CacheRecord['createdBy'] | null;
  lastError: CacheRecord['lastError'];
  tracked: boolean;
}

export interface CachesJson {
  caches: CacheRow[];
  /** Buckets the API could not be asked about, with why. */
  liveErrors: Array<{ bucket: string; message: string }>;
}

export function mergeCaches(records: readonly CacheRecord[], live: ReadonlyMap<string, readonly LiveCache[]>): CacheRow[] {
  const rows = new Map<string, CacheRow>();
  for (const r of records) {
    const l = live.get(r.bucket)?.find((c) => c.zone === r.zone);
    const asked = live.has(r.bucket);
    rows.set(r.id, {
      bucket: r.bucket,
      zone: r.zone,
      state: asked ? (l?.state ?? 'absent') : r.state,
      recordedState: r.state,
      liveState: asked ? (l?.state ?? 'absent') : null,
      ttlSeconds: l?.ttlSeconds ?? r.ttlSeconds,
      admissionPolicy: l?.admissionPolicy ?? r.admissionPolicy,
      pendingUpdate: l?.pendingUpdate ?? r.pendingUpdate,
      lastUsedAt: r.lastUsedAt,
      targets: r.targets.map((t) => t.targetKey),
      rollouts: r.rollouts,
      createdBy: r.createdBy,
      lastError: r.lastError,
      tracked: true,
    });
  }
  for (const [bucket, caches] of live) {
    for (const c of caches) {
      if (rows.has(cacheId(bucket, c.zone))) continue;
      rows.set(cacheId(bucket, c.zone), {
        bucket,
        zone: c.zone,
        state: c.state,
        recordedState: null,
        liveState: c.state,
        ttlSeconds: c.ttlSeconds,
        admissionPolicy: c.admissionPolicy,
        pendingUpdate: c.pendingUpdate,
        lastUsedAt: null,
        targets: [],
        rollouts: [],
        createdBy: null,
        lastError: null,
        tracked: false,
      });
    }
  }
  return [...rows.values()].sort((a, b) => a.bucket.localeCompare(b.bucket) || a.zone.localeCompare(b.zone));
}

const ago = (iso: string | null, now: number): string => {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : s < 172_800 ? `${Math.round(s / 3600)}h ago` : `${Math.round(s / 86_400)}d ago`;
};
const ttl = (s: number | null): string => (s === null ? '' : s % 86_400 === 0 ? `${s / 86_400}d` : s % 3600 === 0 ? `${s / 3600}h` : `${s}s`);

export async function cachesCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('caches', args, io);
  if (typeof p === 'number') return p;
  const onlyBucket = typeof p.flags['bucket'] === 'string' ? p.flags['bucket'] : undefined;
  const { settings, cacheRecords } = await cliState(io.env);
  const records = await cacheRecords.list(onlyBucket ? { bucket: onlyBucket } : {});

  const live = new Map<string, LiveCache[]>();
  const liveErrors: CachesJson['liveErrors'] = [];
  if (!p.flags['no-live']) {
    const { cacheControlOf } = await import('../../composition/cli.ts');
    const control = await cacheControlOf(settings);
    const buckets = new Set(records.map((r) => r.bucket));
    if (onlyBucket) buckets.add(onlyBucket);
    else if (io.env['FERRY_BUCKET']) buckets.add(io.env['FERRY_BUCKET']);
    await Promise.all(
      [...buckets].map(async (bucket) => {
        try {
          live.set(bucket, await control.list(bucket));
        } catch (e) {
          liveErrors.push({ bucket, message: e instanceof Error ? e.message : String(e) });
        }
      }),
    );
  }
  const json: CachesJson = { caches: mergeCaches(records, live), liveErrors };
  if (p.output !== 'text') {
    emit(io, p.output, json);
    return EXIT.ok;
  }
  for (const e of liveErrors) io.stderr(`ferry caches: could not ask the Storage Control API about gs://${e.bucket} (showing ferry's records): ${e.message}\n`);
  if (json.caches.length === 0) {
    io.stdout('No Anywhere Caches yet. Deploy with "cache": {"mode": "all-zones"} (or "pin-one-zone") to have ferry create them.\n');
    return EXIT.ok;
  }
  const now = Date.now();
  table(
    io,
    ['BUCKET', 'ZONE', 'STATE', 'TTL', 'ADMISSION', 'LAST USED', 'CREATED BY', 'USED BY'],
    json.caches.map((c) => [
      c.bucket,
      c.zone,
      `${c.state}${c.pendingUpdate ? ' (updating)' : ''}${c.recordedState && c.liveState && c.recordedState !== c.liveState ? ` (recorded ${c.recordedState})` : ''}`,
      ttl(c.ttlSeconds),
      c.admissionPolicy ?? '',
      ago(c.lastUsedAt, now),
      !c.tracked
        ? 'not tracked by ferry'
        : c.createdBy?.by === 'ferry'
          ? `ferry for ${c.createdBy.requestedBy?.principal ?? '?'} (${c.createdBy.rolloutId ?? '?'})`
          : 'found existing',
      c.targets.join(', '),
    ]),
  );
  return EXIT.ok;
}

/**
 * Scheduled teardown (the `teardownIdle` function and `ferry teardown`): build the inventory, plan
 * with the pure planner (shared/domain/teardown.ts), carry the plan out — re-reading each resource
 * just before its destructive call and skipping it if anything changed — and record the run in
 * `teardownRuns/{id}`. What the plan reads about activity is recorded by the reconciler
 * (target-activity.ts); a deploy brings scaled-down pools back through cluster-capacity.ts.
 *
 * Safe by construction: anything that cannot be read is treated as in use (a Deployment whose
 * cluster does not answer counts as running; a cache whose state cannot be read is `unknown`, which
 * the planner never disables).
 */
import { randomBytes } from 'node:crypto';
import { planTeardown, confirmAction, executableActions, actionKey, type PlannedAction } from '../domain/teardown.ts';
import {
  DEFAULT_TEARDOWN_POLICY,
  type CacheRef,
  type InventoryCache,
  type InventoryCluster,
  type InventoryRollout,
  type InventoryTarget,
  type TeardownInventory,
  type TeardownPolicy,
} from '../domain/teardown-inventory.ts';
import type { ActionResult, TeardownRun } from '../domain/teardown-run.ts';
import { rememberPools } from '../domain/scaled-down-cluster.ts';
import { recordCacheEvent, type CacheRecord } from '../domain/cache-record.ts';
import { templateRolloutId } from '../domain/rendered-spec.ts';
import { asFerryError } from '../domain/errors.ts';
import { sameCluster, cacheId } from '../domain/names.ts';
import type { CacheControl } from '../ports/cache-control.ts';
import type { CacheRecords } from '../ports/cache-records.ts';
import type { ClusterProvider } from '../ports/cluster.ts';
import { clusterVersion, nodePoolName, type ClusterDirectory, type GkeOperation, type ManagedCluster } from '../ports/cluster-directory.ts';
import type { Rollout } from '../domain/rollout.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { TeardownStore } from '../ports/teardown-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';

export interface TeardownDeps {
  control: CacheControl;
  records: CacheRecords;
  rollouts: RolloutState;
  store: TeardownStore;
  clusters: ClusterProvider;
  /** GKE clusters (null: none managed here, e.g. only the local cluster). */
  directory: ClusterDirectory | null;
  clock: Clock;
  logger: Logger;
  /** Sleeps between GKE operation polls (tests pass one that moves a fake clock). */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Optional chat summary of runs that did something (done, started or failed), e.g. to a Slack
   * incoming webhook; failures are logged, never fatal. Dry runs and runs with nothing to do stay quiet.
   */
  notify?: ((run: TeardownRun) => Promise<void>) | undefined;
}

export interface TeardownOptions {
  policy?: Partial<TeardownPolicy>;
  trigger?: TeardownRun['trigger'];
  /** The chat command that asked (trigger `chat`). */
  chatCommandId?: string | undefined;
  /** How long to poll one GKE operation before recording it as started (default 5 min). */
  operationWaitMs?: number;
  operationPollMs?: number;
  /**
   * The run stops starting actions (and polling operations) this long after it began, so it ends —
   * and is recorded — before the function's timeout kills it; the actions left are planned again by
   * the next run. Default 7 min (the function times out after 9).
   */
  deadlineMs?: number;
}

export const DEFAULT_RUN_DEADLINE_MS = 7 * 60_000;

// ---------------------------------------------------------------------------------------------
// Inventory

/** Activity older than this (the reconciler stopped observing) counts as unknown for a running target. */
export const ACTIVITY_STALE_SECONDS = 15 * 60;

/** The caches a rollout planned (none when caching was off). */
const cachesOf = (r: Pick<Rollout, 'cache'>): CacheRef[] => (r.cache ? r.cache.zones.map((zone) => ({ bucket: r.cache!.bucket, zone })) : []);

interface Built {
  inventory: TeardownInventory;
  warnings: string[];
  records: CacheRecord[];
}

interface Scope {
  caches?: CacheRef[];
  clusters?: string[];
  targetKeys?: string[];
}

/** Reads everything the planner needs (or, with a scope, only what one re-check needs). */
export async function buildInventory(deps: TeardownDeps, scope?: Scope): Promise<Built> {
  const warnings: string[] = [];
  const [allRecords, targetStates, activity, inFlight] = await Promise.all([
    deps.records.list(),
    deps.store.listTargets(),
    deps.store.listActivity(),
    deps.rollouts.listInFlight(),
  ]);
  const records = !scope ? allRecords : allRecords.filter((r) => (scope.caches ?? []).some((c) => c.bucket === r.bucket && c.zone === r.zone));
  const activityByKey = new Map(activity.map((a) => [a.key, a]));

  // Targets: ferry's targets, plus any target a cache record names (so a cache's users are all seen).
  const targetMap = new Map<string, { cluster: string; namespace: string; name: string }>();
  const changedAt = new Map<string, string>();
  for (const t of targetStates) {
    targetMap.set(t.key, t.target);
    changedAt.set(t.key, t.updatedAt);
  }
  for (const r of allRecords) for (const u of r.targets) if (!targetMap.has(u.targetKey)) targetMap.set(u.targetKey, u.target);
  const wanted = (key: string, cluster: string): boolean => {
    if (!scope) return true;
    if (scope.targetKeys?.includes(key)) return true;
    if (scope.clusters?.some((c) => sameCluster(c, cluster))) return true;
    return (scope.caches ?? []).some((c) => allRecords.some((r) => r.bucket === c.bucket && r.zone === c.zone && r.targets.some((u) => u.targetKey === key)));
  };
  const targets: InventoryTarget[] = [];
  for (const [key, target] of targetMap) {
    if (!wanted(key, target.cluster)) continue;
    // Every cache the target ever relied on; narrowed below to what its live Deployment relies on.
    let caches: CacheRef[] = allRecords.filter((r) => r.targets.some((u) => u.targetKey === key)).map((r) => ({ bucket: r.bucket, zone: r.zone }));
    const a = activityByKey.get(key);
    let replicas = 1; // unknown counts as running
    let labels: Record<string, string> = {};
    let version = 'unread';
    try {
      const client = await deps.clusters.get(target.cluster);
      const d = await client.getDeployment(target.namespace, target.name);
      replicas = d ? (d.spec?.replicas ?? 1) : 0;
      labels = { ...(d?.metadata?.labels ?? {}) };
      version = d ? `${d.metadata?.resourceVersion ?? '?'}|${d.metadata?.generation ?? '?'}` : 'absent';
      // The caches its pods read through are the ones the rollout of the live pod template planned
      // (a rollback re-applies the good rollout's spec, annotation included), as advanceCaches
      // decides when it marks caches used. Anything unreadable keeps every cache it ever used.
      const live = templateRolloutId(d);
      if (live) {
        const r = await deps.rollouts.getRollout(live).catch((e: unknown) => {
          warnings.push(`target ${key}: could not read rollout ${live} (${asFerryError(e).message}); every cache it used counts as in use`);
          return undefined;
        });
        if (r) caches = cachesOf(r);
      }
    } catch (e) {
      warnings.push(`target ${key}: could not read its Deployment (${asFerryError(e).message}); counted as running`);
    }
    // A running target whose activity has not been observed lately has unknown activity (the
    // planner then leaves it alone) rather than a stale lastActiveAt that would look idle.
    const observedRecently = a !== undefined && deps.clock.now().getTime() - Date.parse(a.observedAt) < ACTIVITY_STALE_SECONDS * 1000;
    const lastActiveAt = replicas > 0 && !observedRecently ? null : (a?.lastActiveAt ?? null);
    targets.push({ key, ...target, labels, replicas, lastActiveAt, lastChangedAt: changedAt.get(key) ?? null, caches, version });
  }

  const caches: InventoryCache[] = [];
  for (const r of records) {
    let state: InventoryCache['state'] = 'unknown';
    let version = 'unread';
    try {
      const live = await deps.control.get(r.bucket, r.zone);
      state = live ? live.state : 'absent';
      version = live ? `${live.state}|${live.updateTime ?? ''}|${live.pendingUpdate}` : 'absent';
    } catch (e) {
      warnings.push(`cache ${r.id}: could not read it (${asFerryError(e).message}); left alone`);
    }
    caches.push({
      bucket: r.bucket,
      zone: r.zone,
      state,
      managed: r.createdBy.by === 'ferry',
      labels: {},
      lastUsedAt: r.lastUsedAt,
      createdAt: r.createdBy.at,
      version,
    });
  }

  const clusters: InventoryCluster[] = [];
  if (deps.directory && (!scope || scope.clusters?.length)) {
    try {
      const list = scope?.clusters
        ? (await Promise.all(scope.clusters.map((n) => deps.directory!.get(n)))).filter((c): c is ManagedCluster => c !== null)
        : await deps.directory.list();
      for (const c of list)
        clusters.push({ name: c.name, labels: c.labels, status: c.status, nodePools: c.nodePools, createdAt: c.createTime, version: clusterVersion(c) });
    } catch (e) {
      warnings.push(`clusters: could not list them (${asFerryError(e).message}); none torn down this run`);
    }
  }

  const rollouts: InventoryRollout[] = inFlight.map((r) => ({
    id: r.id,
    targetKey: r.targetKey,
    cluster: r.target.cluster,
    caches: cachesOf(r),
  }));
  return { inventory: { caches, targets, clusters, inFlight: rollouts }, warnings, records };
}

// ---------------------------------------------------------------------------------------------
// Run

export function teardownPolicy(p: Partial<TeardownPolicy> = {}): TeardownPolicy {
  return { ...DEFAULT_TEARDOWN_POLICY, ...p, idleTtlSeconds: { ...DEFAULT_TEARDOWN_POLICY.idleTtlSeconds, ...(p.idleTtlSeconds ?? {}) } };
}

export const newRunId = (now: Date): string =>
  `${now.toISOString().replace(/[-:.]/g, '').replace('T', '-').replace('Z', '')}-${randomBytes(3).toString('hex')}`;

/** Plans, executes (unless dry run) and records one teardown run. */
export async function runTeardown(deps: TeardownDeps, opts: TeardownOptions = {}): Promise<TeardownRun> {
  const policy = teardownPolicy(opts.policy);
  const startedAt = deps.clock.now();
  const log = deps.logger.child({ teardown: true });
  const built = await buildInventory(deps);
  const plan = planTeardown(built.inventory, policy, startedAt);
  const run: TeardownRun = {
    schemaVersion: 1,
    id: newRunId(startedAt),
    trigger: opts.trigger ?? 'schedule',
    ...(opts.chatCommandId ? { chatCommandId: opts.chatCommandId } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: null,
    dryRun: policy.dryRun,
    plan,
    results: plan.dryRun
      ? plan.actions.map((a) => ({ action: a.action, outcome: 'planned', reason: a.reason, message: a.message, operations: [], at: startedAt.toISOString() }))
      : [],
    inventoryWarnings: built.warnings,
    summary: { planned: plan.actions.length, done: 0, started: 0, skipped: 0, failed: 0 },
  };
  // Record the plan first: a run that dies half-way still says what it meant to do.
  await deps.store.saveRun(run);
  const deadline = startedAt.getTime() + (opts.deadlineMs ?? DEFAULT_RUN_DEADLINE_MS);
  for (const planned of executableActions(plan)) {
    const result =
      deps.clock.now().getTime() >= deadline
        ? {
            action: planned.action,
            outcome: 'skipped' as const,
            reason: 'RUN_DEADLINE',
            message: `${actionKey(planned.action)}: the run's time is up; the next run plans it again`,
            operations: [],
            at: deps.clock.now().toISOString(),
          }
        : await executeOne(planned, policy, deps, { ...opts, deadline }, log, run.id);
    run.results.push(result);
    if (result.outcome !== 'planned') run.summary[result.outcome]++;
    // Progress is saved as it goes; a failed save is not a reason to stop acting (the final save is).
    await deps.store.saveRun(run).catch((e: unknown) => log.warn('could not save teardown progress; going on', { error: asFerryError(e) }));
  }
  run.finishedAt = deps.clock.now().toISOString();
  await deps.store.saveRun(run);
  log.info(`teardown run ${run.id}`, { summary: run.summary, dryRun: run.dryRun, warnings: run.inventoryWarnings.length });
  if (deps.notify && !run.dryRun && run.summary.done + run.summary.started + run.summary.failed > 0) {
    await deps.notify(run).catch((e: unknown) => log.warn('could not post the teardown summary', { error: asFerryError(e) }));
  }
  return run;
}

type ExecOptions = TeardownOptions & { deadline: number };

async function executeOne(
  planned: PlannedAction,
  policy: TeardownPolicy,
  deps: TeardownDeps,
  opts: ExecOptions,
  log: Logger,
  runId: string,
): Promise<ActionResult> {
  const a = planned.action;
  const at = () => deps.clock.now().toISOString();
  const key = actionKey(a);
  const result = (outcome: ActionResult['outcome'], reason: string | null, message: string, operations: string[] = []): ActionResult => ({
    action: a,
    outcome,
    reason,
    message,
    operations,
    at: at(),
  });
  // Re-read just before the destructive call.
  let fresh: Built;
  try {
    const scope: Scope =
      a.kind === 'disable-cache'
        ? { caches: [{ bucket: a.bucket, zone: a.zone }] }
        : a.kind === 'scale-deployment'
          ? { targetKeys: [a.targetKey] }
          : { clusters: [a.cluster] };
    fresh = await buildInventory(deps, scope);
  } catch (e) {
    const err = asFerryError(e);
    return result('failed', err.code, `${key}: could not re-read before acting: ${err.message}`);
  }
  const ok = confirmAction(planned, fresh.inventory, policy, deps.clock.now());
  if (!ok.ok) {
    log.info(`teardown skipped ${key} at re-check: ${ok.message}`, { reason: ok.reason });
    return result('skipped', ok.reason, `${key}: ${ok.message}`);
  }
  // Operations started so far: kept in the result even when a later call fails.
  const ops: string[] = [];
  /** Starts a GKE operation, keeps its name, and waits for it (within the wait and the deadline). */
  const follow = async (dir: ClusterDirectory, start: Promise<GkeOperation>): Promise<GkeOperation> => {
    const started = await start;
    ops.push(started.name);
    return waitOperation(dir, started, deps, opts);
  };
  /** An operation that failed, or is still running when the wait is over. */
  const unfinished = (op: GkeOperation, what: string): ActionResult =>
    result(
      op.error ? 'failed' : 'started',
      op.error?.code ?? 'OPERATION_RUNNING',
      `${key}: ${what} ${op.error ? `failed: ${op.error.message}` : 'still running'}`,
      ops,
    );
  try {
    switch (a.kind) {
      case 'disable-cache': {
        const live = await deps.control.disable(a.bucket, a.zone);
        log.info(`disabled idle Anywhere Cache ${cacheId(a.bucket, a.zone)}`, { idleSince: planned.idleSince });
        try {
          await deps.records.mutate(a.bucket, a.zone, (cur) =>
            cur ? recordCacheEvent(cur, { bucket: a.bucket, zone: a.zone, now: deps.clock.now(), live, action: 'disable', error: null }) : undefined,
          );
        } catch (e) {
          // The cache is disabled; only ferry's record of it lags (the next deploy or run re-reads it).
          const err = asFerryError(e);
          log.warn(`disabled ${cacheId(a.bucket, a.zone)}, but could not update its record: ${err.message}`, { code: err.code });
          return result('done', planned.reason, `${planned.message} (its record in Firestore could not be updated: ${err.code})`);
        }
        return result('done', planned.reason, planned.message);
      }
      case 'scale-deployment': {
        const client = await deps.clusters.get(a.cluster);
        await client.scaleDeployment(a.namespace, a.name, 0);
        return result('done', planned.reason, planned.message);
      }
      case 'scale-node-pools': {
        if (!deps.directory) return result('failed', 'NO_CLUSTER_DIRECTORY', 'no cluster directory configured');
        const c = await deps.directory.get(a.cluster);
        // Remember the sizes first, so a later deploy brings back exactly these (and a run that
        // dies half-way still left the record). A record that exists keeps its name (a deploy may
        // have written it with the project's number): one cluster, one record.
        if (c) {
          const prev = await deps.store.getScaledDown(a.cluster);
          await deps.store.saveScaledDown(rememberPools(prev, prev?.cluster ?? a.cluster, c.nodePools, a.nodePools, { runId, now: deps.clock.now() }));
        }
        const dir = deps.directory;
        for (const pool of a.nodePools) {
          const p = c?.nodePools.find((x) => x.name === pool);
          if (p?.autoscaling && p.autoscaling.minNodeCount > 0) {
            // Lower the minimum in the mode the pool uses (per zone or total: G7), nothing else.
            const op = await follow(dir, dir.setNodePoolAutoscaling(nodePoolName(a.cluster, pool), { ...p.autoscaling, minNodeCount: 0 }));
            if (op.status !== 'DONE' || op.error) return unfinished(op, `autoscaling minimum of ${pool} → 0`);
          }
          const op = await follow(dir, dir.setNodePoolSize(nodePoolName(a.cluster, pool), 0));
          if (op.status !== 'DONE' || op.error) return unfinished(op, `resize of ${pool} to 0`);
        }
        return result('done', planned.reason, planned.message, ops);
      }
      case 'delete-cluster': {
        if (!deps.directory) return result('failed', 'NO_CLUSTER_DIRECTORY', 'no cluster directory configured');
        const op = await follow(deps.directory, deps.directory.deleteCluster(a.cluster));
        if (op.error) return result('failed', op.error.code, `${key}: delete failed: ${op.error.message}`, ops);
        return result(op.status === 'DONE' ? 'done' : 'started', planned.reason, planned.message, ops);
      }
    }
  } catch (e) {
    const err = asFerryError(e);
    log.warn(`teardown of ${key} failed: ${err.message}`, { code: err.code, operations: ops });
    // An operation already started is running in GKE: say so rather than "failed".
    if (ops.length) return result('started', err.code, `${key}: operation started, but following it failed: ${err.message}`, ops);
    return result('failed', err.code, `${key}: ${err.message}`);
  }
}

/**
 * Polls a GKE operation until DONE, or until the wait or the run's deadline runs out (then it is
 * left running, recorded as started).
 */
async function waitOperation(dir: ClusterDirectory, op: GkeOperation, deps: TeardownDeps, opts: ExecOptions): Promise<GkeOperation> {
  const pollMs = opts.operationPollMs ?? 5_000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const until = Math.min(deps.clock.now().getTime() + (opts.operationWaitMs ?? 5 * 60_000), opts.deadline);
  let cur = op;
  while (cur.status !== 'DONE' && deps.clock.now().getTime() < until) {
    await sleep(pollMs);
    cur = await dir.getOperation(op.name);
  }
  return cur;
}

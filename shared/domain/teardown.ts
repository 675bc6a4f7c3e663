/**
 * Scheduled teardown of idle resources, pure: given an inventory (caches, ferry targets, managed
 * clusters, in-flight rollouts), a policy and `now`, which resources to tear down and why — and,
 * for everything left alone, why not. Executors (shared/app/teardown.ts) carry the plan out, and
 * re-check each action against a fresh read of its resource (`confirmAction`) just before the
 * destructive call.
 *
 * Safe by construction — never in a plan (property-tested in test/unit/domain/teardown.test.ts):
 * - anything not created or labelled as managed by ferry (cache: `createdBy.by === 'ferry'`;
 *   cluster: label `managed-by=ferry`; target: has ferry state);
 * - anything carrying the protect label (a cache is protected when a target using it is);
 * - a cache used by a running Deployment (replicas > 0) or an in-flight rollout;
 * - a cluster with an in-flight rollout, a running ferry Deployment, or a ferry Deployment active
 *   within the cluster TTL;
 * - anything active within its kind's idle TTL, or whose activity is unknown and not datable;
 * - more than `maxActions` actions.
 *
 * The planner's inputs (policy, inventory) are teardown-inventory.ts; its records (target activity,
 * runs, the tick) teardown-run.ts; bringing a scaled-down cluster back scaled-down-cluster.ts.
 */
import { z } from 'zod';
import { cacheId, sameCluster } from './names.ts';
import { codesOf } from './reasons/catalogue.ts';
import { ACTION_REASON_CATALOGUE, SKIP_REASON_CATALOGUE, type ConfirmReason } from './reasons/teardown.ts';
import {
  describePoolSize,
  type InventoryRollout,
  type InventoryTarget,
  MANAGED_LABEL_KEY,
  MANAGED_LABEL_VALUE,
  type TeardownInventory,
  TeardownPolicy,
} from './teardown-inventory.ts';

const IsoTime = z.iso.datetime();

// ---------------------------------------------------------------------------------------------
// Plan

/** Why the planner leaves a resource alone, and why it tears one down: reasons/teardown.ts. */
export const SKIP_REASONS = codesOf(SKIP_REASON_CATALOGUE);
export type SkipReason = (typeof SKIP_REASONS)[number];

export const ACTION_REASONS = codesOf(ACTION_REASON_CATALOGUE);

export const ResourceRef = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cache'), bucket: z.string(), zone: z.string() }),
  z.object({ kind: z.literal('deployment'), targetKey: z.string(), cluster: z.string(), namespace: z.string(), name: z.string() }),
  z.object({ kind: z.literal('cluster'), name: z.string() }),
]);
export type ResourceRef = z.infer<typeof ResourceRef>;

export const TeardownAction = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('disable-cache'), bucket: z.string(), zone: z.string() }),
  z.object({ kind: z.literal('scale-deployment'), targetKey: z.string(), cluster: z.string(), namespace: z.string(), name: z.string() }),
  z.object({ kind: z.literal('scale-node-pools'), cluster: z.string(), nodePools: z.array(z.string()).min(1) }),
  z.object({ kind: z.literal('delete-cluster'), cluster: z.string() }),
]);
export type TeardownAction = z.infer<typeof TeardownAction>;
export type TeardownActionKind = TeardownAction['kind'];

export const PlannedAction = z.object({
  action: TeardownAction,
  reason: z.enum(ACTION_REASONS),
  message: z.string(),
  /** Last activity the decision was based on (null: none recorded, dated by creation). */
  idleSince: IsoTime.nullable(),
  idleSeconds: z.number(),
  /** The resource's version when planned: the executor re-reads and skips if it changed. */
  expectVersion: z.string(),
});
export type PlannedAction = z.infer<typeof PlannedAction>;

export const PlanSkip = z.object({ resource: ResourceRef, reason: z.enum(SKIP_REASONS), message: z.string() });
export type PlanSkip = z.infer<typeof PlanSkip>;

export const TeardownPlan = z.object({
  at: IsoTime,
  dryRun: z.boolean(),
  policy: TeardownPolicy,
  actions: z.array(PlannedAction),
  skipped: z.array(PlanSkip),
});
export type TeardownPlan = z.infer<typeof TeardownPlan>;

// ---------------------------------------------------------------------------------------------
// Helpers

export function actionKey(a: TeardownAction): string {
  switch (a.kind) {
    case 'disable-cache':
      return `cache:${cacheId(a.bucket, a.zone)}`;
    case 'scale-deployment':
      return `deployment:${a.targetKey}`;
    case 'scale-node-pools':
    case 'delete-cluster':
      return `cluster:${a.cluster}`;
  }
}

/** Protected when the label is present with any value other than `false`. */
export function isProtected(labels: Record<string, string>, protectLabel: string): boolean {
  return Object.hasOwn(labels, protectLabel) && labels[protectLabel] !== 'false';
}
export const isManagedCluster = (labels: Record<string, string>): boolean => labels[MANAGED_LABEL_KEY] === MANAGED_LABEL_VALUE;

const ms = (iso: string | null): number | null => {
  if (iso === null) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
};
const latest = (xs: ReadonlyArray<string | null>): string | null => {
  let best: string | null = null;
  let bestMs = -Infinity;
  for (const x of xs) {
    const t = ms(x);
    if (t !== null && t > bestMs) {
      best = x;
      bestMs = t;
    }
  }
  return best;
};

/** `3d 4h`, `2h 5m`, `40s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return h ? `${d}d ${h}h` : `${d}d`;
  if (h) return m ? `${h}h ${m}m` : `${h}h`;
  return m ? `${m}m` : `${s}s`;
}

type Idle = { ok: true; since: string | null; seconds: number } | { ok: false; reason: 'RECENTLY_ACTIVE' | 'ACTIVITY_UNKNOWN'; message: string };

/** Idle for at least `ttl` since the last activity (or, with none, since creation). */
function idleFor(lastActive: string | null, createdAt: string | null, ttlSeconds: number, now: Date): Idle {
  const basis = lastActive ?? createdAt;
  const t = ms(basis);
  if (t === null) return { ok: false, reason: 'ACTIVITY_UNKNOWN', message: 'no recorded activity and no creation time: cannot tell how long it has been idle' };
  const seconds = (now.getTime() - t) / 1000;
  if (seconds < ttlSeconds) {
    return {
      ok: false,
      reason: 'RECENTLY_ACTIVE',
      message: `${lastActive ? 'active' : 'created'} ${formatDuration(seconds)} ago, idle TTL is ${formatDuration(ttlSeconds)}`,
    };
  }
  return { ok: true, since: lastActive, seconds };
}

const KIND_ORDER: Record<TeardownActionKind, number> = { 'disable-cache': 0, 'scale-deployment': 1, 'scale-node-pools': 2, 'delete-cluster': 2 };

// ---------------------------------------------------------------------------------------------
// The planner

/**
 * The plan for `inventory` under `policy` at `now`. Deterministic: the same inputs (in any order)
 * give the same plan. Actions are ordered cheapest-to-undo first (caches, Deployments, clusters),
 * longest idle first within a kind, then by key; beyond `maxActions` they are skipped (MAX_ACTIONS).
 */
/** "rollout a, b in flight": the rollouts that keep a resource from being torn down, in id order. */
const inFlightText = (rs: readonly { id: string }[]): string =>
  `rollout ${rs
    .map((r) => r.id)
    .sort()
    .join(', ')} in flight`;

export function planTeardown(inventory: TeardownInventory, policy: TeardownPolicy, now: Date): TeardownPlan {
  const candidates: PlannedAction[] = [];
  const skipped: PlanSkip[] = [];
  const skip = (resource: ResourceRef, reason: SkipReason, message: string): void => {
    skipped.push({ resource, reason, message });
  };

  const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const targets = [...inventory.targets].sort(byKey); // the order of the inventory must not matter
  const targetsByKey = new Map(targets.map((t) => [t.key, t]));
  // Caches in use: by a running Deployment or an in-flight rollout.
  const usersOfCache = new Map<string, InventoryTarget[]>();
  for (const t of targets) {
    for (const c of t.caches) {
      const k = cacheId(c.bucket, c.zone);
      usersOfCache.set(k, [...(usersOfCache.get(k) ?? []), t]);
    }
  }
  const rolloutsOfCache = new Map<string, InventoryRollout[]>();
  for (const r of inventory.inFlight) {
    for (const c of r.caches) {
      const k = cacheId(c.bucket, c.zone);
      rolloutsOfCache.set(k, [...(rolloutsOfCache.get(k) ?? []), r]);
    }
  }

  // Caches
  for (const c of inventory.caches) {
    const ref: ResourceRef = { kind: 'cache', bucket: c.bucket, zone: c.zone };
    const k = cacheId(c.bucket, c.zone);
    const users = usersOfCache.get(k) ?? [];
    const rollouts = rolloutsOfCache.get(k) ?? [];
    if (!c.managed) {
      skip(ref, 'NOT_MANAGED', 'not created by ferry');
      continue;
    }
    const protectedUser = users.find((u) => isProtected(u.labels, policy.protectLabel));
    if (isProtected(c.labels, policy.protectLabel) || protectedUser) {
      skip(ref, 'PROTECTED', protectedUser ? `used by protected target ${protectedUser.key}` : `carries ${policy.protectLabel}`);
      continue;
    }
    if (rollouts.length) {
      skip(
        ref,
        'IN_USE_BY_ROLLOUT',
        `in-flight rollout ${rollouts
          .map((r) => r.id)
          .sort()
          .join(', ')} uses it`,
      );
      continue;
    }
    const running = users.filter((u) => u.replicas > 0);
    if (running.length) {
      skip(
        ref,
        'IN_USE_BY_DEPLOYMENT',
        `running Deployment ${running
          .map((u) => u.key)
          .sort()
          .join(', ')} uses it`,
      );
      continue;
    }
    if (c.state === 'disabled' || c.state === 'absent' || c.state === 'failed') {
      skip(ref, 'ALREADY_TORN_DOWN', `cache is ${c.state}`);
      continue;
    }
    if (c.state !== 'running' && c.state !== 'paused') {
      skip(ref, 'NOT_ACTIVE_STATE', `cache is ${c.state}`);
      continue;
    }
    const idle = idleFor(latest([c.lastUsedAt, ...users.map((u) => u.lastActiveAt)]), c.createdAt, policy.idleTtlSeconds.cache, now);
    if (!idle.ok) {
      skip(ref, idle.reason, idle.message);
      continue;
    }
    candidates.push({
      action: { kind: 'disable-cache', bucket: c.bucket, zone: c.zone },
      reason: 'IDLE_CACHE',
      message: `cache gs://${c.bucket} in ${c.zone} idle ${formatDuration(idle.seconds)} (TTL ${formatDuration(policy.idleTtlSeconds.cache)}): disable (deleted by the service after 1 h; resumable until then)`,
      idleSince: idle.since,
      idleSeconds: idle.seconds,
      expectVersion: c.version,
    });
  }

  // Deployments (ferry targets)
  const inFlightByTarget = new Map<string, InventoryRollout[]>();
  for (const r of inventory.inFlight) inFlightByTarget.set(r.targetKey, [...(inFlightByTarget.get(r.targetKey) ?? []), r]);
  for (const t of inventory.targets) {
    if (t.replicas <= 0) continue; // nothing to scale; not an interesting skip
    const ref: ResourceRef = { kind: 'deployment', targetKey: t.key, cluster: t.cluster, namespace: t.namespace, name: t.name };
    if (!policy.scaleDeployments) {
      skip(ref, 'POLICY_OFF', 'policy does not scale idle Deployments');
      continue;
    }
    if (isProtected(t.labels, policy.protectLabel)) {
      skip(ref, 'PROTECTED', `carries ${policy.protectLabel}`);
      continue;
    }
    const rs = inFlightByTarget.get(t.key) ?? [];
    if (rs.length) {
      skip(ref, 'ROLLOUT_IN_FLIGHT', inFlightText(rs));
      continue;
    }
    const idle = idleFor(t.lastActiveAt, null, policy.idleTtlSeconds.deployment, now);
    if (!idle.ok) {
      skip(ref, idle.reason, idle.message);
      continue;
    }
    candidates.push({
      action: { kind: 'scale-deployment', targetKey: t.key, cluster: t.cluster, namespace: t.namespace, name: t.name },
      reason: 'IDLE_DEPLOYMENT',
      message: `Deployment ${t.namespace}/${t.name} on ${t.cluster} served nothing for ${formatDuration(idle.seconds)} (TTL ${formatDuration(policy.idleTtlSeconds.deployment)}): scale to 0`,
      idleSince: idle.since,
      idleSeconds: idle.seconds,
      expectVersion: t.version,
    });
  }

  // Clusters
  for (const cl of inventory.clusters) {
    const ref: ResourceRef = { kind: 'cluster', name: cl.name };
    if (!isManagedCluster(cl.labels)) {
      skip(ref, 'NOT_MANAGED', `no label ${MANAGED_LABEL_KEY}=${MANAGED_LABEL_VALUE}`);
      continue;
    }
    if (isProtected(cl.labels, policy.protectLabel)) {
      skip(ref, 'PROTECTED', `carries ${policy.protectLabel}`);
      continue;
    }
    // Clusters are compared with sameCluster: a target may name the project by its number.
    const onCluster = (c: string | undefined): boolean => c !== undefined && sameCluster(c, cl.name);
    const rs = inventory.inFlight.filter((r) => onCluster(r.cluster) || onCluster(targetsByKey.get(r.targetKey)?.cluster));
    if (rs.length) {
      skip(ref, 'ROLLOUT_IN_FLIGHT', inFlightText(rs));
      continue;
    }
    const ts = targets.filter((t) => onCluster(t.cluster));
    const protectedT = ts.find((t) => isProtected(t.labels, policy.protectLabel));
    if (protectedT) {
      skip(ref, 'PROTECTED', `hosts protected target ${protectedT.key}`);
      continue;
    }
    const runningT = ts.filter((t) => t.replicas > 0);
    if (runningT.length) {
      skip(
        ref,
        'DEPLOYMENT_RUNNING',
        `Deployment ${runningT
          .map((t) => t.key)
          .sort()
          .join(', ')} has replicas`,
      );
      continue;
    }
    if (cl.status !== 'RUNNING') {
      skip(ref, 'NOT_ACTIVE_STATE', `cluster is ${cl.status}`);
      continue;
    }
    // A target on the cluster that was never seen serving is dated by its last rollout change; one
    // with neither cannot be dated, and the cluster's creation time must not stand in for it.
    const undated = ts.filter((t) => t.lastActiveAt === null && t.lastChangedAt === null);
    if (undated.length) {
      skip(
        ref,
        'ACTIVITY_UNKNOWN',
        `no recorded activity for target ${undated
          .map((t) => t.key)
          .sort()
          .join(', ')}`,
      );
      continue;
    }
    const idle = idleFor(latest(ts.map((t) => latest([t.lastActiveAt, t.lastChangedAt]))), cl.createdAt, policy.idleTtlSeconds.cluster, now);
    if (!idle.ok) {
      skip(ref, idle.reason, idle.message);
      continue;
    }
    if (policy.clusterMode === 'delete') {
      candidates.push({
        action: { kind: 'delete-cluster', cluster: cl.name },
        reason: 'IDLE_CLUSTER',
        message: `cluster ${cl.name} idle ${formatDuration(idle.seconds)} (TTL ${formatDuration(policy.idleTtlSeconds.cluster)}): delete`,
        idleSince: idle.since,
        idleSeconds: idle.seconds,
        expectVersion: cl.version,
      });
      continue;
    }
    const up = cl.nodePools.filter((p) => p.nodeCount > 0 || (p.autoscaling?.minNodeCount ?? 0) > 0).sort((a, b) => (a.name < b.name ? -1 : 1));
    const pools = up.map((p) => p.name);
    if (pools.length === 0) {
      skip(ref, 'ALREADY_TORN_DOWN', 'every node pool is at zero');
      continue;
    }
    candidates.push({
      action: { kind: 'scale-node-pools', cluster: cl.name, nodePools: pools },
      reason: 'IDLE_CLUSTER',
      message: `cluster ${cl.name} idle ${formatDuration(idle.seconds)} (TTL ${formatDuration(policy.idleTtlSeconds.cluster)}): scale node pools ${up.map((p) => `${p.name} (${describePoolSize(p)})`).join(', ')} to 0`,
      idleSince: idle.since,
      idleSeconds: idle.seconds,
      expectVersion: cl.version,
    });
  }

  candidates.sort(
    (a, b) =>
      KIND_ORDER[a.action.kind] - KIND_ORDER[b.action.kind] ||
      b.idleSeconds - a.idleSeconds ||
      (actionKey(a.action) < actionKey(b.action) ? -1 : actionKey(a.action) > actionKey(b.action) ? 1 : 0),
  );
  const actions = candidates.slice(0, policy.maxActions);
  for (const a of candidates.slice(policy.maxActions)) {
    skipped.push({ resource: refOfAction(a.action), reason: 'MAX_ACTIONS', message: `over the limit of ${policy.maxActions} actions per run; next run` });
  }
  skipped.sort((a, b) => {
    const ka = refKey(a.resource),
      kb = refKey(b.resource);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return { at: now.toISOString(), dryRun: policy.dryRun, policy, actions, skipped };
}

export function refOfAction(a: TeardownAction): ResourceRef {
  switch (a.kind) {
    case 'disable-cache':
      return { kind: 'cache', bucket: a.bucket, zone: a.zone };
    case 'scale-deployment':
      return { kind: 'deployment', targetKey: a.targetKey, cluster: a.cluster, namespace: a.namespace, name: a.name };
    case 'scale-node-pools':
    case 'delete-cluster':
      return { kind: 'cluster', name: a.cluster };
  }
}
export function refKey(r: ResourceRef): string {
  switch (r.kind) {
    case 'cache':
      return `cache:${cacheId(r.bucket, r.zone)}`;
    case 'deployment':
      return `deployment:${r.targetKey}`;
    case 'cluster':
      return `cluster:${r.name}`;
  }
}

/** The actions an executor may carry out: none on a dry run. */
export const executableActions = (plan: TeardownPlan): PlannedAction[] => (plan.dryRun ? [] : plan.actions);

export type Confirmation = { ok: true } | { ok: false; reason: SkipReason | ConfirmReason; message: string };

/**
 * Just before a destructive call: is `planned` still right, given a fresh inventory (re-read
 * resource plus the current targets and rollouts)? The resource must be unchanged (same version)
 * and the planner, run again on the fresh inventory (without the action limit), must plan the same
 * action.
 */
export function confirmAction(planned: PlannedAction, fresh: TeardownInventory, policy: TeardownPolicy, now: Date): Confirmation {
  const key = actionKey(planned.action);
  const found = findVersion(planned.action, fresh);
  if (found === null) return { ok: false, reason: 'GONE', message: `${key} is gone` };
  if (found !== planned.expectVersion) return { ok: false, reason: 'CHANGED', message: `${key} changed since planned (${planned.expectVersion} → ${found})` };
  const again = planTeardown(fresh, { ...policy, maxActions: Number.MAX_SAFE_INTEGER }, now);
  const same = again.actions.find((a) => actionKey(a.action) === key && a.action.kind === planned.action.kind);
  if (!same) {
    const why = again.skipped.find((s) => refKey(s.resource) === refKey(refOfAction(planned.action)));
    return { ok: false, reason: why?.reason ?? 'CHANGED', message: why?.message ?? `${key} is no longer planned` };
  }
  return { ok: true };
}

function findVersion(a: TeardownAction, inv: TeardownInventory): string | null {
  switch (a.kind) {
    case 'disable-cache':
      return inv.caches.find((c) => c.bucket === a.bucket && c.zone === a.zone)?.version ?? null;
    case 'scale-deployment':
      return inv.targets.find((t) => t.key === a.targetKey)?.version ?? null;
    case 'scale-node-pools':
    case 'delete-cluster':
      return inv.clusters.find((c) => c.name === a.cluster)?.version ?? null;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Target activity, recorded by the reconciler for teardown: `targetActivity/{key}.lastActiveAt`
 * moves while a target has replicas and serves requests (vLLM's request counters, read through the
 * Kubernetes API server's pod proxy when reachable; on the local stack the simulated vLLM pods of
 * infra/local/vllm-sim serve them). Unreadable counters count as active: activity that cannot be
 * seen only delays a teardown, never causes one.
 */
import { nextActivity, parseVllmActivity, type TargetActivity } from '../domain/teardown-run.ts';
import { LABELS, VLLM_PORT } from '../domain/rendered-spec.ts';
import { asFerryError } from '../domain/errors.ts';
import type { ClusterProvider } from '../ports/cluster.ts';
import type { TeardownStore } from '../ports/teardown-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';

export interface ActivityDeps {
  store: TeardownStore;
  clusters: ClusterProvider;
  clock: Clock;
  logger: Logger;
}

/**
 * For every ferry target: replicas of its Deployment and, when the pods' `/metrics` can be read
 * through the API server's pod proxy, vLLM's request counters; `lastActiveAt` moves when the target
 * has replicas and either served requests since the last read or its counters cannot be read.
 */
export async function recordTargetActivity(
  deps: ActivityDeps,
  opts: { minIntervalSeconds?: number; metricsTimeoutMs?: number } = {},
): Promise<{ observed: number; active: number; metricsRead: number; failed: number }> {
  const [targets, activity] = await Promise.all([deps.store.listTargets(), deps.store.listActivity()]);
  const prevByKey = new Map(activity.map((a) => [a.key, a]));
  const minInterval = (opts.minIntervalSeconds ?? 0) * 1000;
  let observed = 0;
  let active = 0;
  let metricsRead = 0;
  let failed = 0;
  for (const t of targets) {
    const now = deps.clock.now();
    const last = prevByKey.get(t.key)?.observedAt;
    if (last && now.getTime() - Date.parse(last) < minInterval) continue;
    try {
      const client = await deps.clusters.get(t.target.cluster);
      const d = await client.getDeployment(t.target.namespace, t.target.name);
      const replicas = d ? Math.max(0, d.spec?.replicas ?? 0) : 0;
      let requests: number | null = null;
      let busy = false;
      let metricsError: string | null = null;
      if (replicas > 0) {
        const read = await readRequestCounters(client, t.target.namespace, t.target.name, opts.metricsTimeoutMs ?? 3000);
        if ('error' in read) metricsError = read.error;
        else {
          requests = read.requests;
          busy = read.busy;
          metricsRead++;
        }
      }
      const prev = prevByKey.get(t.key);
      const next = nextActivity({ lastActiveAt: prev?.lastActiveAt ?? null, requests: prev?.requests ?? null }, { replicas, requests, busy }, now);
      if (next.lastActiveAt && next.lastActiveAt === now.toISOString()) active++;
      const doc: TargetActivity = {
        schemaVersion: 1,
        key: t.key,
        target: t.target,
        lastActiveAt: next.lastActiveAt,
        requests: next.requests,
        replicas,
        source: next.source,
        metricsError,
        observedAt: now.toISOString(),
      };
      await deps.store.saveActivity(doc);
      observed++;
    } catch (e) {
      failed++;
      deps.logger.debug(`could not observe activity of ${t.key}`, { error: asFerryError(e) });
    }
  }
  return { observed, active, metricsRead, failed };
}

async function readRequestCounters(
  client: Awaited<ReturnType<ClusterProvider['get']>>,
  namespace: string,
  name: string,
  timeoutMs: number,
): Promise<{ requests: number; busy: boolean } | { error: string }> {
  if (!client.podProxyGet) return { error: 'the cluster client cannot proxy to pods' };
  try {
    const pods = (await client.listPods(namespace, `${LABELS.instance}=${name}`)).filter((p) => p.status?.phase === 'Running' && p.metadata?.name);
    if (pods.length === 0) return { error: 'no running pod' };
    let requests = 0;
    let busy = false;
    const errors: string[] = [];
    for (const p of pods) {
      try {
        const parsed = parseVllmActivity(await withTimeout(client.podProxyGet(namespace, p.metadata!.name!, VLLM_PORT, '/metrics'), timeoutMs, 'metrics read'));
        if (!parsed) {
          errors.push(`${p.metadata!.name}: no vLLM request metrics`);
          continue;
        }
        requests += parsed.requests;
        busy ||= parsed.busy;
      } catch (e) {
        errors.push(`${p.metadata!.name}: ${asFerryError(e).message}`);
      }
    }
    // Partial reads would make the sum jump: only a full read counts.
    return errors.length ? { error: errors.join('; ').slice(0, 500) } : { requests, busy };
  } catch (e) {
    return { error: asFerryError(e).message.slice(0, 500) };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

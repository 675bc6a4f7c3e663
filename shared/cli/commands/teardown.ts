/**
 * `ferry teardown [--dry-run] [--json]`: plan the teardown of idle Anywhere Caches, Deployments
 * (when the policy scales them) and managed clusters, print the plan with a reason per action and
 * per resource left alone, and — without --dry-run — carry it out (re-reading each resource just
 * before acting) and record the run in `teardownRuns/{id}`. The policy comes from the same
 * FERRY_TEARDOWN_* variables as the teardownIdle function.
 */
import { EXIT, parseFlags, type CliIo } from '../io.ts';
import { cliState } from '../deps.ts';
import { parseConfig, CacheConfig, DeployConfig, TeardownConfig } from '../../config.ts';
import type { TeardownRun } from '../../domain/teardown-run.ts';
import { cacheId } from '../../domain/names.ts';
import { table } from './status.ts';

const USAGE = 'Usage: ferry teardown [--dry-run] [--json]';

export async function teardownCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, { booleans: ['json', 'dry-run'] });
  if ('error' in p || p.positional.length > 0) {
    io.stderr(`ferry teardown: ${'error' in p ? p.error : 'takes no positional arguments'}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const { db, projectId } = await cliState(io.env);
  const cfg = parseConfig(TeardownConfig, io.env);
  const deploy = parseConfig(DeployConfig.pick({ KUBECONFIG: true }), io.env);
  const [{ runTeardown }, { clusterProvider }, { cacheControl }, { FirestoreCacheRecords }, { FirestoreRolloutState }, { FirestoreTeardownStore }, { clusterDirectory }, { jsonLogger }] =
    await Promise.all([
      import('../../app/teardown.ts'),
      import('../../adapters/kubernetes.ts'),
      import('../../adapters/cache-wiring.ts'),
      import('../../adapters/firestore-caches.ts'),
      import('../../adapters/firestore-rollouts.ts'),
      import('../../adapters/firestore-teardown.ts'),
      import('../../adapters/cluster-directory-wiring.ts'),
      import('../../adapters/logging.ts'),
    ]);
  const directory = clusterDirectory({ mode: cfg.FERRY_TEARDOWN_CLUSTERS, project: cfg.FERRY_GKE_PROJECT ?? projectId, emulatorHost: cfg.FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST });
  const run = await runTeardown(
    {
      control: cacheControl(parseConfig(CacheConfig, io.env), projectId),
      records: new FirestoreCacheRecords(db),
      rollouts: new FirestoreRolloutState(db),
      store: new FirestoreTeardownStore(db),
      clusters: clusterProvider({ ...(deploy.KUBECONFIG ? { localKubeconfig: deploy.KUBECONFIG } : {}) }),
      directory,
      clock: { now: () => new Date() },
      logger: jsonLogger({ level: 'ERROR', write: (line: string) => io.stderr(line + '\n') }),
    },
    {
      trigger: 'cli',
      policy: {
        dryRun: p.flags['dry-run'] === true || cfg.FERRY_TEARDOWN_DRY_RUN,
        idleTtlSeconds: { cache: cfg.FERRY_TEARDOWN_CACHE_IDLE_SECONDS, deployment: cfg.FERRY_TEARDOWN_DEPLOYMENT_IDLE_SECONDS, cluster: cfg.FERRY_TEARDOWN_CLUSTER_IDLE_SECONDS },
        maxActions: cfg.FERRY_TEARDOWN_MAX_ACTIONS,
        clusterMode: cfg.FERRY_TEARDOWN_CLUSTER_MODE,
        scaleDeployments: cfg.FERRY_TEARDOWN_SCALE_DEPLOYMENTS,
        protectLabel: cfg.FERRY_TEARDOWN_PROTECT_LABEL,
      },
    },
  );
  await directory?.close();
  if (p.flags['json']) {
    io.stdout(JSON.stringify(run, null, 2) + '\n');
    return run.summary.failed > 0 ? EXIT.failed : EXIT.ok;
  }
  printRun(run, io);
  return run.summary.failed > 0 ? EXIT.failed : EXIT.ok;
}

export function printRun(run: TeardownRun, io: CliIo): void {
  io.stdout(`teardown run ${run.id}${run.dryRun ? ' (dry run: nothing changed)' : ''}\n`);
  for (const w of run.inventoryWarnings) io.stderr(`ferry teardown: ${w}\n`);
  if (run.plan.actions.length === 0) io.stdout('Nothing to tear down.\n');
  else {
    io.stdout('\nPlan:\n');
    const outcome = new Map(run.results.map((r) => [JSON.stringify(r.action), r]));
    table(
      io,
      ['ACTION', 'RESOURCE', 'REASON', 'OUTCOME'],
      run.plan.actions.map((a) => {
        const r = outcome.get(JSON.stringify(a.action));
        const resource = a.action.kind === 'disable-cache' ? cacheId(a.action.bucket, a.action.zone) : a.action.kind === 'scale-deployment' ? a.action.targetKey : a.action.cluster;
        return [a.action.kind, resource, a.message, r ? `${r.outcome}${r.reason && r.outcome !== 'done' && r.outcome !== 'planned' ? ` (${r.reason})` : ''}` : 'not run'];
      }),
    );
  }
  if (run.plan.skipped.length) {
    io.stdout('\nLeft alone:\n');
    table(
      io,
      ['RESOURCE', 'WHY', 'DETAIL'],
      run.plan.skipped.map((s) => [s.resource.kind === 'cache' ? `cache ${cacheId(s.resource.bucket, s.resource.zone)}` : s.resource.kind === 'deployment' ? `deployment ${s.resource.targetKey}` : `cluster ${s.resource.name}`, s.reason, s.message]),
    );
  }
  if (!run.dryRun) {
    const s = run.summary;
    io.stdout(`\n${s.done} done, ${s.started} started, ${s.skipped} skipped at re-check, ${s.failed} failed.\n`);
  }
}

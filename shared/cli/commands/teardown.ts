/**
 * `ferry teardown [--dry-run] [--yes] [-o json|yaml]`: plan the teardown of idle Anywhere Caches, Deployments
 * (when the policy scales them) and managed clusters, print the plan with a reason per action and
 * per resource left alone, and — without --dry-run — carry it out (re-reading each resource just
 * before acting) and record the run in `teardownRuns/{id}`. Without --dry-run, a person at a terminal
 * sees the plan (a dry run) first and is asked before anything changes; --yes skips the question, and
 * without a terminal --yes is required. The policy comes from the same
 * FERRY_TEARDOWN_* variables as the teardownIdle function.
 */
import { EXIT, emit, parseCommand, type CliIo } from '../io.ts';
import { formatFailure } from '../failure.ts';
import { cliState } from '../deps.ts';
import { cliSettings } from '../settings.ts';
import type { TeardownRun } from '../../domain/teardown-run.ts';
import { cacheId } from '../../domain/names.ts';
import { table } from './status.ts';

export async function teardownCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('teardown', args, io);
  if (typeof p === 'number') return p;
  const cfg = cliSettings(io.env);
  const dryRun = p.flags['dry-run'] === true || cfg.FERRY_TEARDOWN_DRY_RUN;
  const ask = !dryRun && p.flags['yes'] !== true;
  if (ask && (!io.interactive || !io.ask)) {
    io.stderr(
      formatFailure('teardown', {
        code: 'CONFIRMATION_REQUIRED',
        message: 'not carrying out a teardown without confirmation, and there is no terminal to ask on',
        hint: 'Pass --yes to carry the plan out, or --dry-run to only see it.',
      }),
    );
    return EXIT.usage;
  }
  await cliState(io.env);
  const [{ runTeardown }, { teardownCliDeps }, { cliLogger }] = await Promise.all([
    import('../../app/teardown.ts'),
    import('../../composition/cli.ts'),
    import('../../composition/logging.ts'),
  ]);
  const { deps, policy, close } = await teardownCliDeps(
    cfg,
    cliLogger((line) => io.stderr(line + '\n')),
  );
  const options = (dry: boolean) => ({ trigger: 'cli' as const, policy: { ...policy, dryRun: dry } });
  let run: TeardownRun;
  try {
    if (ask) {
      // Show what would happen (a dry run, recorded like any other), then ask.
      const preview = await runTeardown(deps, options(true));
      printRun(preview, io);
      if (preview.plan.actions.length === 0) return EXIT.ok;
      const answer = (await io.ask!(`\nCarry out these ${preview.plan.actions.length} action(s)? Each resource is read again just before acting. [y/N] `))
        .trim()
        .toLowerCase();
      if (answer !== 'y' && answer !== 'yes') {
        io.stderr('Nothing changed.\n');
        return EXIT.ok;
      }
    }
    run = await runTeardown(deps, options(dryRun));
  } finally {
    await close();
  }
  if (p.output !== 'text') {
    emit(io, p.output, run);
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
        const resource =
          a.action.kind === 'disable-cache'
            ? cacheId(a.action.bucket, a.action.zone)
            : a.action.kind === 'scale-deployment'
              ? a.action.targetKey
              : a.action.cluster;
        return [
          a.action.kind,
          resource,
          a.message,
          r ? `${r.outcome}${r.reason && r.outcome !== 'done' && r.outcome !== 'planned' ? ` (${r.reason})` : ''}` : 'not run',
        ];
      }),
    );
  }
  if (run.plan.skipped.length) {
    io.stdout('\nLeft alone:\n');
    table(
      io,
      ['RESOURCE', 'WHY', 'DETAIL'],
      run.plan.skipped.map((s) => [
        s.resource.kind === 'cache'
          ? `cache ${cacheId(s.resource.bucket, s.resource.zone)}`
          : s.resource.kind === 'deployment'
            ? `deployment ${s.resource.targetKey}`
            : `cluster ${s.resource.name}`,
        s.reason,
        s.message,
      ]),
    );
  }
  if (!run.dryRun) {
    const s = run.summary;
    io.stdout(`\n${s.done} done, ${s.started} started, ${s.skipped} skipped at re-check, ${s.failed} failed.\n`);
  }
}

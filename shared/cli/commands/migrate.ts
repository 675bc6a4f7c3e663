/**
 * `ferry migrate [--dry-run] [-o json|yaml]`: move Firestore documents stored under an older spelling of
 * a key to the one ferry uses now (shared/adapters/firestore-migrations.ts, built by shared/composition/cli.ts). Idempotent: run it
 * after every deploy of a new ferry; a second run reports nothing to do. `--dry-run` reads and
 * reports what it would change without writing. Exit 1 when a document could not be migrated.
 */
import { EXIT, emit, parseCommand, type CliIo } from '../io.ts';
import { cliState } from '../deps.ts';

export async function migrateCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('migrate', args, io);
  if (typeof p === 'number') return p;
  const { migrate } = await cliState(io.env);
  const report = await migrate({ dryRun: p.flags['dry-run'] === true });
  if (p.output !== 'text') {
    emit(io, p.output, report);
  } else {
    const verb = report.dryRun ? 'would change' : 'changed';
    for (const c of report.changes) io.stdout(`${c.migration}: ${c.action} ${c.path}: ${c.detail}\n`);
    const scanned = Object.entries(report.scanned)
      .map(([m, n]) => `${m} ${n}`)
      .join(', ');
    io.stdout(
      `${report.changes.length ? `${verb} ${report.changes.length} document(s)` : 'nothing to migrate'} (read: ${scanned})${report.dryRun ? '; dry run, nothing written' : ''}\n`,
    );
  }
  if (report.problems.length) {
    for (const x of report.problems) io.stderr(`ferry migrate: ${x.migration}: ${x.path} left as it is: ${x.message}\n`);
    io.stderr('Inspect those documents: fix or delete them by hand, then run ferry migrate again.\n');
    return EXIT.failed;
  }
  return EXIT.ok;
}

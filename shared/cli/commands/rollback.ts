import { EXIT, parseCommand, usageError, type CliIo } from '../io.ts';
import { Target, targetKey } from '../../domain/names.ts';
import { describeIssues } from '../../domain/events.ts';
import { publishAndFollow } from './deploy.ts';
import { previousGoodRequest } from '../../app/rollback.ts';
import { emulatorsAnswer } from '../deps.ts';
import { cliSettings } from '../settings.ts';

/**
 * Rolls a target back to its previous good version (app/rollback.ts previousGoodRequest: the newest
 * succeeded rollout of the target whose version differs from what it runs now), re-requested as a
 * deploy request; --wait follows it as `ferry deploy --wait` does.
 */
export async function rollbackCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('rollback', args, io);
  if (typeof p === 'number') return p;
  const missing = ['cluster', 'namespace', 'name'].filter((k) => p.flags[k] === undefined);
  if (missing.length) return usageError('rollback', `missing ${missing.map((k) => `--${k}`).join(', ')}`, io);
  const t = Target.safeParse({ cluster: p.flags['cluster'], namespace: p.flags['namespace'], name: p.flags['name'] });
  if (!t.success)
    return usageError(
      'rollback',
      describeIssues(t.error)
        .map((i) => `--${i.path}: ${i.message}`)
        .join('; '),
      io,
    );
  const settings = cliSettings(io.env);
  await emulatorsAnswer(io.env, ['FIRESTORE_EMULATOR_HOST']);
  const { rollouts } = await (await import('../../composition/cli.ts')).firestoreStores(settings);
  const found = await previousGoodRequest(rollouts, t.data);
  if (!found.ok) {
    io.stderr(`ferry rollback: ${found.message}\n`);
    return EXIT.failed;
  }
  const { current, previous, request } = found;
  io.stderr(`rolling ${targetKey(t.data)} back from ${current.model}@${current.version} to ${previous.model}@${previous.version} (rollout ${previous.id})\n`);
  return publishAndFollow(
    { ...request, requestedBy: { source: 'cli', principal: `rollback of ${current.rolloutId}` } },
    { wait: p.flags['wait'] === true, timeoutSeconds: p.flags['timeout'] as number, output: p.output },
    io,
    'rollback',
  );
}

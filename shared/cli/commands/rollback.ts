import { EXIT, parseFlags, type CliIo } from '../io.ts';
import { parseConfig, BaseConfig } from '../../config.ts';
import { Target, targetKey } from '../../domain/names.ts';
import { describeIssues } from '../../domain/events.ts';
import { publishAndFollow } from './deploy.ts';
import { previousGoodRequest } from '../../app/rollback.ts';

const USAGE = 'Usage: ferry rollback --cluster <c> --namespace <ns> --name <deployment> [--wait] [--json]';

/**
 * Rolls a target back to its previous good version (app/rollback.ts previousGoodRequest: the newest
 * succeeded rollout of the target whose version differs from what it runs now), re-requested as a
 * deploy request.
 */
export async function rollbackCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, { strings: ['cluster', 'namespace', 'name', 'timeout'], booleans: ['wait', 'json'] });
  if ('error' in p || p.positional.length) {
    io.stderr(`ferry rollback: ${'error' in p ? p.error : 'unexpected argument'}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const t = Target.safeParse({ cluster: p.flags['cluster'], namespace: p.flags['namespace'], name: p.flags['name'] });
  if (!t.success) {
    io.stderr(`ferry rollback: ${describeIssues(t.error).map((i) => `${i.path}: ${i.message}`).join('; ')}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const base = parseConfig(BaseConfig, io.env);
  const [{ FirestoreRolloutState }, { firestoreClient }] = await Promise.all([import('../../adapters/firestore-rollouts.ts'), import('../../adapters/firestore.ts')]);
  const rollouts = new FirestoreRolloutState(firestoreClient(base.GOOGLE_CLOUD_PROJECT));
  const found = await previousGoodRequest(rollouts, t.data);
  if (!found.ok) {
    io.stderr(`ferry rollback: ${found.message}\n`);
    return EXIT.failed;
  }
  const { current, previous, request } = found;
  io.stderr(`rolling ${targetKey(t.data)} back from ${current.model}@${current.version} to ${previous.model}@${previous.version} (rollout ${previous.id})\n`);
  return publishAndFollow(
    { ...request, requestedBy: { source: 'cli', principal: `rollback of ${current.rolloutId}` } },
    p.flags,
    io,
  );
}

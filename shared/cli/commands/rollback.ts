import { EXIT, parseFlags, type CliIo } from '../io.ts';
import { parseConfig, BaseConfig } from '../../config.ts';
import { Target, targetKey } from '../../domain/deploy-request.ts';
import { describeIssues } from '../../domain/events.ts';
import { publishAndFollow } from './deploy.ts';

const USAGE = 'Usage: ferry rollback --cluster <c> --namespace <ns> --name <deployment> [--wait] [--json]';

/**
 * Rolls a target back to its previous good version: the newest succeeded rollout of the target
 * whose version differs from what the target runs now, re-requested as a deploy request.
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
  const state = await rollouts.getTarget(t.data);
  if (!state?.lastGood) {
    io.stderr(`ferry rollback: ${targetKey(t.data)} has no succeeded rollout yet; nothing to roll back to\n`);
    return EXIT.failed;
  }
  const current = state.lastGood;
  const history = (await rollouts.listRollouts({ targetKey: state.key, limit: 500 })).filter((r) => r.phase === 'succeeded');
  const previous = history.find((r) => r.id !== current.rolloutId && r.version !== current.version && r.createdAt < current.at);
  if (!previous) {
    io.stderr(`ferry rollback: ${targetKey(t.data)} runs ${current.model}@${current.version} and has no earlier good version\n`);
    return EXIT.failed;
  }
  io.stderr(`rolling ${targetKey(t.data)} back from ${current.model}@${current.version} to ${previous.model}@${previous.version} (rollout ${previous.id})\n`);
  const { idempotencyKey: _k, ...request } = previous.request;
  return publishAndFollow(
    { ...request, version: previous.version, requestedBy: { source: 'cli', principal: `rollback of ${current.rolloutId}` } },
    p.flags,
    io,
  );
}

/**
 * Deploy requests on the local stack, as the integration tests send them: publish to the deploy
 * topic, wait until the deploy function has handled the message, then until its rollout ends.
 */
import { isTerminalPhase, type Rollout } from '../../shared/domain/rollout.ts';
import type { RolloutState } from '../../shared/ports/rollout-state.ts';
import { eventually } from './stack-env.ts';

/** What the tests publish to (a Pub/Sub Topic). */
export interface DeployTopic {
  publishMessage(message: { json: unknown }): Promise<string>;
}

/** The rollout a handled deploy request message started (or duplicated). */
export const rolloutForMessage = async (rollouts: Pick<RolloutState, 'rolloutIdForMessage'>, messageId: string): Promise<string> =>
  (await eventually(
    `message ${messageId} handled`,
    () => rollouts.rolloutIdForMessage(messageId),
    (x) => x !== null,
  ))!;

/** The rollout once it is in a terminal phase. */
export const finishedRollout = (rollouts: Pick<RolloutState, 'getRollout'>, id: string, timeoutMs = 150_000): Promise<Rollout> =>
  eventually(
    `rollout ${id} finished`,
    () => rollouts.getRollout(id),
    (r): r is Rollout => !!r && isTerminalPhase(r.phase),
    timeoutMs,
    300,
  );

/** Publish `request`, then wait for its rollout to end. */
export async function deployAndFinish(
  topic: DeployTopic,
  rollouts: Pick<RolloutState, 'rolloutIdForMessage' | 'getRollout'>,
  request: unknown,
  timeoutMs = 150_000,
): Promise<Rollout> {
  const id = await rolloutForMessage(rollouts, await topic.publishMessage({ json: request }));
  return finishedRollout(rollouts, id, timeoutMs);
}

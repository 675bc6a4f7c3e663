/** Pub/Sub follow request (messagePublished CloudEvent) → handleFollowRequest. Thin: decode, wire, call. */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runPubsub, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/functions.ts')).rolloutDeps);

export async function followRollout(ce: CloudEvent<unknown>): Promise<void> {
  await runPubsub('followRollout', ce, async (msg, log) => {
    const [{ handleFollowRequest }, d] = await Promise.all([import('../shared/app/follow-request.ts'), deps()]);
    return handleFollowRequest(msg, { ...d, logger: log });
  });
}

ff.cloudEvent('followRollout', followRollout);

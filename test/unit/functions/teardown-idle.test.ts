/** The teardownIdle tick: `{"dryRun": true}` in the Pub/Sub message asks for a dry run; anything else is a plain tick. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { tickOptions } from '../../../functions/teardownIdle.ts';

const ce = (data: unknown): CloudEvent<unknown> => ({ specversion: '1.0', id: '1', source: 's', type: 'google.cloud.pubsub.topic.v1.messagePublished', data });
const msg = (json: unknown) => ce({ message: { data: Buffer.from(JSON.stringify(json)).toString('base64') } });

test('dry run only when asked, and only with a literal true', () => {
  assert.deepEqual(tickOptions(msg({ dryRun: true })), { dryRun: true });
  assert.deepEqual(tickOptions(msg({ dryRun: 'true' })), {});
  assert.deepEqual(tickOptions(msg({ tick: 'teardown' })), {});
  assert.deepEqual(tickOptions(ce({ message: { data: 'not base64 json' } })), {});
  assert.deepEqual(tickOptions(ce(undefined)), {});
});

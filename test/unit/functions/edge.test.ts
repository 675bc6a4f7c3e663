import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getFunction } from '@google-cloud/functions-framework/testing';
import * as entry from '../../../functions/index.ts';
import { FUNCTIONS } from '../../../functions/manifest.ts';
import { runEvent, runPubsub, type PubsubMessage } from '../../../functions/edge.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import type { CloudEvent } from '@google-cloud/functions-framework';

const ce = (over: Partial<CloudEvent<unknown>>): CloudEvent<unknown> =>
  ({ specversion: '1.0', id: 'e1', source: '//x', type: 'google.cloud.storage.object.v1.finalized', ...over }) as CloudEvent<unknown>;

test('every function in the manifest is exported by the entry module and registered with functions-framework, and no other', () => {
  const exported = Object.keys(entry).sort();
  assert.deepEqual(exported, FUNCTIONS.map((f) => f.name).sort());
  for (const f of FUNCTIONS) assert.equal(typeof getFunction(f.name), 'function', `${f.name} is registered`);
});

test('a malformed storage event is acked (no throw), so it never loops', async () => {
  await entry.onCheckpointUpload(ce({ data: { bucket: 7, name: '' } }));
  await entry.onCheckpointUpload(ce({ data: undefined }));
});

test('a malformed Pub/Sub event is acked (no throw) by every Pub/Sub function', async () => {
  for (const f of [entry.onDeployRequest, entry.followRollout, entry.onChatCommand, entry.onDeployResult, entry.teardownIdle]) {
    await f(ce({ type: 'google.cloud.pubsub.topic.v1.messagePublished', data: { message: 'not an object' } }));
  }
});

test('runPubsub hands on the decoded message and its identity; a malformed envelope never reaches the handler', async () => {
  const seen: PubsubMessage[] = [];
  const handle = async (m: PubsubMessage) => void seen.push(m);
  const data = Buffer.from('{"a":1}').toString('base64');
  await runPubsub(
    't',
    ce({
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      data: { message: { data, messageId: 'm-1', publishTime: '2026-11-21T00:00:00Z', attributes: { k: 'v' } } },
    }),
    handle,
  );
  await runPubsub('t', ce({ id: 'ev-2', type: 'google.cloud.pubsub.topic.v1.messagePublished', data: { message: { data } } }), handle);
  await runPubsub('t', ce({ type: 'google.cloud.pubsub.topic.v1.messagePublished', data: { message: 7 } }), handle);
  assert.deepEqual(
    seen.map((m) => [m.data.toString(), m.messageId, m.publishTime, m.attributes]),
    [
      ['{"a":1}', 'm-1', '2026-11-21T00:00:00Z', { k: 'v' }],
      ['{"a":1}', 'ev-2', undefined, undefined],
    ],
  );
});

test('the edge throws retryable errors (redelivery) and swallows permanent ones (ack)', async () => {
  await assert.rejects(
    runEvent('t', ce({}), async () => {
      throw new FerryError('STATE_UNAVAILABLE', 'Firestore unavailable', { retryable: true });
    }),
    /Firestore unavailable/,
  );
  await runEvent('t', ce({}), async () => {
    throw new FerryError('MANIFEST_REJECTED', 'bad manifest');
  });
  await runEvent('t', ce({}), async () => {
    throw new Error('a bug');
  });
});

test("an event's log lines carry its trace (CloudEvent traceparent) as Cloud Logging's trace fields", async () => {
  const lines: string[] = [];
  const write = process.stdout.write;
  const project = process.env['GOOGLE_CLOUD_PROJECT'];
  process.env['GOOGLE_CLOUD_PROJECT'] = 'ferry-trace-test';
  process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    await runEvent('t', ce({ id: 'traced', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }), async (log) => log.info('inside'));
    await runEvent('t', ce({ id: 'untraced' }), async (log) => log.info('inside'));
  } finally {
    process.stdout.write = write;
    if (project === undefined) delete process.env['GOOGLE_CLOUD_PROJECT'];
    else process.env['GOOGLE_CLOUD_PROJECT'] = project;
  }
  const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['message'] === 'inside');
  assert.deepEqual(
    entries.map((e) => [e['eventId'], e['logging.googleapis.com/trace'], e['logging.googleapis.com/spanId'], e['logging.googleapis.com/trace_sampled']]),
    [
      ['traced', 'projects/ferry-trace-test/traces/4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', true],
      ['untraced', undefined, undefined, undefined],
    ],
  );
});

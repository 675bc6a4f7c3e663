/**
 * The edge of every event function: parse the event, run one use case, and turn the outcome into
 * what Eventarc / Pub/Sub understand — return (ack) or throw (redeliver). Only retryable errors
 * are thrown; a malformed event or a permanent failure is logged with its reason code and acked,
 * so nothing loops forever and nothing crashes the instance.
 */
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { Logger } from '../shared/ports/logger.ts';
import { jsonLogger } from '../shared/adapters/logging.ts';
import { asFerryError } from '../shared/domain/errors.ts';

let rootLogger: Logger | undefined;
export const logger = (): Logger => (rootLogger ??= jsonLogger({ fields: { service: 'ferry' } }));

/** Memoises an async builder; a failed build is retried on the next call, not cached. */
export function lazy<T>(build: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= build().catch((e) => {
      p = undefined;
      throw e;
    });
    return p;
  };
}

export async function runEvent(
  fn: string,
  ce: CloudEvent<unknown>,
  handle: (log: Logger) => Promise<unknown>,
): Promise<void> {
  const log = logger().child({ function: fn, eventId: ce.id, eventType: ce.type });
  try {
    const result = await handle(log);
    log.debug('event handled', { result });
  } catch (e) {
    const err = asFerryError(e, 'INTERNAL');
    if (err.retryable) {
      log.warn(`retryable failure; the event will be redelivered: ${err.message}`, { code: err.code, error: err });
      throw err;
    }
    log.error(`event dropped after a permanent failure: ${err.message}`, { code: err.code, error: err, hint: err.hint });
  }
}

/**
 * The edge of every event function: parse the event, run one use case, and turn the outcome into
 * what Eventarc / Pub/Sub understand — return (ack) or throw (redeliver). Only retryable errors
 * are thrown; a malformed event or a permanent failure is logged with its reason code and acked,
 * so nothing loops forever and nothing crashes the instance.
 */
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Logger } from '../shared/ports/logger.ts';
import type { Settings } from '../shared/config.ts';
import { serviceLogger } from '../shared/composition/logging.ts';
import { logLevelName, projectId } from './env.ts';
import { asFerryError } from '../shared/domain/errors.ts';
import { traceContextOf, traceLogFields } from '../shared/domain/trace.ts';

let rootLogger: Logger | undefined;
export const logger = (): Logger => (rootLogger ??= serviceLogger(logLevelName()));

/**
 * Log fields that put a request's or event's lines under its trace in Cloud Logging (trace, spanId,
 * trace_sampled); none when it carries no valid trace context. The project is the one the
 * functions run in (GOOGLE_CLOUD_PROJECT, which every ferry function is deployed with).
 */
export const traceFields = (headers: { traceparent?: unknown; cloudTraceContext?: unknown }): Record<string, unknown> =>
  traceLogFields(traceContextOf(headers), projectId());

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

/**
 * A function's deps, built once per instance on first use: `pick` loads a builder from the
 * composition root (shared/composition), which gets this instance's Settings (parsed once, by
 * ./settings.ts) and its root logger. A failed build (a bad variable: CONFIG_INVALID) is retried.
 */
export function wire<T>(pick: () => Promise<(s: Settings, log: Logger) => T>): () => Promise<T> {
  return lazy(async () => {
    const [build, { settings }] = await Promise.all([pick(), import('./settings.ts')]);
    return build(settings(), logger());
  });
}

/**
 * The edge of an HTTP function: `handle` answers with a status and, except for an empty answer, a
 * JSON body, or `text` with its own headers (the console's HTML). Whatever it throws
 * (misconfiguration such as a missing signing secret, or a bug) is a 500 with no detail for the
 * caller and all of it in the log.
 */
export async function runHttp(
  fn: string,
  req: Request,
  res: Response,
  handle: (log: Logger) => Promise<{ status: number; body?: unknown; headers?: Record<string, string>; text?: string }>,
): Promise<void> {
  const log = logger().child({ function: fn, ...traceFields({ traceparent: req.get('traceparent'), cloudTraceContext: req.get('x-cloud-trace-context') }) });
  try {
    const answer = await handle(log);
    // `text` (with its own content-type header) is sent as is: the console's HTML.
    if (answer.headers) res.set(answer.headers);
    if (answer.text !== undefined) res.status(answer.status).send(answer.text);
    else if (answer.body === undefined) res.status(answer.status).send('');
    else res.status(answer.status).json(answer.body);
  } catch (e) {
    const err = asFerryError(e);
    log.error(`${fn} failed: ${err.message}`, { code: err.code, error: err, hint: err.hint });
    res.status(500).send('');
  }
}

export async function runEvent(fn: string, ce: CloudEvent<unknown>, handle: (log: Logger) => Promise<unknown>): Promise<void> {
  // functions-framework copies the request's `traceparent` header onto the CloudEvent (or maps the
  // binary-mode ce-traceparent attribute there): GoogleCloudPlatform/functions-framework-nodejs@v5.0.5:src/function_wrappers.ts (parseCloudEventRequest)
  const log = logger().child({ function: fn, eventId: ce.id, eventType: ce.type, ...traceFields({ traceparent: ce['traceparent'] }) });
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

/** A Pub/Sub message as the use cases take it: the decoded payload and its identity. */
export interface PubsubMessage {
  data: Buffer;
  messageId: string;
  publishTime: string | undefined;
  attributes: Record<string, string> | undefined;
  /**
   * The topic it was published to, from the CloudEvent source Eventarc sets
   * (`//pubsub.googleapis.com/projects/P/topics/T`; locally the push endpoint's path gives the
   * same); null when the source names no topic. Set by the platform, not by the publisher.
   */
  topic: string | null;
}

/**
 * runEvent for a Pub/Sub push (messagePublished CloudEvent): the envelope is parsed with zod first;
 * a malformed one is logged (EVENT_INVALID) and acked, never handed on.
 */
export async function runPubsub(fn: string, ce: CloudEvent<unknown>, handle: (msg: PubsubMessage, log: Logger) => Promise<unknown>): Promise<void> {
  await runEvent(fn, ce, async (log) => {
    const { PubsubMessagePublishedEvent, describeIssues } = await import('../shared/domain/events.ts');
    const parsed = PubsubMessagePublishedEvent.safeParse(ce);
    if (!parsed.success) {
      log.error('malformed Pub/Sub event; dropped', { code: 'EVENT_INVALID', issues: describeIssues(parsed.error) });
      return { outcome: 'malformed' };
    }
    const m = parsed.data.data.message;
    return handle(
      {
        data: Buffer.from(m.data, 'base64'),
        messageId: m.messageId ?? m.message_id ?? parsed.data.id,
        publishTime: m.publishTime,
        attributes: m.attributes,
        topic: /^\/\/pubsub\.googleapis\.com\/projects\/[^/]+\/topics\/([^/]+)$/.exec(parsed.data.source)?.[1] ?? null,
      },
      log,
    );
  });
}

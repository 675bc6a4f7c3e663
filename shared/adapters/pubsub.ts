import { PubSub, type Topic } from '@google-cloud/pubsub';
import { FerryError } from '../domain/errors.ts';
import type { Publisher } from '../ports/publisher.ts';

const RETRYABLE = new Set([1, 4, 8, 10, 13, 14]);

/** Pub/Sub publisher; honours PUBSUB_EMULATOR_HOST (the SDK reads it). One Topic object per name. */
export class PubSubPublisher implements Publisher {
  private readonly client: PubSub;
  private readonly topics = new Map<string, Topic>();
  constructor(client: PubSub) {
    this.client = client;
  }

  async publishJson(topic: string, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
    let t = this.topics.get(topic);
    if (!t) {
      t = this.client.topic(topic, { batching: { maxMessages: 1, maxMilliseconds: 0 } });
      this.topics.set(topic, t);
    }
    try {
      return await t.publishMessage({ json: data, attributes });
    } catch (e) {
      const code = (e as { code?: number }).code;
      const message = e instanceof Error ? e.message : String(e);
      if (code === 5) {
        throw new FerryError('TOPIC_NOT_FOUND', `Pub/Sub topic ${topic} does not exist`, {
          cause: e,
          hint: 'Create the topic (Terraform does in production; `npm start` does locally).',
        });
      }
      if (code === 7)
        throw new FerryError('PUBLISH_FORBIDDEN', `publishing to ${topic} was refused: ${message}`, {
          cause: e,
          hint: 'Grant roles/pubsub.publisher on the topic.',
        });
      throw new FerryError('PUBLISH_FAILED', `publishing to ${topic} failed: ${message}`, { cause: e, retryable: code === undefined || RETRYABLE.has(code) });
    }
  }
}

let shared: PubSub | undefined;
/** The process-wide client (Cloud Functions instances reuse it). Never close it. */
export function pubsubClient(projectId?: string): PubSub {
  shared ??= newPubsubClient(projectId);
  return shared;
}

/** A client the caller owns and closes (short-lived CLI commands). */
export function newPubsubClient(projectId?: string): PubSub {
  return new PubSub(projectId ? { projectId } : {});
}

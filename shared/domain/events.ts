/**
 * CloudEvents ferry receives, parsed strictly. int64 fields arrive as JSON strings from Eventarc
 * (and as numbers from some emulators): accept both, keep strings.
 */
import { z } from 'zod';

const int64 = z.union([z.string().regex(/^\d{1,20}$/, 'must be a non-negative integer'), z.number().int().nonnegative()]).transform((v) => String(v));

/** `google.cloud.storage.object.v1.finalized` data (google.events.cloud.storage.v1.StorageObjectData). */
export const StorageObjectData = z.looseObject({
  bucket: z.string().min(3).max(222),
  name: z.string().min(1).max(1024),
  generation: int64,
  metageneration: int64.optional(),
  size: int64.optional(),
  contentType: z.string().optional(),
  md5Hash: z.string().optional(),
  crc32c: z.string().optional(),
  timeCreated: z.string().optional(),
  updated: z.string().optional(),
});
export type StorageObjectData = z.infer<typeof StorageObjectData>;

export const STORAGE_FINALIZED = 'google.cloud.storage.object.v1.finalized';
export const PUBSUB_PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';

export const StorageFinalizedEvent = z.object({
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.literal(STORAGE_FINALIZED),
  subject: z.string().optional(),
  time: z.string().optional(),
  data: StorageObjectData,
});
export type StorageFinalizedEvent = z.infer<typeof StorageFinalizedEvent>;

export const PubsubMessagePublishedEvent = z.object({
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.literal(PUBSUB_PUBLISHED),
  data: z.object({
    subscription: z.string().optional(),
    message: z.looseObject({
      data: z.string().default(''),
      attributes: z.record(z.string(), z.string()).optional(),
      messageId: z.string().optional(),
      message_id: z.string().optional(),
      publishTime: z.string().optional(),
      orderingKey: z.string().optional(),
    }),
  }),
});
export type PubsubMessagePublishedEvent = z.infer<typeof PubsubMessagePublishedEvent>;

/** A short, specific description of why an event did not parse (for logs and rejection records). */
export function describeIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
}

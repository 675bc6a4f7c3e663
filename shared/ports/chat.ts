/** Chat-ops ports: posting replies (Slack response_url) and the record of every accepted command. */
import type { ChatMessage } from '../domain/chat-blocks.ts';
import type { ChatCommandRecord, PostDecision } from '../domain/chat-command-record.ts';

/** Posts a message to a command's reply address. Throws FerryError (CHAT_URL_REFUSED, CHAT_URL_EXPIRED, CHAT_POST_FAILED). */
export interface Chat {
  respond(responseUrl: string, message: ChatMessage): Promise<void>;
}

export type ClaimResult = { outcome: 'claimed'; record: ChatCommandRecord } | { outcome: 'skip'; reason: 'FINISHED' | 'IN_PROGRESS' | 'MISSING' };

/** Where accepted chat commands are recorded (Firestore `chatCommands/{id}`). */
export interface ChatCommandStore {
  /** Create-if-absent: 'duplicate' when a command with this id exists (a replayed request). */
  create(record: ChatCommandRecord): Promise<'created' | 'duplicate'>;
  get(id: string): Promise<ChatCommandRecord | undefined>;
  /** Atomically take the command for one worker (decideChatClaim). */
  claim(id: string, now: Date, leaseMs: number): Promise<ClaimResult>;
  /** Give the claim back after a retryable failure, so the redelivered message can take it. */
  release(id: string, now: Date): Promise<void>;
  /** Merge fields into the record (deployMessageId, rolloutId). */
  note(id: string, fields: Partial<Pick<ChatCommandRecord, 'deployMessageId' | 'rolloutId'>>, now: Date): Promise<void>;
  /** The worker is done: status done/failed with an outcome code. */
  finish(id: string, result: { status: 'done' | 'failed'; outcome: { code: string; message: string } }, now: Date): Promise<void>;
  /** Atomically reserve the post `key` (decidePost); returns the record as it was on 'post'. */
  reservePost(id: string, key: string, now: Date): Promise<{ decision: PostDecision; record: ChatCommandRecord | undefined }>;
  /** The command whose deploy request had this Pub/Sub message id. */
  findByDeployMessage(messageId: string): Promise<ChatCommandRecord | undefined>;
}

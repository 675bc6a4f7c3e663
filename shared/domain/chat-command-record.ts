/**
 * The record of an accepted chat command (Firestore `chatCommands/{id}`), pure: its schema, its id,
 * and the small decisions the worker makes against it (claim, post budget), plus the message that
 * hands it to the worker.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RequestedBy } from './deploy-request.ts';
import { COMMAND_CLASSES, ChatCommand, commandClass } from './chat-command.ts';

// ---------------------------------------------------------------------------------------------
// The record of an accepted command (Firestore `chatCommands/{id}`)

const IsoTime = z.iso.datetime();
export const CHAT_COMMAND_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
/** Slack accepts at most 5 posts to one response_url, within 30 minutes of the command. */
export const MAX_RESPONSE_POSTS = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;
export const CHAT_COMMAND_ID_RE = /^sc-[0-9]{8}-[0-9]{6}-[0-9a-f]{16}$/;

export const ChatCommandRecord = z.object({
  schemaVersion: z.literal(1),
  id: z.string().regex(CHAT_COMMAND_ID_RE),
  source: z.literal('slack'),
  /** Who: the Slack user (id is what authorisation used; name is for people reading the record). */
  user: z.object({ id: z.string(), name: z.string() }),
  teamId: z.string(),
  channelId: z.string(),
  /** What: the slash command, its text as typed, and what ferry understood. */
  slashCommand: z.string(),
  text: z.string(),
  command: ChatCommand,
  commandClass: z.enum(COMMAND_CLASSES),
  /** When. */
  receivedAt: IsoTime,
  responseUrl: z.string(),
  status: z.enum(CHAT_COMMAND_STATUSES),
  attempts: z.int().min(0),
  leaseUntil: IsoTime.nullable(),
  /** Deploy / rollback: the deploy request published for it, and the rollout it led to. */
  deployMessageId: z.string().nullable(),
  rolloutId: z.string().nullable(),
  /** Posts made to responseUrl, one per key (at most MAX_RESPONSE_POSTS). */
  posts: z.array(z.object({ key: z.string(), at: IsoTime })),
  outcome: z.object({ code: z.string(), message: z.string() }).nullable(),
  updatedAt: IsoTime,
  finishedAt: IsoTime.nullable(),
});
export type ChatCommandRecord = z.infer<typeof ChatCommandRecord>;

/**
 * A command's id: when Slack signed it plus a hash of the signed bytes (which include Slack's
 * unique trigger_id). A replay of the same signed request maps to the same id, so it is refused
 * by the create-if-absent record instead of running twice.
 */
export function chatCommandId(timestampSeconds: number, rawBody: Uint8Array): string {
  const stamp = new Date(timestampSeconds * 1000).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const h = createHash('sha256').update(String(timestampSeconds)).update(':').update(rawBody).digest('hex').slice(0, 16);
  return `sc-${stamp}-${h}`;
}

const CHAT_KEY_PREFIX = 'slack:';
/** The deploy request's idempotency key: links the rollout back to its command (and dedupes re-runs). */
export const chatIdempotencyKey = (commandId: string): string => `${CHAT_KEY_PREFIX}${commandId}`;
export function commandIdOfKey(key: string | undefined): string | null {
  if (!key?.startsWith(CHAT_KEY_PREFIX)) return null;
  const id = key.slice(CHAT_KEY_PREFIX.length);
  return CHAT_COMMAND_ID_RE.test(id) ? id : null;
}

/** requestedBy.principal for a command: the Slack user id (what was authorised) and name. */
export function slackRequestedBy(rec: Pick<ChatCommandRecord, 'user' | 'teamId'>): RequestedBy {
  const name = rec.user.name ? ` (${rec.user.name.slice(0, 64)})` : '';
  const team = rec.teamId ? `${rec.teamId}/` : '';
  return { source: 'slack', principal: `slack:${team}${rec.user.id}${name}` };
}

export function newChatCommandRecord(input: {
  id: string;
  payload: { command: string; text: string; response_url: string; user_id: string; user_name: string; channel_id: string; team_id: string };
  command: ChatCommand;
  now: Date;
}): ChatCommandRecord {
  const at = input.now.toISOString();
  const p = input.payload;
  return {
    schemaVersion: 1,
    id: input.id,
    source: 'slack',
    user: { id: p.user_id, name: p.user_name },
    teamId: p.team_id,
    channelId: p.channel_id,
    slashCommand: p.command,
    text: p.text,
    command: input.command,
    commandClass: commandClass(input.command),
    receivedAt: at,
    responseUrl: p.response_url,
    status: 'queued',
    attempts: 0,
    leaseUntil: null,
    deployMessageId: null,
    rolloutId: null,
    posts: [],
    outcome: null,
    updatedAt: at,
    finishedAt: null,
  };
}

export type ChatClaim = { action: 'claim'; record: ChatCommandRecord } | { action: 'skip'; reason: 'FINISHED' | 'IN_PROGRESS' };

/** One worker at a time per command; a finished command is never run again (duplicate deliveries). */
export function decideChatClaim(rec: ChatCommandRecord, now: Date, leaseMs: number): ChatClaim {
  if (rec.status === 'done' || rec.status === 'failed') return { action: 'skip', reason: 'FINISHED' };
  if (rec.status === 'running' && rec.leaseUntil && Date.parse(rec.leaseUntil) > now.getTime()) return { action: 'skip', reason: 'IN_PROGRESS' };
  const at = now.toISOString();
  return {
    action: 'claim',
    record: { ...rec, status: 'running', attempts: rec.attempts + 1, leaseUntil: new Date(now.getTime() + leaseMs).toISOString(), updatedAt: at },
  };
}

export type PostDecision = { action: 'post'; record: ChatCommandRecord } | { action: 'skip'; reason: 'ALREADY_POSTED' | 'BUDGET_SPENT' | 'URL_EXPIRED' };

/**
 * At most one post per key (a redelivered result is not posted twice), at most MAX_RESPONSE_POSTS
 * per command, and none once the response_url has expired.
 */
export function decidePost(rec: ChatCommandRecord, key: string, now: Date): PostDecision {
  if (rec.posts.some((p) => p.key === key)) return { action: 'skip', reason: 'ALREADY_POSTED' };
  if (now.getTime() - Date.parse(rec.receivedAt) > RESPONSE_URL_TTL_MS) return { action: 'skip', reason: 'URL_EXPIRED' };
  if (rec.posts.length >= MAX_RESPONSE_POSTS) return { action: 'skip', reason: 'BUDGET_SPENT' };
  const at = now.toISOString();
  return { action: 'post', record: { ...rec, posts: [...rec.posts, { key, at }], updatedAt: at } };
}

/** What the Slack function publishes on the chat topic: only the id; the worker reads the record. */
export const ChatWorkMessage = z.object({ commandId: z.string().regex(CHAT_COMMAND_ID_RE) });
export type ChatWorkMessage = z.infer<typeof ChatWorkMessage>;

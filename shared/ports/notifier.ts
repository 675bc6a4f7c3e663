/**
 * Unsolicited chat messages (no command to answer): one fixed destination per use, e.g. a Slack
 * incoming webhook. Throws FerryError (CHAT_URL_REFUSED, CHAT_URL_EXPIRED, CHAT_POST_FAILED); the
 * use cases that post log a failure and go on.
 */
import type { ChatMessage } from '../domain/chat-blocks.ts';

export type Notify = (message: ChatMessage) => Promise<void>;

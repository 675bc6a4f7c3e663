/**
 * The Chat port on Slack: POST a message to a slash command's response_url. Only Slack's hooks
 * host is ever contacted (127.0.0.1/localhost too when the local/test flag allows it), redirects are
 * not followed, and a post is retried once at most — and only when Slack certainly did not take the
 * first one (429, or no connection was made): after a 5xx or a timeout the message may already be in
 * the channel, and every post that reaches Slack counts against the 5 a response_url accepts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Chat } from '../ports/chat.ts';
import type { Notify } from '../ports/notifier.ts';
import type { ChatMessage } from '../domain/chat-blocks.ts';
import { checkResponseUrl } from '../domain/slack.ts';
import { FerryError } from '../domain/errors.ts';

export interface SlackChatOptions {
  /** Allow http://127.0.0.1 / localhost response URLs (FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL=1; never in production). */
  allowLocal: boolean;
  fetch?: typeof fetch;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** 1 or 2 (default 2). */
  maxAttempts?: number;
  /** Wait before the retry (default 1 s; Retry-After is honoured up to 5 s). */
  retryDelayMs?: number;
}

export class SlackResponseUrlChat implements Chat {
  private readonly opts: Required<Omit<SlackChatOptions, 'fetch'>> & { fetch: typeof fetch };
  constructor(opts: SlackChatOptions) {
    this.opts = {
      allowLocal: opts.allowLocal,
      fetch: opts.fetch ?? globalThis.fetch,
      timeoutMs: opts.timeoutMs ?? 10_000,
      maxAttempts: Math.min(2, Math.max(1, opts.maxAttempts ?? 2)),
      retryDelayMs: opts.retryDelayMs ?? 1000,
    };
  }

  async respond(responseUrl: string, message: ChatMessage): Promise<void> {
    const checked = checkResponseUrl(responseUrl, { allowLocal: this.opts.allowLocal });
    if (!checked.ok) {
      throw new FerryError('CHAT_URL_REFUSED', `not posting to ${safeHost(responseUrl)}: ${checked.message}`, {
        hint: 'Only Slack response URLs are answered; set FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL=1 for local tests.',
      });
    }
    const body = JSON.stringify(message);
    let last: FerryError | undefined;
    for (let attempt = 1; attempt <= this.opts.maxAttempts; attempt++) {
      let res: Response;
      try {
        res = await this.opts.fetch(checked.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
      } catch (e) {
        last = new FerryError('CHAT_POST_FAILED', `posting to ${safeHost(checked.url)} failed: ${describeFetchError(e)}`, { retryable: true, cause: e });
        if (!neverConnected(e)) break; // it may have arrived: a second post could show twice
        if (attempt < this.opts.maxAttempts) await sleep(this.opts.retryDelayMs);
        continue;
      }
      const text = await res.text().catch(() => '');
      if (res.ok) return;
      if (res.status === 404 || res.status === 410) {
        throw new FerryError('CHAT_URL_EXPIRED', `Slack no longer accepts posts to this response_url (${res.status} ${text.slice(0, 100)})`, {
          hint: 'A response_url takes 5 posts within 30 minutes; run the command again for a fresh one.',
        });
      }
      if (res.status >= 500) {
        // Not retried: Slack may have posted it before failing.
        throw new FerryError('CHAT_POST_FAILED', `Slack answered ${res.status} ${text.slice(0, 100)}`, { retryable: true });
      }
      if (res.status === 429) {
        last = new FerryError('CHAT_POST_FAILED', `Slack answered ${res.status} ${text.slice(0, 100)}`, { retryable: true });
        const after = Number(res.headers.get('retry-after'));
        if (attempt < this.opts.maxAttempts) await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 5000) : this.opts.retryDelayMs);
        continue;
      }
      // 400 invalid_blocks, no_text, …: our message is wrong; retrying cannot help.
      throw new FerryError('CHAT_POST_REJECTED', `Slack refused the message: ${res.status} ${text.slice(0, 200)}`);
    }
    throw last ?? new FerryError('CHAT_POST_FAILED', 'posting failed', { retryable: true });
  }
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The socket error code undici puts in a failed fetch's `cause`, if any. */
function causeCode(e: unknown): string | undefined {
  const code = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}
/** fetch failed before a connection was made. */
function neverConnected(e: unknown): boolean {
  const code = causeCode(e);
  return code !== undefined && CONNECT_ERRORS.has(code);
}
function describeFetchError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = causeCode(e);
  return code ? `${msg} (${code})` : msg;
}

/** The host only: a response_url is a credential for 30 minutes, so it never goes into logs whole. */
export function safeHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * The Notify port on a Slack incoming webhook (teardown summaries, alerts): the same poster, one
 * fixed URL. The URL is checked once here (CONFIG_INVALID naming the setting, value hidden) so a
 * wrong secret fails the function's start, not each post. A webhook whose channel is gone says so
 * instead of talking about response URLs: Slack answers 404 channel_not_found and 410
 * channel_is_archived (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks;
 * docs/UPSTREAM.md L3).
 */
export function slackWebhook(url: string, opts: SlackChatOptions & { setting: string }): Notify {
  const ok = checkResponseUrl(url, { allowLocal: opts.allowLocal });
  if (!ok.ok)
    throw new FerryError(
      'CONFIG_INVALID',
      `invalid configuration: ${opts.setting} (value hidden): must be a Slack incoming webhook (https://hooks.slack.com/services/…)`,
      { hint: `Create an incoming webhook in the Slack app and store its URL in the secret behind ${opts.setting}.` },
    );
  const chat = new SlackResponseUrlChat(opts);
  return async (message) => {
    try {
      await chat.respond(url, message);
    } catch (e) {
      if (e instanceof FerryError && e.code === 'CHAT_URL_EXPIRED')
        throw new FerryError('CHAT_URL_EXPIRED', `Slack no longer accepts posts to the incoming webhook in ${opts.setting} (its channel is gone or archived)`, {
          hint: `Create a new incoming webhook for a live channel in the Slack app and store its URL in the secret behind ${opts.setting}.`,
          cause: e,
        });
      throw e;
    }
  };
}

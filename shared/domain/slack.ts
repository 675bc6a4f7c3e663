/**
 * Slack's side of chat-ops, pure: request signatures (v0 HMAC-SHA256 over the raw body), the
 * slash-command form, and where replies may be posted. No I/O, no clock: callers pass `now`.
 *
 * Signing (api.slack.com/authentication/verifying-requests-from-slack; bolt-js verify-request.ts):
 *   basestring = "v0:" + X-Slack-Request-Timestamp + ":" + rawBody
 *   X-Slack-Signature = "v0=" + hex(HMAC_SHA256(signingSecret, basestring))
 * A timestamp more than 5 minutes away from now is refused (replays), and the comparison is
 * constant-time. Verification uses the bytes as received: re-encoding a parsed form would change them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { codesOf } from './reasons/catalogue.ts';
import { SIGNATURE_FAILURE_CATALOGUE } from './reasons/chat.ts';

export const SLACK_SIGNATURE_VERSION = 'v0';
/** Slack's documented replay window. */
export const SLACK_TIMESTAMP_TOLERANCE_SECONDS = 300;
/** A slash command body is a few hundred bytes; anything near this is not Slack. */
export const MAX_SLACK_BODY_BYTES = 64 * 1024;

export const SIGNATURE_FAILURES = codesOf(SIGNATURE_FAILURE_CATALOGUE);
export type SignatureFailure = (typeof SIGNATURE_FAILURES)[number];

export interface SlackSignedRequest {
  /** The body bytes exactly as received (functions-framework keeps them in req.rawBody). */
  rawBody: Uint8Array | undefined;
  /** X-Slack-Request-Timestamp */
  timestamp: string | undefined;
  /** X-Slack-Signature */
  signature: string | undefined;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

/** `v0=<hex>` for a body: what Slack sends, and what tests and local tools sign with. */
export function slackSignature(secret: string, timestamp: string, rawBody: Uint8Array | string): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${SLACK_SIGNATURE_VERSION}:${timestamp}:`);
  mac.update(rawBody);
  return `${SLACK_SIGNATURE_VERSION}=${mac.digest('hex')}`;
}

const TIMESTAMP_RE = /^[0-9]{1,12}$/;
const SIGNATURE_RE = /^v0=[0-9a-f]{64}$/;

/**
 * Verifies one request. The reason is for logs only: callers answer every failure the same way
 * (401, no body), so a caller learns nothing about which check failed.
 */
export function verifySlackRequest(req: SlackSignedRequest, opts: { secret: string; nowSeconds: number; toleranceSeconds?: number }): SignatureCheck {
  if (!opts.secret) return { ok: false, reason: 'MISSING' };
  if (req.rawBody === undefined || req.timestamp === undefined || req.signature === undefined) return { ok: false, reason: 'MISSING' };
  if (req.rawBody.byteLength > MAX_SLACK_BODY_BYTES) return { ok: false, reason: 'TOO_LARGE' };
  const ts = req.timestamp.trim();
  const sig = req.signature.trim();
  if (!TIMESTAMP_RE.test(ts) || !SIGNATURE_RE.test(sig)) return { ok: false, reason: 'MALFORMED' };
  const tolerance = opts.toleranceSeconds ?? SLACK_TIMESTAMP_TOLERANCE_SECONDS;
  // Both directions: a timestamp from the future is as suspicious as an old one.
  if (Math.abs(opts.nowSeconds - Number(ts)) > tolerance) return { ok: false, reason: 'STALE' };
  const expected = Buffer.from(slackSignature(opts.secret, ts, req.rawBody), 'utf8');
  const given = Buffer.from(sig, 'utf8');
  // Same length by the regex above; timingSafeEqual still requires it, so check rather than throw.
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'MISMATCH' };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// The slash-command form (application/x-www-form-urlencoded)

/** User ids: U… (workspace) or W… (Enterprise Grid). */
export const SLACK_USER_ID_RE = /^[UW][A-Z0-9]{2,30}$/;
/** Conversation ids: C… (channel), G… (private channel / group DM), D… (DM). */
export const SLACK_CHANNEL_ID_RE = /^[CGD][A-Z0-9]{2,30}$/;

export const SlackUserId = z.string().regex(SLACK_USER_ID_RE, 'Slack user ids look like U0123ABCD (or W… on Enterprise Grid)');
export const SlackChannelId = z.string().regex(SLACK_CHANNEL_ID_RE, 'Slack channel ids look like C0123ABCD (G… private, D… direct message)');

/** The fields ferry reads from a slash command (docs.slack.dev/tools/bolt-js/reference/interfaces/SlashCommand); others are ignored. */
export const SlashCommandPayload = z.object({
  command: z.string().regex(/^\/[a-z0-9_-]{1,31}$/i, 'command must look like /ferry'),
  text: z.string().max(4000).default(''),
  response_url: z.string().min(1).max(2048),
  trigger_id: z.string().max(256).optional(),
  user_id: SlackUserId,
  user_name: z.string().max(128).default(''),
  channel_id: SlackChannelId,
  channel_name: z.string().max(128).optional(),
  team_id: z.string().max(32).default(''),
});
export type SlashCommandPayload = z.infer<typeof SlashCommandPayload>;

export type SlashCommandParse = { ok: true; payload: SlashCommandPayload } | { ok: false; message: string };

/** Parses the raw form body (the same bytes that were verified). Never throws. */
export function parseSlashCommandForm(rawBody: Uint8Array): SlashCommandParse {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(rawBody);
  } catch {
    return { ok: false, message: 'the request body is not UTF-8' };
  }
  const form = Object.fromEntries(new URLSearchParams(text));
  const r = SlashCommandPayload.safeParse(form);
  if (!r.success) return { ok: false, message: r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') };
  return { ok: true, payload: r.data };
}

/**
 * Slack's periodic certificate check for slash-command URLs (`ssl_check=1`, signed like any other
 * request): answer 200 with an empty body and do nothing else (bolt-js respondToSslCheck).
 */
export function isSslCheck(rawBody: Uint8Array): boolean {
  try {
    return new URLSearchParams(new TextDecoder('utf-8', { fatal: true }).decode(rawBody)).get('ssl_check') === '1';
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Where replies go

export const SLACK_RESPONSE_HOST = 'hooks.slack.com';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export type ResponseUrlCheck = { ok: true; url: string } | { ok: false; message: string };

/**
 * A response_url ferry may POST to: `https://hooks.slack.com/…` (no port, no credentials), or —
 * only when `allowLocal` (an explicit local/test setting) — `http(s)://127.0.0.1|localhost[:port]/…`.
 * Anything else is refused, so a signed request cannot turn ferry into a POST proxy to other hosts.
 */
export function checkResponseUrl(raw: string, opts: { allowLocal: boolean }): ResponseUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: 'response_url is not a URL' };
  }
  if (url.username || url.password) return { ok: false, message: 'response_url must not carry credentials' };
  if (url.protocol === 'https:' && url.hostname === SLACK_RESPONSE_HOST && url.port === '' && url.pathname.length > 1) {
    return { ok: true, url: url.toString() };
  }
  if (opts.allowLocal && (url.protocol === 'http:' || url.protocol === 'https:') && LOCAL_HOSTS.has(url.hostname)) {
    return { ok: true, url: url.toString() };
  }
  return {
    ok: false,
    message: `response_url must be https://${SLACK_RESPONSE_HOST}/…${opts.allowLocal ? ' or a 127.0.0.1/localhost URL' : ''}`,
  };
}

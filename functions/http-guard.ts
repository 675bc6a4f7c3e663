/**
 * The body cap and the answer to an unreadable body, for every function's HTTP server, put in place
 * before functions-framework builds it. Imported first by ./main.ts and ./index.ts.
 *
 * Why a patch: functions-framework's getServer mounts body-parser with a fixed
 * `const requestLimit = '1024mb'` for json, text, urlencoded and raw bodies, and no option changes
 * it; a body that fails to parse goes to Express's default error page (HTML, with the parser's
 * message and, unless NODE_ENV=production, a stack with absolute paths)
 * (GoogleCloudPlatform/functions-framework-nodejs@v5.0.5:src/server.ts getServer, requestLimit;
 * build/src/server.js#L58-L88 in node_modules). Both modules are CommonJS and the framework calls
 * `server_1.getServer(...)` and `bodyParser.json(...)` through their export objects at call time
 * (build/src/main.js#L40-L50: the user's module is loaded before getServer is called), so replacing
 * those exports here, at load, takes effect for the server the framework then builds — in
 * production (`functions-framework --target`) and in the local host (testing.getTestServer).
 *
 * - Every body-parser it mounts gets `limit` = the cap: body-parser refuses a larger
 *   Content-Length before reading a byte, and stops reading a chunked body at the cap (body-parser
 *   @2.4.0 lib/read.js → raw-body `limit`).
 * - A body over the cap or one that does not parse:
 *   - HTTP functions (Slack): a bare 413 for too large; an unparseable body is handed on with
 *     `req.body` unset (the raw bytes are kept in `req.rawBody`), so the handler's own check
 *     answers it (Slack: signature over the raw body → a bare 401).
 *   - CloudEvent functions (Eventarc, Pub/Sub push): the delivery is acked — 200 with a JSON
 *     `{ error: { code, message } }` — and logged with the code. Such a body never becomes
 *     readable, and a non-2xx answer would make Eventarc / Pub/Sub redeliver it until the
 *     message expires (Pub/Sub push: "any other status code … is a negative acknowledgement"
 *     https://cloud.google.com/pubsub/docs/push#receive_push).
 *   The same for an event delivery whose body was read as text or octets (a non-JSON content
 *   type): ferry's events are JSON, and the framework's event middleware throws on a string.
 * - Anything else that fails before the handler: 500 with no body; the detail goes to the log.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { logger } from './edge.ts';
import type { FerryErrorCode } from '../shared/domain/reasons/errors.ts';

/** HTTP functions answer Slack: a slash command is a few KiB (shared/domain/slack.ts MAX_SLACK_BODY_BYTES). */
export const HTTP_BODY_CAP_BYTES = 64 * 1024;
/** A Pub/Sub push of a 64 KiB deploy request is ~90 KiB after base64; storage events are ~2 KiB. */
export const EVENT_BODY_CAP_BYTES = 1024 * 1024;

/** The codes answered here (shared/domain/reasons/errors.ts GENERAL_ERRORS). */
type BodyCode = Extract<FerryErrorCode, 'BODY_TOO_LARGE' | 'BODY_MALFORMED'>;
type Signature = 'http' | 'event' | 'cloudevent' | 'typed';
type Next = (err?: unknown) => void;
type Middleware = (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: Next) => void;
type ParserFactory = (opts?: Record<string, unknown>) => Middleware;

interface BodyParserModule {
  json: ParserFactory;
  text: ParserFactory;
  raw: ParserFactory;
  urlencoded: ParserFactory;
}
interface ServerModule {
  getServer: (fn: unknown, options: { signatureType: Signature } & Record<string, unknown>) => import('node:http').Server;
}

/** What a body-parser error is, for the answer: too large, or unreadable (not JSON, bad charset, …). */
export function bodyErrorCode(err: unknown): BodyCode | null {
  const e = err as { type?: unknown; status?: unknown } | null;
  if (!e || typeof e !== 'object') return null;
  if (e.type === 'entity.too.large' || e.status === 413) return 'BODY_TOO_LARGE';
  // body-parser's error types for a body it could not read or parse (lib/read.js, lib/types/*.js).
  if (
    typeof e.type === 'string' &&
    [
      'entity.parse.failed',
      'entity.verify.failed',
      'encoding.unsupported',
      'charset.unsupported',
      'request.aborted',
      'request.size.invalid',
      'parameters.too.many',
    ].includes(e.type)
  )
    return 'BODY_MALFORMED';
  if (e.status === 400 || e.status === 415) return 'BODY_MALFORMED';
  return null;
}

const MESSAGES = {
  BODY_TOO_LARGE: 'the request body is larger than this function accepts',
  BODY_MALFORMED: 'the request body could not be parsed (not valid JSON, or an unsupported encoding)',
} as const;

/** The answer an event function's delivery gets for a body it can never read: acked, with the code. */
function ackUnreadable(res: ServerResponse, code: BodyCode): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ error: { code, message: `${MESSAGES[code]}; the delivery is acked and dropped` } });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

function bare(res: ServerResponse, status: number): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-length': 0, connection: 'close' });
  res.end();
}

function guardParser(factory: ParserFactory, signature: () => Signature | undefined): ParserFactory {
  return (opts = {}) => {
    const sig = signature();
    const cap = sig === 'http' ? HTTP_BODY_CAP_BYTES : EVENT_BODY_CAP_BYTES;
    const inner = factory({ ...opts, limit: cap });
    return (req, res, next) => {
      const refuse = (code: BodyCode, err?: unknown) => {
        const log = logger().child({ path: req.url?.split('?')[0] });
        if (sig === 'http') {
          log.warn(`HTTP request refused before the handler: ${MESSAGES[code]}`, { code, contentLength: req.headers['content-length'] });
          if (code === 'BODY_TOO_LARGE') return bare(res, 413);
          // Unparseable: the handler decides from the raw bytes (Slack: no valid signature → 401).
          delete req.body;
          return next();
        }
        log.error(`event delivery dropped: ${MESSAGES[code]}`, {
          code,
          contentLength: req.headers['content-length'],
          contentType: req.headers['content-type'],
          ...(err instanceof Error ? { parser: err.message.slice(0, 200) } : {}),
        });
        return ackUnreadable(res, code);
      };
      // A declared length over the cap is answered before a byte is read (the connection is then
      // closed); body-parser would read and discard the whole body first (lib/read.js `dump`).
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > cap) return refuse('BODY_TOO_LARGE');
      inner(req, res, (err?: unknown) => {
        if (err === undefined || err === null) {
          // An event function's body read as text or octets (a non-JSON content type) is never
          // readable: ferry's events are JSON (Eventarc storage data, Pub/Sub push envelopes), and
          // the framework's event middleware would throw on it (`'context' in req.body` on a
          // string, build/src/middleware/background_event_to_cloud_event.js#L46) → a 500, which the
          // sender redelivers. Ack it with its code instead.
          if (sig !== 'http' && (typeof req.body === 'string' || Buffer.isBuffer(req.body))) return refuse('BODY_MALFORMED');
          return next();
        }
        const code = bodyErrorCode(err);
        return code ? refuse(code, err) : next(err);
      });
    };
  };
}

let installed = false;

/** Puts the cap and the answers in place (idempotent). */
export function installHttpGuard(): void {
  if (installed) return;
  installed = true;
  const ffRequire = createRequire(createRequire(import.meta.url).resolve('@google-cloud/functions-framework'));
  const bodyParser = ffRequire('body-parser') as BodyParserModule;
  const server = ffRequire('./server.js') as ServerModule;
  let building: Signature | undefined;
  for (const name of ['json', 'text', 'raw', 'urlencoded'] as const) bodyParser[name] = guardParser(bodyParser[name], () => building);
  const getServer = server.getServer;
  server.getServer = (fn, options) => {
    building = options.signatureType;
    let srv;
    try {
      srv = getServer(fn, options);
    } finally {
      building = undefined;
    }
    // The app is the server's request listener; an error handler after the framework's routes
    // catches what its middleware throws, so no default HTML error page (with a stack) is ever sent.
    const app = srv.listeners('request')[0] as { use?: (h: (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void) => void };
    app.use?.((err, req, res, _next) => {
      const code = bodyErrorCode(err);
      if (code && options.signatureType !== 'http') return ackUnreadable(res, code);
      logger().error('request failed before the handler', { code: code ?? 'INTERNAL', path: req.url?.split('?')[0], error: err });
      return bare(res, code === 'BODY_TOO_LARGE' ? 413 : code ? 400 : 500);
    });
    return srv;
  };
}

installHttpGuard();

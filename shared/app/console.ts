/**
 * The read-only web console's request handler: who is asking (IAP assertion or the local dev
 * token; anything else is 401 with no data), which page (deep links for every model, version,
 * target and rollout), what it reads, and the answer: full HTML, or only <main> for the page's
 * own live-update poll, with a weak ETag so an unchanged page costs a 304.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ConsoleReads, IapVerifier } from '../ports/console.ts';
import type { Logger } from '../ports/logger.ts';
import type { VersionDoc } from '../domain/version.ts';
import type { Rollout } from '../domain/rollout.ts';
import { CONSOLE_ERRORS } from '../domain/reasons/errors.ts';
import { estimateCacheCost } from '../domain/cache-cost.ts';
import { CONTENT_SECURITY_POLICY, errorPage, etagOf, page } from './console-html.ts';
import * as pages from './console-pages.ts';

export interface ConsoleRequest {
  method: string;
  /** The URL path, e.g. /models/llama/versions/v2 (percent-encoded as received). */
  path: string;
  query: Record<string, unknown>;
  headers: {
    iapAssertion?: string | undefined;
    cookie?: string | undefined;
    authorization?: string | undefined;
    ifNoneMatch?: string | undefined;
    /** `x-ferry-fragment: 1`: the page's poll asks for <main> only. */
    fragment?: string | undefined;
  };
}

export interface ConsoleAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface ConsoleDeps {
  reads: ConsoleReads;
  /** Set in production (FERRY_CONSOLE_IAP_AUDIENCE): verifies x-goog-iap-jwt-assertion. */
  iap: IapVerifier | null;
  /** Set locally (FERRY_CONSOLE_DEV_TOKEN): the token in the URL `npm start` prints. */
  devToken: string | null;
  pollSeconds: number;
  logger: Logger;
}

export const DEV_COOKIE = 'ferry_console_dev';

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
const HTML = 'text/html; charset=utf-8';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
const sameSecret = (given: string, expected: string): boolean => timingSafeEqual(digest(given), digest(expected));

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function fail(status: number, code: keyof typeof CONSOLE_ERRORS, message: string, extra: Record<string, string> = {}): ConsoleAnswer {
  return {
    status,
    headers: { ...SECURITY_HEADERS, 'content-type': HTML, 'cache-control': 'no-store', ...extra },
    text: errorPage(status, code, message, CONSOLE_ERRORS[code].hint),
  };
}

type Who = { ok: true; who: string | null } | { ok: false; answer: ConsoleAnswer };

async function authenticate(req: ConsoleRequest, deps: ConsoleDeps, log: Logger): Promise<Who> {
  const assertion = req.headers.iapAssertion;
  if (assertion && deps.iap) {
    const v = await deps.iap.verify(assertion);
    if (v.ok) return { ok: true, who: v.email ?? v.subject };
    log.warn('console: IAP assertion refused', { code: 'CONSOLE_UNAUTHENTICATED', why: v.why });
    if (v.unavailable) return { ok: false, answer: fail(503, 'CONSOLE_UNAUTHENTICATED', 'cannot check the sign-in now', { 'retry-after': '30' }) };
    return { ok: false, answer: fail(401, 'CONSOLE_UNAUTHENTICATED', 'not signed in') };
  }
  if (deps.devToken) {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const given = bearer ?? cookieValue(req.headers.cookie, DEV_COOKIE);
    if (given && sameSecret(given, deps.devToken)) return { ok: true, who: 'local developer' };
  }
  log.info('console: request without a valid sign-in', { code: 'CONSOLE_UNAUTHENTICATED', iapHeader: assertion !== undefined });
  return { ok: false, answer: fail(401, 'CONSOLE_UNAUTHENTICATED', 'not signed in') };
}

/** `?token=` from the URL `npm start` prints: set it as a cookie and redirect to the same page without it. */
function devTokenLogin(req: ConsoleRequest, deps: ConsoleDeps): ConsoleAnswer | undefined {
  const token = req.query['token'];
  if (typeof token !== 'string' || !deps.devToken || !sameSecret(token, deps.devToken)) return undefined;
  const path = req.path === '' ? '/' : req.path;
  return {
    status: 303,
    headers: {
      ...SECURITY_HEADERS,
      location: path,
      'set-cookie': `${DEV_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`,
      'cache-control': 'no-store',
    },
    text: '',
  };
}

const q = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' && v.length <= 256 ? v : undefined);

/** Renders one page from what it reads; undefined: nothing there (404). */
async function route(segments: readonly string[], query: Record<string, unknown>, reads: ConsoleReads): Promise<pages.Rendered | undefined> {
  const [first, second, third, fourth, ...rest] = segments;
  if (rest.length) return undefined;
  switch (first) {
    case undefined:
    case 'models': {
      if (second === undefined) {
        // Two reads whatever the number of models (not one per model): the models, and every
        // version's few listed fields in one query.
        const [models, briefs] = await Promise.all([reads.versions.listModels(), reads.versions.listVersionBriefs()]);
        const byModel = new Map<string, typeof briefs>();
        for (const v of briefs) {
          const list = byModel.get(v.model);
          if (list) list.push(v);
          else byModel.set(v.model, [v]);
        }
        return pages.modelsPage(models.map((model) => ({ model, versions: byModel.get(model.model) ?? [] })));
      }
      const model = await reads.versions.getModel(second);
      if (!model) return undefined;
      if (third === undefined) {
        const [versions, rollouts] = await Promise.all([reads.versions.listVersions(second), reads.rollouts.listRollouts({ model: second, limit: 50 })]);
        return pages.modelPage(model, versions, rollouts);
      }
      if (third !== 'versions' || fourth === undefined) return undefined;
      const [versions, rollouts] = await Promise.all([reads.versions.listVersions(second), reads.rollouts.listRollouts({ model: second, limit: 100 })]);
      const v = versions.find((x) => x.version === fourth);
      if (!v) return undefined;
      const withName = q(query['with']);
      const compare: VersionDoc | undefined = withName ? versions.find((x) => x.version === withName) : pages.previousVersion(versions, v);
      return pages.versionPage(
        v,
        versions,
        compare,
        rollouts.filter((r) => r.version === v.version),
      );
    }
    case 'targets': {
      if (third !== undefined) return undefined;
      if (second === undefined) {
        const [targets, recent] = await Promise.all([reads.teardown.listTargets(), reads.rollouts.listRollouts({ limit: 200 })]);
        return pages.targetsPage(targets, recent);
      }
      const [targets, rollouts] = await Promise.all([reads.teardown.listTargets(), reads.rollouts.listRollouts({ targetKey: second, limit: 50 })]);
      const target = targets.find((t) => t.key === second);
      if (!target && !rollouts.length) return undefined;
      return pages.targetPage(second, target, rollouts);
    }
    case 'rollouts': {
      if (second === undefined || third !== undefined) return undefined;
      const r = await reads.rollouts.getRollout(second);
      if (!r) return undefined;
      const back: Rollout | undefined = r.previousGoodRolloutId ? await reads.rollouts.getRollout(r.previousGoodRolloutId) : undefined;
      return pages.rolloutPage(r, back);
    }
    case 'caches': {
      if (second !== undefined) return undefined;
      const records = await reads.caches.list();
      // A cache's size is estimated from the versions its targets run (their rollouts' versions).
      const rolloutIds = [...new Set(records.flatMap((c) => c.targets.map((t) => t.rolloutId)))];
      // Three reads whatever the number of caches: the caches, their rollouts (one batch), those
      // rollouts' versions' sizes (one batch).
      const rollouts = new Map((await reads.rollouts.getRollouts(rolloutIds)).map((r) => [r.id, r] as const));
      const versionKeys = [...new Set([...rollouts.values()].map((r) => `${r.model}\u0000${r.version}`))];
      const refs = versionKeys.map((k) => {
        const [model, version] = k.split('\u0000') as [string, string];
        return { model, version };
      });
      const bytes = new Map((await reads.versions.getTensorBytes(refs)).map((s): [string, number | null] => [`${s.model}\u0000${s.version}`, s.tensorBytes]));
      return pages.cachesPage(
        records.map((record) => {
          const keys = [
            ...new Set(
              record.targets.flatMap((t) =>
                rollouts.get(t.rolloutId) ? [`${rollouts.get(t.rolloutId)!.model}\u0000${rollouts.get(t.rolloutId)!.version}`] : [],
              ),
            ),
          ];
          const sizes = keys.map((k) => bytes.get(k) ?? null);
          const total = sizes.length && sizes.every((b) => b !== null) ? sizes.reduce<number>((s, b) => s + b!, 0) : null;
          return { record, cost: estimateCacheCost({ zone: record.zone, state: record.state, bytes: total }) };
        }),
      );
    }
    case 'teardown':
      return second === undefined ? pages.teardownPage(await reads.teardown.listRuns(30)) : undefined;
    case 'rejected':
      return second === undefined ? pages.rejectedPage(await reads.rollouts.listRejected(undefined, 100)) : undefined;
    default:
      return undefined;
  }
}

function segmentsOf(path: string): string[] | undefined {
  try {
    return path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

export async function handleConsoleRequest(req: ConsoleRequest, deps: ConsoleDeps): Promise<ConsoleAnswer> {
  const log = deps.logger;
  if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'CONSOLE_READ_ONLY', 'read-only', { allow: 'GET, HEAD' });
  const login = devTokenLogin(req, deps);
  if (login) return login;
  const who = await authenticate(req, deps, log);
  if (!who.ok) return who.answer;
  const segments = segmentsOf(req.path);
  const rendered = segments && segments.length <= 6 ? await route(segments, req.query, deps.reads) : undefined;
  if (!rendered) return fail(404, 'CONSOLE_NOT_FOUND', 'no such page');
  const main = rendered.main.s;
  const etag = etagOf(main);
  const headers = { ...SECURITY_HEADERS, etag, 'cache-control': 'private, no-cache', vary: 'x-ferry-fragment, cookie' };
  if (req.headers.ifNoneMatch && req.headers.ifNoneMatch.split(',').some((t) => t.trim() === etag)) return { status: 304, headers, text: '' };
  const fragment = req.headers.fragment === '1';
  return {
    status: 200,
    headers: { ...headers, 'content-type': HTML },
    text: fragment ? main : page({ title: rendered.title, main: rendered.main, etag, pollSeconds: deps.pollSeconds, who: who.who }),
  };
}

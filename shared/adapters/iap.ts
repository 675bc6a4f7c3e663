/**
 * Verifies Identity-Aware Proxy's signed header (`x-goog-iap-jwt-assertion`) with google-auth-library:
 * an ES256 JWT whose signature must check against Google's published IAP keys, whose audience is
 * the backend service (`/projects/NUMBER/global/backendServices/ID`), whose issuer is
 * `https://cloud.google.com/iap`, and which has not expired.
 *
 * Upstream (google-auth-library@11.3.4, build/src/auth/oauth2client.js):
 *  - getIapPublicKeysAsync (#L651) GETs `https://www.gstatic.com/iap/verify/public_key`
 *    (endpoints.oauth2IapPublicKeyUrl, #L93): `{ kid: PEM }`, the same keys as the `public_key-jwk`
 *    document, in the form verifySignedJwtWithCertsAsync takes.
 *  - verifySignedJwtWithCertsAsync (#L685) looks the key up by the header's `kid`, converts an ES256
 *    (JOSE r||s) signature to DER (#L727) and verifies it, requires `iat` and `exp`, refuses a token
 *    expiring more than maxExpiry (default 86400 s) ahead, allows CLOCK_SKEW_SECS_ = 300 s (#L111)
 *    either side of iat/exp, then checks the issuer list and the audience (#L768-#L790).
 *    It does not check `alg`: this adapter refuses anything but ES256 first.
 * IAP's own rules (https://cloud.google.com/iap/docs/signed-headers-howto, "Verifying the JWT
 * payload") are stricter: 30 s of skew, a lifetime of at most 10 min + 2 × skew. Both are applied
 * here on top of the library's checks (maxExpiry, then iat/exp against our clock).
 */
import { OAuth2Client } from 'google-auth-library';
import type { IapVerdict, IapVerifier } from '../ports/console.ts';

export const IAP_ISSUER = 'https://cloud.google.com/iap';
/** kid → PEM public key. */
export type IapKeys = Record<string, string>;

export interface IapVerifierOptions {
  /** `/projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID`. */
  audience: string;
  /** Where the keys come from (default: google-auth-library's getIapPublicKeys). Tests pass their own. */
  fetchKeys?: () => Promise<IapKeys>;
  /** How long fetched keys are reused (default 1 h); an unknown `kid` refetches at most once a minute. */
  keysTtlMs?: number;
  nowMs?: () => number;
}

/** IAP's documented clock skew and longest token lifetime (10 min + 2 × skew). */
const IAP_SKEW_S = 30;
const IAP_MAX_LIFETIME_S = 600 + 2 * IAP_SKEW_S;
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_JWT_CHARS = 8192;

export function iapVerifier(opts: IapVerifierOptions): IapVerifier {
  const client = new OAuth2Client();
  const fetchKeys = opts.fetchKeys ?? (async () => (await client.getIapPublicKeys()).pubkeys as IapKeys);
  const ttl = opts.keysTtlMs ?? 3_600_000;
  const now = opts.nowMs ?? Date.now;
  let cached: { keys: IapKeys; at: number } | undefined;
  let inflight: Promise<IapKeys> | undefined;
  const load = async (): Promise<IapKeys> => {
    inflight ??= fetchKeys()
      .then((keys) => {
        cached = { keys, at: now() };
        return keys;
      })
      .finally(() => (inflight = undefined));
    return inflight;
  };
  const keysFor = async (kid: string): Promise<IapKeys> => {
    const age = cached ? now() - cached.at : Infinity;
    if (!cached || age > ttl) return load();
    // Google rotates the keys: a kid not seen yet may be new (refetch, but not on every forged token).
    if (!Object.hasOwn(cached.keys, kid) && age > 60_000) return load();
    return cached.keys;
  };

  return {
    async verify(assertion: string): Promise<IapVerdict> {
      if (assertion.length > MAX_JWT_CHARS || !JWT_RE.test(assertion)) return { ok: false, why: 'not a JWT' };
      let header: { alg?: unknown; kid?: unknown };
      try {
        header = JSON.parse(Buffer.from(assertion.split('.')[0]!, 'base64url').toString('utf8')) as typeof header;
      } catch {
        return { ok: false, why: 'unreadable JWT header' };
      }
      if (header.alg !== 'ES256') return { ok: false, why: `algorithm ${JSON.stringify(header.alg)} is not ES256` };
      if (typeof header.kid !== 'string' || header.kid === '') return { ok: false, why: 'no key id (kid)' };
      let keys: IapKeys;
      try {
        keys = await keysFor(header.kid);
      } catch (e) {
        return { ok: false, unavailable: true, why: `IAP public keys unavailable: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300) };
      }
      try {
        const ticket = await client.verifySignedJwtWithCertsAsync(assertion, keys, opts.audience, [IAP_ISSUER], IAP_MAX_LIFETIME_S);
        const p = ticket.getPayload();
        if (!p?.sub) return { ok: false, why: 'no subject' };
        const nowS = now() / 1000;
        if (p.exp + IAP_SKEW_S < nowS) return { ok: false, why: 'Token used too late (IAP allows 30 s of skew)' };
        if (p.iat - IAP_SKEW_S > nowS) return { ok: false, why: 'Token used too early (IAP allows 30 s of skew)' };
        return { ok: true, email: typeof p.email === 'string' ? p.email : null, subject: p.sub };
      } catch (e) {
        // The library's messages can quote the whole token: keep the first clause only.
        const msg = e instanceof Error ? e.message : String(e);
        return { ok: false, why: msg.split(/[:,]/)[0]!.slice(0, 120) };
      }
    },
  };
}

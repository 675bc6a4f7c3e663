/**
 * IAP's signed header, verified by the console's adapter (google-auth-library underneath) against
 * keys this test makes and hands in through `fetchKeys`: a token signed like IAP signs it passes;
 * forged, expired, wrong-audience, wrong-issuer and non-ES256 tokens do not, and a request that
 * carries one gets 401 and no data from the console.
 * IAP's format (ES256, kid, iss https://cloud.google.com/iap, aud /projects/N/global/backendServices/ID,
 * iat/exp, sub, email): https://cloud.google.com/iap/docs/signed-headers-howto; the library's checks:
 * google-auth-library@11.3.4 build/src/auth/oauth2client.js verifySignedJwtWithCertsAsync (#L685-#L790).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { iapVerifier, IAP_ISSUER, type IapKeys } from '../../../shared/adapters/iap.ts';
import { handleConsoleRequest } from '../../../shared/app/console.ts';
import { memoryReads, sampleData } from '../../helpers/console-data.ts';
import type { Logger } from '../../../shared/ports/logger.ts';

const AUD = '/projects/123456789012/global/backendServices/4242424242';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function keyPair(): { pub: string; priv: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(), priv: privateKey };
}

/** A JWT as IAP makes one: ES256 over header.payload, the signature in JOSE form (r‖s, 64 bytes). */
function jwt(priv: KeyObject, over: { header?: Record<string, unknown>; payload?: Record<string, unknown> } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', typ: 'JWT', kid: 'k1', ...over.header };
  const payload = { iss: IAP_ISSUER, aud: AUD, sub: 'accounts.google.com:1234', email: 'alice@example.com', iat: now - 10, exp: now + 600, ...over.payload };
  const signed = `${b64(header)}.${b64(payload)}`;
  const sig = sign('sha256', Buffer.from(signed), { key: priv, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${signed}.${sig}`;
}

const good = keyPair();
const forger = keyPair();
function verifier(keys: IapKeys = { k1: good.pub }) {
  let fetches = 0;
  const v = iapVerifier({
    audience: AUD,
    fetchKeys: async () => {
      fetches++;
      return keys;
    },
  });
  return { v, fetches: () => fetches };
}

test('a token signed with the published key, for this audience and issuer, not expired: accepted with its email', async () => {
  const { v } = verifier();
  assert.deepEqual(await v.verify(jwt(good.priv)), { ok: true, email: 'alice@example.com', subject: 'accounts.google.com:1234' });
});

test('forged (another key under the same kid), expired, wrong audience, wrong issuer: refused', async () => {
  const { v } = verifier();
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, string, RegExp]> = [
    ['forged', jwt(forger.priv), /signature/i],
    // The library allows 300 s of clock skew past exp (CLOCK_SKEW_SECS_): this one is an hour past.
    ['expired', jwt(good.priv, { payload: { iat: now - 7200, exp: now - 3600 } }), /too late/i],
    ['wrong audience', jwt(good.priv, { payload: { aud: '/projects/123456789012/global/backendServices/1' } }), /recipient|audience/i],
    ['wrong issuer', jwt(good.priv, { payload: { iss: 'https://accounts.google.com' } }), /issuer/i],
    // IAP allows only 30 s (signed-headers-howto), stricter than the library's 300 s.
    ['expired 2 minutes ago', jwt(good.priv, { payload: { iat: now - 600, exp: now - 120 } }), /too late/i],
    ['issued 2 minutes ahead', jwt(good.priv, { payload: { iat: now + 120, exp: now + 600 } }), /too early/i],
    ['living longer than IAP tokens do', jwt(good.priv, { payload: { exp: now + 3600 } }), /too far in future/i],
    ['issued in the future', jwt(good.priv, { payload: { iat: now + 3600, exp: now + 4000 } }), /too (early|far)/i],
    ['no expiry', jwt(good.priv, { payload: { exp: undefined } }), /expiration/i],
  ];
  for (const [what, token, why] of cases) {
    const r = await v.verify(token);
    assert.equal(r.ok, false, what);
    assert.match(r.ok ? '' : r.why, why, what);
    assert.ok(!(r.ok ? '' : r.why).includes(token.split('.')[2]!), `${what}: the reason does not quote the token`);
  }
});

test('not ES256, no kid, not a JWT: refused before any key is fetched', async () => {
  const { v, fetches } = verifier();
  for (const [token, why] of [
    [jwt(good.priv, { header: { alg: 'none' } }), /not ES256/],
    [jwt(good.priv, { header: { alg: 'RS256' } }), /not ES256/],
    [jwt(good.priv, { header: { kid: undefined } }), /kid/],
    ['abc', /not a JWT/],
    ['a.b.c.d', /not a JWT/],
    [`${'x'.repeat(9000)}.y.z`, /not a JWT/],
  ] as const) {
    const r = await v.verify(token);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.why, why);
  }
  assert.equal(fetches(), 0);
});

test('keys are fetched once and reused; an unknown kid does not refetch on every token', async () => {
  const { v, fetches } = verifier();
  await v.verify(jwt(good.priv));
  await v.verify(jwt(good.priv));
  const r = await v.verify(jwt(good.priv, { header: { kid: 'k-unknown' } }));
  assert.equal(r.ok, false);
  assert.equal(fetches(), 1);
});

test('keys that cannot be fetched: refused as unavailable (the console answers 503, no data)', async () => {
  const v = iapVerifier({
    audience: AUD,
    fetchKeys: async () => {
      throw new Error('getaddrinfo ENOTFOUND www.gstatic.com');
    },
  });
  const r = await v.verify(jwt(good.priv));
  assert.equal(r.ok, false);
  assert.equal(r.ok ? false : r.unavailable, true);
});

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

test('through the console: a valid assertion gets the page; forged, expired, wrong-audience or missing get 401 and no data', async () => {
  const { v } = verifier();
  const deps = { reads: memoryReads(sampleData()), iap: v, devToken: null, pollSeconds: 5, logger: quiet };
  const get = (iapAssertion?: string) => handleConsoleRequest({ method: 'GET', path: '/models', query: {}, headers: { iapAssertion } }, deps);
  const ok = await get(jwt(good.priv));
  assert.equal(ok.status, 200);
  assert.match(ok.text, /llama/);
  assert.match(ok.text, /signed in as alice@example\.com/);
  const now = Math.floor(Date.now() / 1000);
  for (const token of [
    jwt(forger.priv),
    jwt(good.priv, { payload: { iat: now - 7200, exp: now - 3600 } }),
    jwt(good.priv, { payload: { aud: '/projects/1/global/backendServices/2' } }),
    undefined,
    '',
  ]) {
    const r = await get(token);
    assert.equal(r.status, 401);
    assert.match(r.text, /CONSOLE_UNAUTHENTICATED/);
    assert.doesNotMatch(r.text, /llama/);
  }
});

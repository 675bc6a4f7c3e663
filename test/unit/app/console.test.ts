/**
 * The console's pages and answers, from records built by ferry's own domain functions
 * (test/helpers/console-data.ts): what each page shows, deep links that resolve, the dev-token
 * sign-in, ETags and the live-update fragment, escaping, and the Content-Security-Policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { handleConsoleRequest, DEV_COOKIE, type ConsoleDeps, type ConsoleRequest } from '../../../shared/app/console.ts';
import { bulkData, memoryReads, sampleData, type ConsoleData } from '../../helpers/console-data.ts';
import { CACHE_STORAGE_USD_PER_GIB_HOUR, estimateCacheCost } from '../../../shared/domain/cache-cost.ts';
import type { IapVerifier } from '../../../shared/ports/console.ts';
import type { Logger } from '../../../shared/ports/logger.ts';

const TOKEN = 'dev-token-0123456789abcdefghijklmnopqrstuvwxyz';
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const deps = (data: ConsoleData = sampleData(), over: Partial<ConsoleDeps> = {}): ConsoleDeps => ({
  reads: memoryReads(data),
  iap: null,
  devToken: TOKEN,
  pollSeconds: 5,
  logger: quiet,
  ...over,
});
const req = (path: string, over: Partial<ConsoleRequest> & { headers?: ConsoleRequest['headers'] } = {}): ConsoleRequest => ({
  method: 'GET',
  path,
  query: {},
  ...over,
  headers: { cookie: `${DEV_COOKIE}=${TOKEN}`, ...over.headers },
});
const get = async (path: string, d = deps(), over: Partial<ConsoleRequest> = {}) => handleConsoleRequest(req(path, over), d);
/** The page's text without tags, spaces collapsed (what a reader sees). */
const visible = (html: string) =>
  html
    .replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&gt;/g, '>')
    .replace(/\s+/g, ' ');
const hrefs = (html: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));

test('models page: each model with its version counts, latest valid version and a deep link', async () => {
  const r = await get('/models');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  const text = visible(r.text);
  assert.match(text, /Models \(1\)/);
  // llama: 3 versions, 2 valid, 1 invalid; latest valid v3.
  assert.match(text, /llama 3 2 1 0 v3 v3 valid/);
  assert.ok(hrefs(r.text).includes('/models/llama'));
  assert.equal((await get('/')).status, 200, '/ is the models page');
});

test('model page: versions with status, parameters, bytes, findings and what changed from the version before', async () => {
  const r = await get('/models/llama');
  const text = visible(r.text);
  assert.match(text, /v3 valid 8\.03 B 7\.5 GiB 2 F8_E4M3 — shards 4 → 2 dtypes \+F8_E4M3 −BF16 bytes 15\.0 GiB → 7\.5 GiB \(−50\.0%\)/);
  assert.match(text, /v2 invalid 8\.03 B 15\.0 GiB 4 BF16 OFFSETS_NOT_CONTIGUOUS in model-00002-of-00004\.safetensors no change from v1/);
  assert.match(text, /v1 valid .* first version/);
  // The rollouts of the model, and a chart of their durations with one bar per rollout.
  assert.match(text, /r-bad-0002 rolled back llama\/v3/);
  assert.match(text, /r-ok-0001 succeeded llama\/v1/);
  assert.equal((r.text.match(/<rect /g) ?? []).length, 2);
  assert.match(r.text, /<svg role="img" aria-label="Rollout durations/);
});

test('version page: findings with code, file and tensor; what changed, against the previous version or the one asked for', async () => {
  const bad = visible((await get('/models/llama/versions/v2')).text);
  assert.match(bad, /v2 invalid/);
  assert.match(
    bad,
    /Findings \(1\) .* error OFFSETS_NOT_CONTIGUOUS model-00002-of-00004\.safetensors model\.layers\.3\.mlp\.up_proj\.weight data_offsets overlap/,
  );
  const v3 = visible((await get('/models/llama/versions/v3')).text);
  assert.match(v3, /What changed from v2 shards 4 → 2/);
  assert.match(v3, /Findings \(0\) No findings\./);
  const vs1 = visible((await get('/models/llama/versions/v3', deps(), { query: { with: 'v1' } })).text);
  assert.match(vs1, /What changed from v1 shards 4 → 2/);
  const first = visible((await get('/models/llama/versions/v1')).text);
  assert.match(first, /What changed first version/);
});

test('rollout pages: the phase timeline with reasons and times; a rolled-back one links the rollout and version it went back to', async () => {
  const ok = visible((await get('/rollouts/r-ok-0001')).text);
  assert.match(
    ok,
    /pending Created 2026-11-21 12:01:40Z \+0\.0 s .* applying Started .* progressing Applied .* succeeded RolloutComplete 2026-11-21 12:02:21Z \+41 s/,
  );
  assert.match(ok, /Rollback target none \(first rollout on this target\)/);
  const badPage = await get('/rollouts/r-bad-0002');
  const bad = visible(badPage.text);
  assert.match(bad, /failed CrashLoopBackOff .* \+1 min 35 s .* container vllm: back-off restarting failed container/);
  assert.match(bad, /rolling back RollingBack .* rolled back RolledBack .* llama\/v1 is serving again/);
  assert.match(bad, /Rollback target r-ok-0001 \( llama\/v1 \) — rolled back to it/);
  assert.ok(hrefs(badPage.text).includes('/rollouts/r-ok-0001'));
  assert.ok(hrefs(badPage.text).includes('/models/llama/versions/v1'));
  // The design slots, empty until other work records them.
  assert.match(bad, /No gate results recorded for this rollout\./);
  assert.match(bad, /No weight-load figures recorded for this rollout\./);
});

test('gate results and weight-load figures are shown when the rollout record carries them', async () => {
  const data = sampleData();
  Object.assign(data.rollouts[0]!, {
    gate: {
      passed: false,
      results: [
        { prompt: 'What is 2+2?', passed: true, latencyMs: 120 },
        { prompt: 'Say hi', passed: false, detail: 'empty answer' },
      ],
    },
    load: { predicted: { bytes: 16 * 2 ** 30, seconds: 20 }, measured: { bytes: 16 * 2 ** 30, seconds: 32 } },
  });
  const page = await get('/rollouts/r-ok-0001', deps(data));
  const text = visible(page.text);
  assert.match(text, /What is 2\+2\? succeeded 120 ms Say hi failed empty answer/);
  assert.match(text, /Predicted 16\.0 GiB 20 s 0\.80 Measured 16\.0 GiB 32 s 0\.50/);
  // …and the model page charts the measured load rate.
  const model = await get('/models/llama', deps(data));
  assert.match(model.text, /aria-label="Weight load rate, measured \(GiB\/s\)"/);
  assert.match(visible(model.text), /0\.50 GiB\/s/);
});

test('targets: what each serves, its active and latest rollout; a target page lists its rollouts', async () => {
  const list = visible((await get('/targets')).text);
  assert.match(list, /local~default~llama idle — llama\/v1 \(rollout\) r-bad-0002 rolled back/);
  const one = await get('/targets/local~default~llama');
  assert.match(visible(one.text), /Serving llama\/v1/);
  assert.match(visible(one.text), /Rollouts \(2\)/);
  assert.equal((await get('/targets/nowhere~x~y')).status, 404);
});

test('caches: zone, state, TTL, last use, the targets relying on it and an estimated cost per day', async () => {
  const r = await get('/caches');
  const text = visible(r.text);
  // v1 (the version its target's rollout ran) is 16 060 522 496 bytes.
  const usd = (16_060_522_496 / 2 ** 30) * CACHE_STORAGE_USD_PER_GIB_HOUR * 24;
  assert.match(text, new RegExp(`ferry-models us-central1-a running 1 d 0 h 2026-11-21 12:21:30Z local~default~llama \\$${usd.toFixed(2)}/day \\(15\\.0 GiB`));
  assert.ok(hrefs(r.text).includes('/targets/local~default~llama'));
  assert.match(text, /cloud\.google\.com\/storage\/pricing/);
});

test('cost estimate: only for a running cache in a region with a documented rate', () => {
  assert.equal(estimateCacheCost({ zone: 'us-central1-a', state: 'running', bytes: 2 ** 30 }).kind, 'estimate');
  const e = estimateCacheCost({ zone: 'us-central1-f', state: 'running', bytes: 10 * 2 ** 30 });
  assert.ok(e.kind === 'estimate' && Math.abs(e.usdPerDay - 10 * 0.0001233 * 24) < 1e-12);
  assert.deepEqual(estimateCacheCost({ zone: 'europe-west4-a', state: 'running', bytes: 2 ** 30 }), {
    kind: 'none',
    why: 'no documented rate found for europe-west4',
  });
  assert.equal(estimateCacheCost({ zone: 'us-central1-a', state: 'disabled', bytes: 2 ** 30 }).kind, 'none');
  assert.equal(estimateCacheCost({ zone: 'us-central1-a', state: 'running', bytes: null }).kind, 'none');
});

test('teardown runs with what was skipped and why; rejected deploy requests with their reasons', async () => {
  const td = visible((await get('/teardown')).text);
  assert.match(td, /schedule · planned 0, done 0, started 0, skipped 1, failed 0/);
  assert.match(td, /skipped IN_USE_BY_DEPLOYMENT local~default~llama runs from it/);
  const rej = visible((await get('/rejected')).text);
  assert.match(rej, /llama VERSION_INVALID llama\/v2 is invalid \(OFFSETS_NOT_CONTIGUOUS\) version : not a valid version cli msg-77/);
});

test('every link on every page leads to a page (deep links for models, versions, targets, rollouts)', async () => {
  const seen = new Set<string>();
  const queue = ['/models', '/targets', '/caches', '/teardown', '/rejected'];
  while (queue.length) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    const [path, qs] = url.split('?');
    const r = await get(path!, deps(), { query: Object.fromEntries(new URLSearchParams(qs ?? '')) });
    assert.equal(r.status, 200, url);
    for (const h of hrefs(r.text)) if (h.startsWith('/')) queue.push(h);
  }
  for (const must of ['/models/llama/versions/v2', '/rollouts/r-bad-0002', '/targets/local~default~llama']) assert.ok(seen.has(must), must);
});

test('not found, read-only, bad paths: a code and what to do, never data or a stack trace', async () => {
  for (const path of ['/models/nope', '/models/llama/versions/nope', '/rollouts/nope', '/what', '/models/llama/x/y', '/models/%E0%A4%A']) {
    const r = await get(path);
    assert.equal(r.status, 404, path);
    assert.match(r.text, /CONSOLE_NOT_FOUND/);
    assert.doesNotMatch(r.text, /at .*\.ts:\d+/);
  }
  const post = await get('/models', deps(), { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers['allow'], 'GET, HEAD');
});

test('sign-in: nothing without the dev token or an IAP assertion; ?token= sets an HttpOnly cookie and redirects without it', async () => {
  const none = await handleConsoleRequest({ method: 'GET', path: '/models', query: {}, headers: {} }, deps());
  assert.equal(none.status, 401);
  assert.match(none.text, /CONSOLE_UNAUTHENTICATED/);
  assert.doesNotMatch(none.text, /llama/);
  for (const headers of [{ cookie: `${DEV_COOKIE}=wrong` }, { authorization: 'Bearer wrong' }, { iapAssertion: 'a.b.c' }]) {
    const r = await handleConsoleRequest({ method: 'GET', path: '/models', query: {}, headers }, deps());
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.doesNotMatch(r.text, /llama/);
  }
  const bearer = await handleConsoleRequest({ method: 'GET', path: '/models', query: {}, headers: { authorization: `Bearer ${TOKEN}` } }, deps());
  assert.equal(bearer.status, 200);
  const login = await handleConsoleRequest({ method: 'GET', path: '/rollouts/r-ok-0001', query: { token: TOKEN }, headers: {} }, deps());
  assert.equal(login.status, 303);
  assert.equal(login.headers['location'], '/rollouts/r-ok-0001');
  assert.equal(login.headers['set-cookie'], `${DEV_COOKIE}=${TOKEN}; Path=/; HttpOnly; SameSite=Strict`);
  const wrong = await handleConsoleRequest({ method: 'GET', path: '/models', query: { token: 'nope' }, headers: {} }, deps());
  assert.equal(wrong.status, 401);
  // Production: no dev token; the IAP verifier decides.
  const iap = (ok: boolean, unavailable = false): IapVerifier => ({
    verify: async () => (ok ? { ok: true, email: 'bob@example.com', subject: 's' } : { ok: false, why: 'forged', unavailable }),
  });
  const prod = (v: IapVerifier) =>
    handleConsoleRequest(
      { method: 'GET', path: '/models', query: { token: TOKEN }, headers: { iapAssertion: 'x.y.z' } },
      deps(sampleData(), { devToken: null, iap: v }),
    );
  assert.equal((await prod(iap(true))).status, 200);
  assert.equal((await prod(iap(false))).status, 401);
  const down = await prod(iap(false, true));
  assert.equal(down.status, 503);
  assert.doesNotMatch(down.text, /llama/);
});

test('live updates: the ETag answers 304 while nothing changed; the fragment is <main> only; a change moves the ETag', async () => {
  const data = sampleData();
  const d = deps(data);
  const first = await get('/models/llama', d);
  const etag = first.headers['etag']!;
  assert.match(etag, /^W\/"[A-Za-z0-9_-]{27}"$/);
  assert.match(first.text, new RegExp(`<main data-etag="${etag.replace(/"/g, '&quot;').replace(/[/]/g, '\\/')}" data-poll="5">`));
  const same = await get('/models/llama', d, { headers: { cookie: `${DEV_COOKIE}=${TOKEN}`, ifNoneMatch: etag } });
  assert.equal(same.status, 304);
  assert.equal(same.text, '');
  const frag = await get('/models/llama', d, { headers: { cookie: `${DEV_COOKIE}=${TOKEN}`, fragment: '1' } });
  assert.equal(frag.status, 200);
  assert.doesNotMatch(frag.text, /<html|<main/);
  assert.ok(first.text.includes(frag.text), 'the fragment is what <main> holds');
  data.versions.push({ ...data.versions[2]!, version: 'v4', createdAt: '2026-11-21T13:00:00.000Z' });
  const changed = await get('/models/llama', d, { headers: { cookie: `${DEV_COOKIE}=${TOKEN}`, ifNoneMatch: etag, fragment: '1' } });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers['etag'], etag);
  assert.match(changed.text, /v4/);
});

test('whatever a record holds is escaped (finding messages, reasons)', async () => {
  const data = sampleData();
  data.versions[1]!.errors[0]!.message = '<img src=x onerror="alert(1)">';
  data.rejected[0]!.message = '</td><script>alert(2)</script>';
  const v = await get('/models/llama/versions/v2', deps(data));
  assert.ok(v.text.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'));
  assert.ok(!v.text.includes('<img src=x'));
  const r = await get('/rejected', deps(data));
  assert.ok(!r.text.includes('<script>alert(2)'));
});

test('the Content-Security-Policy allows exactly the inline style and script the page carries, nothing else', async () => {
  const r = await get('/models');
  const csp = r.headers['content-security-policy']!;
  const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
  const style = /<style>([\s\S]*?)<\/style>/.exec(r.text)![1]!;
  const script = /<script>([\s\S]*?)<\/script>/.exec(r.text)![1]!;
  assert.match(csp, new RegExp(`style-src ${hash(style).replace(/[+/]/g, '\\$&')}`));
  assert.match(csp, new RegExp(`script-src ${hash(script).replace(/[+/]/g, '\\$&')}`));
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(r.text, /style="/, 'no inline style attributes (the CSP would block them)');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['x-frame-options'], 'DENY');
});

/** memoryReads with every read counted by name. */
function countedReads(data: ConsoleData): { reads: ConsoleDeps['reads']; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrap = <T extends object>(part: string, o: T): T =>
    Object.fromEntries(
      Object.entries(o).map(([name, fn]) => [
        name,
        (...args: unknown[]) => {
          calls.set(`${part}.${name}`, (calls.get(`${part}.${name}`) ?? 0) + 1);
          return (fn as (...a: unknown[]) => unknown)(...args);
        },
      ]),
    ) as T;
  const r = memoryReads(data);
  return {
    reads: {
      versions: wrap('versions', r.versions),
      rollouts: wrap('rollouts', r.rollouts),
      caches: wrap('caches', r.caches),
      teardown: wrap('teardown', r.teardown),
    },
    calls,
  };
}

test('models page: two reads whatever the number of models (no query per model), same rows as per-model reads', async () => {
  for (const models of [1, 30]) {
    const data = bulkData(models, 4);
    const { reads, calls } = countedReads(data);
    const r = await get('/models', deps(data, { reads }));
    assert.equal(r.status, 200);
    assert.deepEqual(Object.fromEntries(calls), { 'versions.listModels': 1, 'versions.listVersionBriefs': 1 });
    assert.match(visible(r.text), new RegExp(`Models \\(${models}\\)`));
    // Every model's row counts its own 4 versions (the briefs are grouped by model, none lost).
    for (const m of data.models) assert.match(visible(r.text), new RegExp(` ${m.model} 4 \\d \\d \\d `));
  }
});

test('caches page: one batched read of the rollouts and one of the versions sizes, not one per cache target', async () => {
  const data = sampleData();
  const { reads, calls } = countedReads(data);
  const r = await get('/caches', deps(data, { reads }));
  // The size came through the batched read: the estimate needs it.
  assert.match(visible(r.text), /local~default~llama \$\d+\.\d\d\/day/);
  assert.deepEqual(Object.fromEntries(calls), { 'caches.list': 1, 'rollouts.getRollouts': 1, 'versions.getTensorBytes': 1 });
});

/**
 * The web console end to end, in headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against the local stack: a valid and an invalid version (uploaded, validated by onCheckpointUpload),
 * a succeeded rollout with an Anywhere Cache and a rolled-back one (deploy requests through Pub/Sub,
 * run on the simulated cluster) — then the pages that show them, a live update without a reload,
 * and 401 for a missing or forged IAP assertion. Screenshots of the main pages go to .ferry/screenshots/
 * (docs/screenshots/ with FERRY_UPDATE_SCREENSHOTS=1).
 *
 * Skips (with the reason) without the local stack (run it through `npm test`) or without Chromium
 * (`apt-get install chromium`; FERRY_CHROMIUM names another binary).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, copyFileSync, truncateSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { PubSub } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { chromium, type Browser, type Page } from 'playwright-core';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { deployAndFinish } from '../helpers/deploy-wait.ts';
import { LLAMA_DIR } from '../helpers/upload-version.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import type { Rollout } from '../../shared/domain/rollout.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';
import type { DeployRequestInput } from '../../shared/domain/deploy-request.ts';

const CHROMIUM = process.env['FERRY_CHROMIUM'] ?? '/usr/bin/chromium';
// README's screenshots are rewritten only on request (FERRY_UPDATE_SCREENSHOTS=1, when the UI
// changes); an ordinary run writes them under .ferry/ so `npm test` leaves the tree clean.
const SHOTS = join(import.meta.dirname, '..', '..', ...(process.env['FERRY_UPDATE_SCREENSHOTS'] === '1' ? ['docs', 'screenshots'] : ['.ferry', 'screenshots']));
const skip = !process.env['FERRY_TEST_STACK']
  ? 'needs the local stack: run it through `npm test` (or set FERRY_TEST_STACK=1 with the env of a running `npm start`)'
  : !existsSync(CHROMIUM)
    ? `Chromium is not installed at ${CHROMIUM}: apt-get install chromium (or set FERRY_CHROMIUM)`
    : false;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test('the console shows versions, rollouts and caches in a real browser; a missing or forged IAP assertion gets 401', { skip, timeout: 600_000 }, async () => {
  const env = stackEnv(
    'GOOGLE_CLOUD_PROJECT',
    'STORAGE_EMULATOR_HOST',
    'FERRY_BUCKET',
    'FERRY_DEPLOY_TOPIC',
    'FERRY_KUBE_ADMIN_KUBECONFIG',
    'FERRY_URL_CONSOLE',
    'FERRY_URL_ON_CHECKPOINT_UPLOAD',
    'FERRY_CONSOLE_DEV_TOKEN',
  );
  const base = env.FERRY_URL_CONSOLE;
  const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
  const versions = new FirestoreCheckpointState(db);
  const rollouts = new FirestoreRolloutState(db);
  const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
  const topic = pubsub.topic(env.FERRY_DEPLOY_TOPIC, { batching: { maxMessages: 1 } });
  cleanups.push(() => pubsub.close());
  const admin = new KubeConfig();
  admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
  const NS = 'ferry-console-it';
  cleanups.push(() => admin.makeApiClient(CoreV1Api).deleteNamespace({ name: NS }));
  const model = uniqueName('console');

  // ---- the scenes: a valid and an invalid version ---------------------------------------------
  // Uploaded as `ferry upload` does (shards first, index and config.json last). The finalize event
  // of the last object is also delivered here, exactly as Eventarc delivers it (binary-mode
  // CloudEvent, as infra/local/storage-forwarder does): on a loaded machine the Firebase Functions
  // emulator can take minutes to start the forwarder's worker. A second delivery of the same event
  // is harmless by design (one validation per content).
  const storage = new Storage({ projectId: env.GOOGLE_CLOUD_PROJECT, apiEndpoint: env.STORAGE_EMULATOR_HOST });
  const uploader = gcsUploader(env.FERRY_BUCKET, storage);
  const upload = async (dir: string, version: string, status: VersionDoc['status']): Promise<VersionDoc> => {
    const last = ['model.safetensors.index.json', 'config.json'];
    const names = readdirSync(dir);
    const prefix = `models/${model}/${version}/`;
    await Promise.all(names.filter((x) => !last.includes(x)).map((n) => uploader.upload(join(dir, n), prefix + n)));
    for (const n of last) await uploader.upload(join(dir, n), prefix + n);
    const [meta] = await storage.bucket(env.FERRY_BUCKET).file(`${prefix}config.json`).getMetadata();
    const data = { ...meta, size: String(meta.size), generation: String(meta.generation), metageneration: String(meta.metageneration) };
    const delivered = await fetch(env.FERRY_URL_ON_CHECKPOINT_UPLOAD, {
      method: 'POST',
      headers: {
        'ce-id': `console-it-${version}-${String(meta.generation)}`,
        'ce-specversion': '1.0',
        'ce-type': 'google.cloud.storage.object.v1.finalized',
        'ce-source': `//storage.googleapis.com/projects/_/buckets/${env.FERRY_BUCKET}`,
        'ce-subject': `objects/${prefix}config.json`,
        'ce-time': new Date().toISOString(),
        'content-type': 'application/json',
      },
      body: JSON.stringify(data),
    });
    assert.ok(delivered.ok, `finalize event delivered: ${delivered.status}`);
    return eventually(
      `${model}/${version} ${status}`,
      () => versions.getVersion(model, version),
      (d): d is VersionDoc => d?.status === status,
      180_000,
      500,
    );
  };
  await upload(LLAMA_DIR, 'v1', 'valid');
  const broken = mkdtempSync(join(tmpdir(), 'ferry-console-'));
  cleanups.push(async () => rmSync(broken, { recursive: true, force: true }));
  for (const n of readdirSync(LLAMA_DIR)) copyFileSync(join(LLAMA_DIR, n), join(broken, n));
  const cut = join(broken, 'model-00003-of-00006.safetensors');
  truncateSync(cut, statSync(cut).size - 64); // the tensors need more bytes than the file has
  const invalid = await upload(broken, 'v2-broken', 'invalid');
  const finding = invalid.errors[0]!;

  // ---- a succeeded rollout (with an Anywhere Cache) and a rolled-back one ----------------------
  const request = (over: Partial<DeployRequestInput> = {}): DeployRequestInput => ({
    apiVersion: 'ferry/v1',
    model,
    version: 'v1',
    target: { cluster: 'local', namespace: NS, name: 'console-llama' },
    accelerator: { type: 'nvidia-l4', count: 1 },
    replicas: 1,
    progressDeadlineSeconds: 60,
    cache: { mode: 'all-zones' },
    requestedBy: { source: 'pubsub', principal: 'console-test' },
    ...over,
  });
  const deploy = (r: DeployRequestInput): Promise<Rollout> => deployAndFinish(topic, rollouts, r, 240_000);
  const good = await deploy(request());
  assert.equal(good.phase, 'succeeded', `${good.reason}: ${good.message}`);
  const bad = await deploy(request({ image: 'vllm/vllm-openai:fail-crash' }));
  assert.equal(bad.phase, 'rolled_back', `${bad.reason}: ${bad.message}`);

  // ---- 401 without a valid sign-in (no browser needed to show the server refuses) ---------------
  const forged = `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'x', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
    JSON.stringify({ iss: 'https://cloud.google.com/iap', aud: '/projects/1/global/backendServices/2', sub: 'mallory', exp: 9e9, iat: 1 }),
  ).toString('base64url')}.${Buffer.alloc(64).toString('base64url')}`;
  for (const headers of [{}, { 'x-goog-iap-jwt-assertion': forged }, { 'x-goog-iap-jwt-assertion': 'not-a-jwt' }]) {
    const r = await fetch(`${base}/models/${model}`, { headers });
    assert.equal(r.status, 401, JSON.stringify(headers));
    const body = await r.text();
    assert.match(body, /CONSOLE_UNAUTHENTICATED/);
    assert.ok(!body.includes(model), 'no data in a 401');
  }

  // ---- the browser ----------------------------------------------------------------------------
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  cleanups.push(() => browser.close());
  mkdirSync(SHOTS, { recursive: true });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  // A forged IAP assertion, from the browser too: 401 and nothing of ferry's.
  const strangers = await browser.newContext({ extraHTTPHeaders: { 'x-goog-iap-jwt-assertion': forged } });
  const stranger = await strangers.newPage();
  const refused = await stranger.goto(`${base}/models`);
  assert.equal(refused?.status(), 401);
  assert.match(await stranger.locator('body').innerText(), /not signed in/);
  await strangers.close();

  const context = await browser.newContext({ viewport: { width: 1320, height: 900 } });
  const page = await context.newPage();
  // The URL `npm start` prints: the dev token becomes an HttpOnly cookie and leaves the address bar.
  const signedIn = await page.goto(`${base}/models?token=${env.FERRY_CONSOLE_DEV_TOKEN}`);
  assert.equal(signedIn?.status(), 200);
  assert.equal(new URL(page.url()).search, '', 'the token is not left in the URL');
  await page.getByRole('link', { name: model, exact: true }).waitFor();
  await shot(page, 'models');

  await page.getByRole('link', { name: model, exact: true }).click();
  await page.waitForURL(`${base}/models/${model}`);
  const modelText = await page.locator('main').innerText();
  assert.match(modelText, /v1\s+valid/);
  assert.match(modelText, /v2-broken\s+invalid/);
  assert.ok(modelText.includes(finding.code), `the finding ${finding.code} shows`);
  assert.match(modelText, new RegExp(`${bad.id}\\s+rolled back`));
  assert.match(modelText, new RegExp(`${good.id}\\s+succeeded`));
  assert.equal(await page.locator('figure.chart svg rect').count(), 2, 'one bar per rollout');
  await shot(page, 'model');

  await page.getByRole('link', { name: 'v2-broken', exact: true }).first().click();
  await page.waitForURL(`${base}/models/${model}/versions/v2-broken`);
  const versionText = await page.locator('main').innerText();
  assert.ok(versionText.includes(finding.code) && versionText.includes(finding.file), `${finding.code} in ${finding.file}`);
  await shot(page, 'version-invalid');

  await page.goto(`${base}/rollouts/${good.id}`);
  const goodText = await page.locator('ol.timeline').innerText();
  for (const h of good.history) assert.ok(goodText.includes(h.reason), `timeline shows ${h.phase} ${h.reason}`);
  assert.match(goodText, /succeeded\s+RolloutComplete/);

  await page.goto(`${base}/rollouts/${bad.id}`);
  const badText = await page.locator('main').innerText();
  assert.match(badText, /rolling back\s+RollingBack/);
  assert.match(badText, /rolled back\s+RolledBack/);
  assert.match(badText, /rolled back to it/);
  await shot(page, 'rollout-rolled-back');
  await page.getByRole('link', { name: good.id, exact: true }).first().click();
  await page.waitForURL(`${base}/rollouts/${good.id}`);

  await page.goto(`${base}/caches`);
  const cacheRow = page.locator('tr', { hasText: 'us-central1-a' }).filter({ hasText: `local~${NS}~console-llama` });
  await cacheRow.first().waitFor();
  assert.match(await cacheRow.first().innerText(), /running/);
  await shot(page, 'caches');

  // Live: a refused deploy request appears on the open page without a reload.
  await page.goto(`${base}/rejected`);
  // Page functions run in the browser (no DOM types here): they reach it through globalThis.
  type InPage = { stillHere?: boolean; document: { querySelector(s: string): { textContent: string | null } | null } };
  await page.evaluate(() => ((globalThis as unknown as InPage).stillHere = true));
  const bogus = uniqueName('bogus-model');
  await topic.publishMessage({ json: { apiVersion: 'ferry/v1', model: bogus, version: 'v1' } });
  await page.waitForFunction((m) => ((globalThis as unknown as InPage).document.querySelector('main')?.textContent ?? '').includes(m), bogus, {
    timeout: 120_000,
    polling: 500,
  });
  assert.equal(await page.evaluate(() => (globalThis as unknown as InPage).stillHere), true, 'updated in place, not reloaded');
  await shot(page, 'rejected');
});

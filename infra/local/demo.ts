/**
 * `npm run demo` — the main job, end to end, on the local stack: upload a reference checkpoint to
 * the local bucket, watch the finalize events turn into one header-only validation and a version in
 * Firestore, then deploy it to the local Kubernetes cluster and watch the rollout: the simulated vLLM
 * pods stream the weights (their log lines show bytes and GiB/s) and the new version answers a
 * completion through the API server; then a broken image is rolled back.
 * Uses a running `npm start` stack when there is one; otherwise starts one and stops it at the end.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Storage } from '@google-cloud/storage';
import { startStack, runningStack, consoleSignInUrl, REPO_ROOT, type Stack } from './stack.ts';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import { listLocalFiles } from '../../shared/adapters/local-dir.ts';
import { uploadCheckpointFiles } from '../../shared/app/upload-checkpoint.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';
import { deployStep } from './demo-deploy.ts';

const CHECKPOINT = join(REPO_ROOT, 'test/fixtures/checkpoints/llama-sharded');
const t0 = Date.now();
const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const say = (m: string) => process.stdout.write(`[demo ${secs().padStart(6)}] ${m}\n`);

let owned: Stack | undefined;
let step = 'starting the local stack';
async function main(): Promise<void> {
  const existing = runningStack();
  let env: Record<string, string>;
  if (existing) {
    say(`using the running local stack (pid ${existing.pid})`);
    env = existing.env;
  } else {
    say('starting the local stack (emulators, Kubernetes, functions)…');
    owned = await startStack({ dir: join(REPO_ROOT, '.ferry', 'demo'), ports: 'free', envFile: null, log: (m) => say(`  ${m}`) });
    env = owned.env;
    say('local stack ready');
  }
  Object.assign(process.env, env, { METADATA_SERVER_DETECTION: 'none' });
  const consoleUrl = consoleSignInUrl(env);
  if (consoleUrl) say(`watch it happen in the web console: ${consoleUrl}`);

  const model = 'tiny-llama';
  const version = `v${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`;
  const bucket = env['FERRY_BUCKET']!;
  const prefix = `${env['FERRY_MODEL_PREFIX'] ?? 'models/'}${model}/${version}/`;

  step = 'uploading the checkpoint';
  say(`uploading ${CHECKPOINT.replace(REPO_ROOT + '/', '')} → gs://${bucket}/${prefix} (shards in parallel, index and config.json last)`);
  const storage = new Storage({ projectId: env['GOOGLE_CLOUD_PROJECT']!, apiEndpoint: env['STORAGE_EMULATOR_HOST']! });
  const up = await uploadCheckpointFiles(await listLocalFiles(CHECKPOINT), prefix, gcsUploader(bucket, storage), {
    onProgress: (p) => say(`  uploaded ${p.file} (${p.bytes.toLocaleString('en-US')} B) [${p.doneFiles}/${p.totalFiles}]`),
  });
  say(`upload done: ${up.files} files, ${up.bytes.toLocaleString('en-US')} bytes; each write fired a finalize event`);

  step = 'waiting for validation';
  const { firestoreClient, FirestoreCheckpointState } = await import('../../shared/adapters/firestore.ts');
  const state = new FirestoreCheckpointState(firestoreClient(env['GOOGLE_CLOUD_PROJECT']!));
  let last = '';
  let doc: VersionDoc | undefined;
  const deadline = Date.now() + 60_000;
  for (;;) {
    doc = await state.getVersion(model, version);
    const now = doc ? `${doc.status}${doc.status === 'incomplete' ? ` (missing ${doc.missing.join(', ')})` : ''}` : 'not recorded yet';
    if (now !== last) say(`version ${model}@${version}: ${now}`);
    last = now;
    if (doc && (doc.status === 'valid' || doc.status === 'invalid')) break;
    if (Date.now() > deadline) throw new Error(`version did not reach valid/invalid in 60 s (last: ${now}); see ${env['FERRY_STACK_DIR']}/logs/functions.log`);
    await sleep(200);
  }
  if (doc.status !== 'valid') throw new Error(`the reference checkpoint was judged invalid: ${JSON.stringify(doc.errors)}`);
  const s = doc.summary as Record<string, unknown>;
  const io = s['io'] as { requests: number; bytesRead: number } | undefined;
  say(
    `validated once (validations=${doc.validations}) from headers only: ${String(s['shards'])} shards, ${String(s['tensors'])} tensors, ` +
      `${JSON.stringify((s['parameters'] as Record<string, unknown>)?.['total'] ?? s['parameters'])} parameters` +
      (io ? `; read ${io.bytesRead.toLocaleString('en-US')} of ${up.bytes.toLocaleString('en-US')} bytes in ${io.requests} requests` : ''),
  );

  step = 'deploying';
  const deployed = await deployStep({ env, model, version, say });

  process.stdout.write(`\nDemo finished in ${secs()}:\n`);
  process.stdout.write(`  checkpoint  gs://${bucket}/${prefix} — ${doc.status}, validated ${doc.validations}×\n`);
  process.stdout.write(`  firestore   models/${model}/versions/${version}\n`);
  if (deployed) process.stdout.write(`  rollout     ${deployed}\n`);
  if (consoleUrl) process.stdout.write(`  console     ${consoleUrl}${owned ? '  (this stack stops now; `npm start` serves it for good)' : ''}\n`);
  process.stdout.write('  next        ferry status ' + model + (owned ? '  (after `npm start`)' : '') + '\n');
}

try {
  await main();
  await owned?.stop();
  process.exit(0);
} catch (e) {
  process.stderr.write(`\n[demo] FAILED while ${step}: ${e instanceof Error ? e.message : String(e)}\n`);
  await owned?.stop();
  process.exit(1);
}

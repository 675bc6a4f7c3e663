/** Uploads the reference tiny Llama as <model>/<version> and waits until it is valid. */
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Storage } from '@google-cloud/storage';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';

const LLAMA = join(import.meta.dirname, '..', 'fixtures', 'checkpoints', 'llama-sharded');

export async function uploadVersion(env: Record<string, string>, model: string, version: string): Promise<void> {
  const bucket = new Storage({ projectId: env['GOOGLE_CLOUD_PROJECT']!, apiEndpoint: env['STORAGE_EMULATOR_HOST']! }).bucket(env['FERRY_BUCKET']!);
  const state = new FirestoreCheckpointState(firestoreClient(env['GOOGLE_CLOUD_PROJECT']!));
  await Promise.all(readdirSync(LLAMA).map((n) => bucket.upload(join(LLAMA, n), { destination: `models/${model}/${version}/${n}`, resumable: false })));
  for (let i = 0; i < 600; i++) {
    if ((await state.getVersion(model, version))?.status === 'valid') return;
    await sleep(100);
  }
  throw new Error(`${model}/${version} did not become valid`);
}

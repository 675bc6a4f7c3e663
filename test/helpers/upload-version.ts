/**
 * Uploads the reference tiny Llama as <model>/<version> to the local stack's bucket (shards first,
 * the index and config.json last, as `ferry upload` does) and waits until the version is valid.
 */
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { Storage } from '@google-cloud/storage';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';
import { eventually } from './stack-env.ts';

export const LLAMA_DIR = join(import.meta.dirname, '..', 'fixtures', 'checkpoints', 'llama-sharded');

export async function uploadVersion(env: Record<string, string>, model: string, version: string): Promise<VersionDoc> {
  // ferry's own uploader: it retries a connection the emulator drops mid-request, never writing twice.
  const uploader = gcsUploader(env['FERRY_BUCKET']!, new Storage({ projectId: env['GOOGLE_CLOUD_PROJECT']!, apiEndpoint: env['STORAGE_EMULATOR_HOST']! }));
  const versions = new FirestoreCheckpointState(firestoreClient(env['GOOGLE_CLOUD_PROJECT']!));
  const prefix = `models/${model}/${version}/`;
  const last = ['model.safetensors.index.json', 'config.json'];
  const names = readdirSync(LLAMA_DIR);
  await Promise.all(names.filter((n) => !last.includes(n)).map((n) => uploader.upload(join(LLAMA_DIR, n), prefix + n)));
  for (const n of last) await uploader.upload(join(LLAMA_DIR, n), prefix + n);
  return eventually(
    `${model}/${version} valid`,
    () => versions.getVersion(model, version),
    (d): d is VersionDoc => d?.status === 'valid',
  );
}

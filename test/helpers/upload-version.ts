/**
 * Uploads the reference tiny Llama as <model>/<version> to the local stack's bucket (shards first,
 * the index and config.json last, as `ferry upload` does) and waits until the version is valid.
 */
import { join } from 'node:path';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Storage } from '@google-cloud/storage';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { gcsUploader } from '../../shared/adapters/gcs-upload.ts';
import type { VersionDoc } from '../../shared/domain/version.ts';
import { eventually } from './stack-env.ts';

export const LLAMA_DIR = join(import.meta.dirname, '..', 'fixtures', 'checkpoints', 'llama-sharded');

/**
 * The reference checkpoint with one byte of `shard`'s tensor data flipped (its last byte, inside
 * the last tensor): the header is intact, so it validates, but the weights are not the same.
 * Returns the folder holding the altered copy (the other files are copied unchanged).
 */
export function alteredCopy(shard: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-altered-'));
  for (const n of readdirSync(LLAMA_DIR)) {
    const bytes = readFileSync(join(LLAMA_DIR, n));
    if (n === shard) {
      const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
      if (bytes.length <= headerEnd) throw new Error(`${n} has no tensor data to alter`);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    }
    writeFileSync(join(dir, n), bytes);
  }
  return dir;
}

export async function uploadVersion(env: Record<string, string>, model: string, version: string, from = LLAMA_DIR): Promise<VersionDoc> {
  // ferry's own uploader: it retries a connection the emulator drops mid-request, never writing twice.
  const uploader = gcsUploader(env['FERRY_BUCKET']!, new Storage({ projectId: env['GOOGLE_CLOUD_PROJECT']!, apiEndpoint: env['STORAGE_EMULATOR_HOST']! }));
  const versions = new FirestoreCheckpointState(firestoreClient(env['GOOGLE_CLOUD_PROJECT']!));
  const prefix = `models/${model}/${version}/`;
  const last = ['model.safetensors.index.json', 'config.json'];
  const names = readdirSync(from);
  await Promise.all(names.filter((n) => !last.includes(n)).map((n) => uploader.upload(join(from, n), prefix + n)));
  for (const n of last) await uploader.upload(join(from, n), prefix + n);
  return eventually(
    `${model}/${version} valid`,
    () => versions.getVersion(model, version),
    (d): d is VersionDoc => d?.status === 'valid',
  );
}

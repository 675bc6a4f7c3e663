/**
 * Benchmark: `ferry verify --full` over gs:// (verifyCheckpoint: parallel 8 MiB ranged reads, CRC32C
 * and sha256 per file) against a plain `@google-cloud/storage` download of the same files
 * (`file.download()`, the SDK's own CRC32C validation on, the same number of files in parallel),
 * in the Storage emulator; and ferry's CRC32C against the SDK's `CRC32C` class in memory.
 * Needs STORAGE_EMULATOR_HOST (and FERRY_BUCKET, GOOGLE_CLOUD_PROJECT).
 *
 *   FERRY_BENCH_VERIFY_FILES=4 FERRY_BENCH_VERIFY_MIB=32 node test/bench/verify.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { CRC32C } from '@google-cloud/storage';
import { gcsObjectStore, storageClient } from '../../shared/adapters/gcs.ts';
import { mapLimit } from '../../shared/app/validate-checkpoint.ts';
import { verifyCheckpoint } from '../../shared/app/verify-checkpoint.ts';
import { Crc32c } from '../../shared/domain/crc32c.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mibps = (bytes: number, ms: number) => Math.round((bytes / 2 ** 20 / (ms / 1000)) * 10) / 10;

export async function run(env: Record<string, string | undefined> = process.env): Promise<Record<string, unknown>> {
  const files = Number(env['FERRY_BENCH_VERIFY_FILES'] ?? 4);
  const mib = Number(env['FERRY_BENCH_VERIFY_MIB'] ?? 32);
  const repeats = Number(env['FERRY_BENCH_REPEATS'] ?? 3);
  const storage = storageClient({ emulatorHost: env['STORAGE_EMULATOR_HOST'], projectId: env['GOOGLE_CLOUD_PROJECT'] ?? 'demo-ferry' });
  const bucketName = env['FERRY_BUCKET'] ?? 'ferry-models-local';
  const bucket = storage.bucket(bucketName);
  const prefix = `bench/verify-${Date.now().toString(36)}/`;
  const total = files * mib * 2 ** 20;
  for (let i = 0; i < files; i++) await bucket.file(`${prefix}f${i}.bin`).save(randomBytes(mib * 2 ** 20), { resumable: false });

  const ferryMs: number[] = [];
  const sdkMs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let t = performance.now();
    const rep = await verifyCheckpoint(gcsObjectStore(bucketName, { storage }), prefix, { full: true });
    ferryMs.push(performance.now() - t);
    if (!rep.ok || rep.bytesRead !== total) throw new Error(`verify failed: ${JSON.stringify(rep.errors)}`);
    t = performance.now();
    const [list] = await bucket.getFiles({ prefix });
    await mapLimit(list, files, async (f) => (await f.download())[0].length);
    sdkMs.push(performance.now() - t);
  }
  await Promise.all((await bucket.getFiles({ prefix }))[0].map((f) => f.delete()));

  // CRC32C alone, in memory (64 MiB).
  const buf = randomBytes(64 * 2 ** 20);
  let t = performance.now();
  const ours = new Crc32c().update(buf).base64();
  const oursMs = performance.now() - t;
  t = performance.now();
  const sdk = new CRC32C();
  sdk.update(buf);
  const sdkCrcMs = performance.now() - t;
  if (ours !== sdk.toString()) throw new Error('CRC32C differs from the SDK');

  return {
    files,
    bytes: total,
    repeats,
    ferryVerifyFull: { medianMs: Math.round(median(ferryMs)), mibPerSec: mibps(total, median(ferryMs)), hashes: 'CRC32C + sha256 of every byte' },
    sdkDownload: { medianMs: Math.round(median(sdkMs)), mibPerSec: mibps(total, median(sdkMs)), hashes: "the SDK's CRC32C validation" },
    crc32cInMemory: { ferryMibPerSec: mibps(buf.length, oursMs), sdkClassMibPerSec: mibps(buf.length, sdkCrcMs) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await run(), null, 2));

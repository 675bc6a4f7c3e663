/**
 * The CacheControl contract against the real Storage Control API (StorageControlCacheControl).
 * It runs only with a real project, credentials and a bucket to create caches in:
 *
 *   GOOGLE_CLOUD_PROJECT=my-project            (not a demo-* emulator project)
 *   application default credentials             (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS)
 *   FERRY_CONTRACT_BUCKET=my-test-bucket        (a bucket the credentials may manage caches of: roles/storage.admin)
 *   FERRY_CONTRACT_ZONES=us-central1-b,us-central1-c   (optional; default: zones b and c of a regional bucket's region)
 *   FERRY_CONTRACT_OUTSIDE_ZONE=europe-west4-a          (optional)
 *
 * Otherwise every test is reported as SKIPPED with the reason (never as passed). A run creates
 * billed caches in two zones, disables them at the end (the service deletes them an hour later),
 * and can take a long time: cache creation is slow.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheControlContract, type SubjectSource } from '../contract/cache-control.contract.ts';

async function source(): Promise<SubjectSource> {
  const project = process.env['GOOGLE_CLOUD_PROJECT'];
  if (!project || project.startsWith('demo-')) {
    return { skip: `no real Google Cloud project (GOOGLE_CLOUD_PROJECT=${project ?? 'unset'}; demo-* projects are emulator-only)` };
  }
  const bucket = process.env['FERRY_CONTRACT_BUCKET'];
  if (!bucket) return { skip: 'FERRY_CONTRACT_BUCKET is not set (a bucket the contract may create Anywhere Caches in)' };
  const adcFile = process.env['GOOGLE_APPLICATION_CREDENTIALS'] ?? join(homedir(), '.config', 'gcloud', 'application_default_credentials.json');
  if (!existsSync(adcFile) && process.env['FERRY_ALLOW_ADC'] !== '1') {
    return { skip: `no application default credentials (${adcFile} does not exist; set FERRY_ALLOW_ADC=1 on GCE/Cloud Shell)` };
  }
  try {
    const { GoogleAuth } = await import('google-auth-library');
    const token = await Promise.race([
      new GoogleAuth({ scopes: 'https://www.googleapis.com/auth/cloud-platform' }).getAccessToken(),
      sleep(15_000).then(() => null),
    ]);
    if (!token) return { skip: 'application default credentials gave no access token' };
  } catch (e) {
    return { skip: `application default credentials do not work: ${e instanceof Error ? e.message : String(e)}` };
  }
  return {
    make: async () => {
      const { Storage } = await import('@google-cloud/storage');
      const { StorageControlCacheControl } = await import('../../shared/adapters/storage-control.ts');
      const [meta] = await new Storage({ projectId: project }).bucket(bucket).getMetadata();
      const region = String(meta.location ?? '').toLowerCase();
      const given = (process.env['FERRY_CONTRACT_ZONES'] ?? '')
        .split(',')
        .map((z) => z.trim())
        .filter(Boolean);
      const zones = (given.length >= 2 ? given.slice(0, 2) : [`${region}-b`, `${region}-c`]) as [string, string];
      const outsideZone = process.env['FERRY_CONTRACT_OUTSIDE_ZONE'] ?? (region.startsWith('us') ? 'europe-west4-a' : 'us-central1-a');
      const control = new StorageControlCacheControl({ projectId: project });
      return {
        control,
        bucket,
        zones,
        outsideZone,
        async eventually(what, get, done) {
          const deadline = Date.now() + 3 * 3600 * 1000;
          while (Date.now() < deadline) {
            const v = await get();
            if (done(v)) return v;
            await sleep(30_000);
          }
          throw new Error(`${what}: not within 3 h`);
        },
        async cleanup() {
          for (const z of zones) await control.disable(bucket, z).catch(() => undefined);
        },
      };
    },
  };
}

cacheControlContract('real Storage Control API', await source());

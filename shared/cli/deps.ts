/** Builds what CLI commands need from the merged environment (explicit env over .ferry/local.env). */
import { parseConfig, BaseConfig } from '../config.ts';
import { FerryError } from '../domain/errors.ts';

export async function cliState(env: Record<string, string | undefined>) {
  const base = parseConfig(BaseConfig, env);
  if (!env['FIRESTORE_EMULATOR_HOST'] && !env['GOOGLE_APPLICATION_CREDENTIALS'] && !env['K_SERVICE'] && env['FERRY_ALLOW_ADC'] !== '1') {
    // Without the emulator, the SDK silently uses application default credentials against
    // production. That is fine — but say so, as a deliberate choice.
    process.stderr.write(`ferry: using Firestore in project ${base.GOOGLE_CLOUD_PROJECT} (no FIRESTORE_EMULATOR_HOST)\n`);
  }
  const { firestoreClient, FirestoreCheckpointState } = await import('../adapters/firestore.ts');
  const db = firestoreClient(base.GOOGLE_CLOUD_PROJECT);
  return { db, state: new FirestoreCheckpointState(db), projectId: base.GOOGLE_CLOUD_PROJECT };
}

/** `gs://bucket/prefix` → its parts, strictly. */
export function parseGsUri(uri: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new FerryError('USAGE', `not a gs:// URI: ${JSON.stringify(uri)}`, { hint: 'Write it as gs://bucket/path/to/checkpoint' });
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  if (prefix.split('/').some((p) => p === '..' || p === '.')) throw new FerryError('USAGE', `unsafe path in ${uri}`);
  return { bucket: m[1]!, prefix: prefix ? prefix + '/' : '' };
}

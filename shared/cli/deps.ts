/** Checks the CLI makes before it asks the composition root (shared/composition/cli.ts) for deps. */
import { connect } from 'node:net';
import { cliSettings } from './settings.ts';
import { FerryError } from '../domain/errors.ts';

/**
 * Checks that the emulators named by these variables (when set: the local stack) accept a TCP
 * connection. A stopped stack is then one clear line at once, instead of the SDKs retrying a
 * refused connection for a minute before failing.
 */
export async function emulatorsAnswer(env: Record<string, string | undefined>, names: readonly string[], timeoutMs = 2000): Promise<void> {
  for (const name of names) {
    const raw = env[name];
    if (!raw) continue;
    const m = /^(?:https?:\/\/)?(\[[^\]]+\]|[^:/]+):(\d{1,5})/.exec(raw);
    if (!m) continue;
    const host = m[1]!.replace(/^\[|\]$/g, '');
    const port = Number(m[2]);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      const done = (v: boolean) => {
        socket.destroy();
        resolve(v);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
    if (!ok) {
      throw new FerryError('BACKEND_UNREACHABLE', `nothing answers at ${host}:${port} (${name})`, {
        hint: 'The local stack is not running: start it with `npm start` in the ferry folder and keep it running (it rewrites .ferry/local.env). To use Google Cloud instead, remove .ferry/local.env.',
      });
    }
  }
}

/** Settings, and Firestore's stores once the emulator (when the local stack is configured) answers. */
export async function cliState(env: Record<string, string | undefined>) {
  const settings = cliSettings(env);
  await emulatorsAnswer(env, ['FIRESTORE_EMULATOR_HOST']);
  if (!env['FIRESTORE_EMULATOR_HOST'] && !env['GOOGLE_APPLICATION_CREDENTIALS'] && !env['K_SERVICE'] && env['FERRY_ALLOW_ADC'] !== '1') {
    // Without the emulator, the SDK silently uses application default credentials against
    // production. That is fine — but say so, as a deliberate choice.
    process.stderr.write(`ferry: using Firestore in project ${settings.GOOGLE_CLOUD_PROJECT} (no FIRESTORE_EMULATOR_HOST)\n`);
  }
  const { firestoreStores } = await import('../composition/cli.ts');
  return { settings, ...(await firestoreStores(settings)) };
}

/** `gs://bucket/prefix` → its parts, strictly. */
export function parseGsUri(uri: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new FerryError('USAGE', `not a gs:// URI: ${JSON.stringify(uri)}`, { hint: 'Write it as gs://bucket/path/to/checkpoint' });
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  if (prefix.split('/').some((p) => p === '..' || p === '.')) throw new FerryError('USAGE', `unsafe path in ${uri}`);
  return { bucket: m[1]!, prefix: prefix ? prefix + '/' : '' };
}

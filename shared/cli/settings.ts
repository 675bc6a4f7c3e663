/**
 * The CLI's Settings: the same object the functions use (shared/config.ts), built from the CLI's
 * merged env (explicit env over .ferry/local.env: ./main.ts) on first use by a command that talks
 * to Google Cloud or the local stack, so `validate` of a folder, `upload`, `plan` of a folder,
 * `help`, `schema` and `completion` need no project. A missing or bad variable is CONFIG_INVALID
 * naming it, which ./main.ts prints as one line.
 */
import { exportSdkEnv, mergeEnv, parseConfig, readLocalEnv, Settings } from '../config.ts';
import type { StorageSettings } from '../composition/cli.ts';

const parsed = new WeakMap<object, Settings>();

export function cliSettings(env: Record<string, string | undefined>): Settings {
  let s = parsed.get(env);
  if (!s) parsed.set(env, (s = parseConfig(Settings, env)));
  return s;
}

const StorageOnly = Settings.pick({ STORAGE_EMULATOR_HOST: true, GOOGLE_CLOUD_PROJECT: true }).partial();

/** Just what a Cloud Storage client needs (the emulator, the project when set): reading or writing a bucket needs no more. */
export function storageSettings(env: Record<string, string | undefined>): StorageSettings {
  return parseConfig(StorageOnly, env);
}

/**
 * The CLI's environment, read here only: the process's own variables over the local stack's
 * .ferry/local.env (from FERRY_ROOT or the current folder, else the checkout's own).
 */
export function cliEnv(checkoutRoot: string): Record<string, string | undefined> {
  const own = process.env;
  return mergeEnv(own, readLocalEnv(own['FERRY_ROOT'] ?? process.cwd()) ?? readLocalEnv(checkoutRoot));
}

/** The SDKs read emulator hosts, project and credentials from process.env, not from ferry's env: put them there. */
export function exportForSdks(env: Record<string, string | undefined>): void {
  exportSdkEnv(env, process.env);
}

/**
 * Who runs `ferry upload`, for its manifest: FERRY_UPLOADER when set (CI: the pipeline), else the
 * local user name (USER / USERNAME). Free text, recorded, never trusted for access.
 */
export function uploaderName(env: Record<string, string | undefined>): string {
  return (env['FERRY_UPLOADER'] ?? env['USER'] ?? env['USERNAME'] ?? 'unknown').slice(0, 256);
}

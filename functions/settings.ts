/**
 * The functions' settings: the process environment parsed once, at the first use in this instance,
 * into one typed object (shared/config.ts `Settings`). A bad or missing variable fails that first
 * use with the variable's name (CONFIG_INVALID), which the edge logs with its hint. The environment
 * itself is read in ./env.ts only.
 */
import { parseConfig, Settings } from '../shared/config.ts';
import { processEnv } from './env.ts';

let parsed: Settings | undefined;

export function settings(): Settings {
  return (parsed ??= parseConfig(Settings, processEnv));
}

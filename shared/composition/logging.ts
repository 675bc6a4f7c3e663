/**
 * The loggers ferry's entry points hand to their use cases: structured JSON lines (Cloud Logging
 * reads them from stdout) for the functions, and for the CLI errors only, on stderr.
 */
import type { Logger } from '../ports/logger.ts';
import { jsonLogger, parseLogLevel } from '../adapters/logging.ts';

/** The functions' root logger at FERRY_LOG_LEVEL (read before Settings, so a start failure is logged too). */
export function serviceLogger(levelName: string | undefined): Logger {
  return jsonLogger({ level: parseLogLevel(levelName), fields: { service: 'ferry' } });
}

/** A CLI command's logger: errors only, each a JSON line through `write` (stderr). */
export function cliLogger(write: (line: string) => void): Logger {
  return jsonLogger({ level: 'ERROR', write });
}

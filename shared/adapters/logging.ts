import type { LogFields, Logger } from '../ports/logger.ts';
import { isFerryError } from '../domain/errors.ts';

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
const ORDER: Record<Severity, number> = { DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3 };

export interface JsonLoggerOptions {
  /** Minimum severity written (default INFO; the functions take it from FERRY_LOG_LEVEL). */
  level?: Severity;
  /** Where lines go; defaults to stdout (Cloud Logging reads JSON lines from it as is). */
  write?: (line: string) => void;
  fields?: LogFields;
}

function serialise(value: unknown): unknown {
  if (isFerryError(value)) return { ...value.toJSON(), stack: value.stack };
  if (value instanceof Error) return { message: value.message, name: value.name, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** FERRY_LOG_LEVEL's spelling (debug|info|warn|warning|error, any case) → a severity; unset or unknown: INFO. */
export function parseLogLevel(name: string | undefined): Severity {
  const v = (name ?? '').toUpperCase();
  return v === 'WARN' ? 'WARNING' : v in ORDER ? (v as Severity) : 'INFO';
}

/**
 * One JSON object per line with `severity`, `message`, `time` and correlation fields: the format
 * Cloud Logging parses into structured entries (jsonPayload) without an agent or SDK.
 */
export function jsonLogger(opts: JsonLoggerOptions = {}): Logger {
  const level: Severity = opts.level ?? 'INFO';
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const base = opts.fields ?? {};
  const emit = (severity: Severity, message: string, fields?: LogFields) => {
    if (ORDER[severity] < ORDER[level]) return;
    const entry: Record<string, unknown> = { severity, message, time: new Date().toISOString(), ...base };
    for (const [k, v] of Object.entries(fields ?? {})) entry[k] = serialise(v);
    write(JSON.stringify(entry, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
  };
  return {
    debug: (m, f) => emit('DEBUG', m, f),
    info: (m, f) => emit('INFO', m, f),
    warn: (m, f) => emit('WARNING', m, f),
    error: (m, f) => emit('ERROR', m, f),
    child: (fields) => jsonLogger({ level, write, fields: { ...base, ...fields } }),
  };
}

/** A logger that records entries in memory, for tests that assert on what was logged. */
export function memoryLogger(): Logger & { entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const logger = jsonLogger({ level: 'DEBUG', write: (line) => entries.push(JSON.parse(line)) });
  return Object.assign(logger, { entries });
}

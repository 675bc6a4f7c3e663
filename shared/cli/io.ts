import { parseArgv, helpText, usageLine, type OutputFormat, type Parsed } from './spec.ts';
import { specOf } from './specs.ts';
import { toYaml } from './yaml.ts';

/** What a CLI command gets: its output streams and the merged environment. */
export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
  env: Record<string, string | undefined>;
  /** All of standard input, for `-f -` (absent: there is none to read). */
  readStdin?: () => Promise<string>;
  /** A person at a terminal (stdin and stderr are TTYs): prompts may be shown. */
  interactive?: boolean;
  /** Asks a question on the terminal; resolves to the line typed. */
  ask?: (question: string) => Promise<string>;
}

export type Command = (args: string[], io: CliIo) => Promise<number>;

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Parses a command's argv with its spec (shared/cli/specs.ts). `--help` prints the help and gives
 * EXIT.ok; a usage error prints one line, the usage and where the help is, and gives EXIT.usage.
 * Either way the caller returns the number.
 */
export function parseCommand(name: string, args: readonly string[], io: CliIo): Parsed | number {
  const spec = specOf(name);
  const p = parseArgv(spec, args);
  if (!p.ok) {
    io.stderr(`ferry ${name}: ${p.error}\n${usageLine(spec)}\nRun \`ferry ${name} --help\` for every flag, its default and examples.\n`);
    return EXIT.usage;
  }
  if (p.help) {
    io.stdout(helpText(spec));
    return EXIT.ok;
  }
  return p;
}

/** A usage error found after parsing (e.g. flags that only go together): same shape as parseCommand's. */
export function usageError(name: string, message: string, io: CliIo): number {
  io.stderr(`ferry ${name}: ${message}\n${usageLine(specOf(name))}\nRun \`ferry ${name} --help\` for every flag, its default and examples.\n`);
  return EXIT.usage;
}

/** Prints a value as -o json (indented, or on one line with `compact`) or -o yaml. */
export function emit(io: CliIo, format: OutputFormat, value: unknown, opts: { compact?: boolean } = {}): void {
  io.stdout(format === 'yaml' ? toYaml(value) : JSON.stringify(value, null, opts.compact ? undefined : 2) + '\n');
}

/** What a CLI command gets: its output streams and the merged environment. */
export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
  env: Record<string, string | undefined>;
}

export type Command = (args: string[], io: CliIo) => Promise<number>;

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * A small strict flag parser: `--name value`, `--name=value`, boolean `--flag`. Unknown flags are
 * an error (a typo must not silently change what a deploy does).
 */
export function parseFlags(
  args: string[],
  spec: { strings?: readonly string[]; booleans?: readonly string[] },
): { positional: string[]; flags: Record<string, string | boolean> } | { error: string } {
  const strings = new Set(spec.strings ?? []);
  const booleans = new Set(spec.booleans ?? []);
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (booleans.has(name)) {
      if (eq !== -1) return { error: `--${name} takes no value` };
      flags[name] = true;
    } else if (strings.has(name)) {
      const value = eq === -1 ? args[++i] : a.slice(eq + 1);
      if (value === undefined || value === '') return { error: `--${name} needs a value` };
      flags[name] = value;
    } else {
      return { error: `unknown option --${name}` };
    }
  }
  return { positional, flags };
}

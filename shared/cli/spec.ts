/**
 * Declarative command specs and what is derived from them: the one flag parser every command uses,
 * `--help` text (every flag with its default, exit codes, examples), "did you mean" for unknown
 * commands, flags and enum values, and the bash / zsh completion scripts. A flag exists once, here,
 * so help, parsing and completion cannot drift apart.
 */

export type FlagType = 'boolean' | 'string' | 'int' | 'number' | 'enum' | 'file' | 'dir';

export interface FlagSpec {
  name: string;
  /** One letter: `-o json`, `-ojson`, `-o=json`. */
  short?: string;
  type: FlagType;
  /** For `enum` (and completion). */
  values?: readonly string[];
  /** How the value is shown in help: `--replicas N`. */
  placeholder?: string;
  /** Applied when the flag is not given, and shown in help. */
  default?: string | number | boolean;
  /** Shown in help when the default is not a constant (e.g. "the cheapest accelerator that fits"). */
  defaultText?: string;
  description: string;
  min?: number;
  max?: number;
  /** May be given more than once; the values are collected in order. */
  repeatable?: boolean;
}

export interface ArgSpec {
  name: string;
  description: string;
  /** What the shell completes for it. */
  complete?: 'file' | 'dir' | 'none' | readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage lines, without the leading `ferry `. */
  synopsis: readonly string[];
  description: string;
  args: readonly ArgSpec[];
  /** Fewest and most positional arguments (checked by the parser). */
  arity: readonly [number, number];
  flags: readonly FlagSpec[];
  /** Accepts `--json` and `-o text|json|yaml`. */
  output?: boolean;
  exitCodes: ReadonlyArray<readonly [number, string]>;
  examples: ReadonlyArray<{ command: string; description: string }>;
}

export type OutputFormat = 'text' | 'json' | 'yaml';
export type FlagValue = string | number | boolean | string[];

export interface Parsed {
  positional: string[];
  /** Given flags and defaults, by long name. */
  flags: Record<string, FlagValue | undefined>;
  /** The flags given on the command line (not defaulted). */
  given: Set<string>;
  output: OutputFormat;
  help: boolean;
}

export type ParseResult = ({ ok: true } & Parsed) | { ok: false; error: string };

export const OUTPUT_FLAGS: readonly FlagSpec[] = [
  {
    name: 'output',
    short: 'o',
    type: 'enum',
    values: ['text', 'json', 'yaml'],
    placeholder: 'FORMAT',
    default: 'text',
    description: 'output format: text, json or yaml',
  },
  { name: 'json', type: 'boolean', default: false, description: 'same as -o json' },
];
export const HELP_FLAG: FlagSpec = { name: 'help', short: 'h', type: 'boolean', default: false, description: 'show this help' };

/** Every flag a command accepts, in help order. */
export function allFlags(spec: CommandSpec): FlagSpec[] {
  return [...spec.flags, ...(spec.output ? OUTPUT_FLAGS : []), HELP_FLAG];
}

// ---------------------------------------------------------------------------------------------
// Did you mean

/** Levenshtein distance (insertions, deletions, substitutions; a transposition counts 2). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidates within a distance that scales with the word (≤ 1 for short words, ≤ 3). */
export function suggest(word: string, candidates: readonly string[]): string[] {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  const scored = candidates
    .map((c) => ({ c, d: c.startsWith(word) && word.length >= 3 ? 0.5 : editDistance(word.toLowerCase(), c.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c));
  return scored.length ? scored.filter((x) => x.d === scored[0]!.d).map((x) => x.c) : [];
}

export function didYouMean(word: string, candidates: readonly string[], prefix = ''): string {
  const s = suggest(word, candidates);
  return s.length ? ` (did you mean ${s.map((c) => `${prefix}${c}`).join(' or ')}?)` : '';
}

// ---------------------------------------------------------------------------------------------
// Parsing

function convert(f: FlagSpec, raw: string): { value: string | number } | { error: string } {
  const name = `--${f.name}`;
  switch (f.type) {
    case 'int':
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || (f.type === 'int' && !Number.isSafeInteger(n))) {
        return { error: `${name} needs ${f.type === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}` };
      }
      if ((f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) {
        const range = f.max === undefined ? `at least ${f.min}` : f.min === undefined ? `at most ${f.max}` : `from ${f.min} to ${f.max}`;
        return { error: `${name} must be ${range}, got ${raw}` };
      }
      return { value: n };
    }
    case 'enum': {
      const values = f.values ?? [];
      if (values.includes(raw)) return { value: raw };
      const hint = didYouMean(raw, values);
      return {
        error: `${name}: ${JSON.stringify(raw)} is not one of ${values.length <= 6 ? values.join(', ') : `the ${values.length} accepted values`}${hint}`,
      };
    }
    default:
      if (raw === '') return { error: `${name} needs a value` };
      return { value: raw };
  }
}

/** Parses argv for one command strictly: unknown flags, bad values and wrong arity are errors. */
export function parseArgv(spec: CommandSpec, argv: readonly string[]): ParseResult {
  const flags = allFlags(spec);
  const byLong = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const values: Record<string, FlagValue | undefined> = {};
  const given = new Set<string>();
  const positional: string[] = [];
  const fail = (error: string): ParseResult => ({ ok: false, error });

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    let f: FlagSpec | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq === -1 ? undefined : eq);
      f = byLong.get(name);
      if (!f)
        return fail(
          `unknown flag --${name}${didYouMean(
            name,
            flags.map((x) => x.name),
            '--',
          )}`,
        );
      if (eq !== -1) inline = a.slice(eq + 1);
    } else if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      f = byShort.get(a[1]!);
      if (!f)
        return fail(
          `unknown flag ${a.slice(0, 2)}${didYouMean(
            a.slice(1),
            flags.map((x) => x.name),
            '--',
          )}`,
        );
      if (a.length > 2) inline = a[2] === '=' ? a.slice(3) : a.slice(2);
    } else {
      positional.push(a);
      continue;
    }
    if (f.type === 'boolean') {
      if (inline !== undefined) {
        if (!['true', 'false'].includes(inline)) return fail(`--${f.name} takes no value (or =true / =false)`);
        values[f.name] = inline === 'true';
      } else values[f.name] = true;
      given.add(f.name);
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) return fail(`--${f.name} needs a value${f.placeholder ? ` (${f.placeholder})` : ''}`);
    const v = convert(f, raw);
    if ('error' in v) return fail(v.error);
    if (f.repeatable) values[f.name] = [...((values[f.name] as string[] | undefined) ?? []), String(v.value)];
    else values[f.name] = v.value;
    given.add(f.name);
  }
  const help = values['help'] === true;
  for (const f of flags) if (values[f.name] === undefined && f.default !== undefined) values[f.name] = f.default;

  let output: OutputFormat = 'text';
  if (spec.output) {
    const o = values['output'] as OutputFormat;
    if (values['json'] === true && given.has('output') && o !== 'json') return fail(`--json and -o ${o} disagree; give one of them`);
    output = values['json'] === true ? 'json' : o;
  }
  if (!help) {
    const [min, max] = spec.arity;
    if (positional.length < min)
      return fail(
        `missing ${spec.args
          .slice(positional.length, min)
          .map((x) => x.name)
          .join(' and ')}`,
      );
    if (positional.length > max) {
      return fail(
        max === 0
          ? `takes no arguments, got ${JSON.stringify(positional[0])}`
          : `expected at most ${max} argument${max === 1 ? '' : 's'}, got ${positional.length}: ${positional.join(' ')}`,
      );
    }
  }
  return { ok: true, positional, flags: values, given, output, help };
}

// ---------------------------------------------------------------------------------------------
// Help

function flagLabel(f: FlagSpec): string {
  const value =
    f.type === 'boolean'
      ? ''
      : ` ${f.placeholder ?? (f.type === 'int' || f.type === 'number' ? 'N' : f.type === 'enum' ? (f.values ?? []).join('|') : 'VALUE')}`;
  return `${f.short ? `-${f.short}, ` : '    '}--${f.name}${value}`;
}

function flagDefault(f: FlagSpec): string {
  if (f.defaultText !== undefined) return f.defaultText;
  if (f.default === undefined) return 'none';
  if (f.type === 'boolean') return f.default ? 'on' : 'off';
  return String(f.default);
}

export const wrap = (text: string, width: number, indent: string): string[] => {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/ +/)) {
      if (line && (line + ' ' + word).length > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out.map((l, i) => (i === 0 ? l : indent + l));
};

export function usageLine(spec: CommandSpec): string {
  return `Usage: ${spec.synopsis.map((s) => `ferry ${s}`).join('\n       ')}`;
}

/** `ferry <cmd> --help`. */
export function helpText(spec: CommandSpec): string {
  const flags = allFlags(spec);
  const labels = flags.map(flagLabel);
  const width = Math.min(34, Math.max(...labels.map((l) => l.length)));
  const lines: string[] = [];
  lines.push(`ferry ${spec.name} — ${spec.summary}`, '', 'Usage:');
  for (const s of spec.synopsis) lines.push(`  ferry ${s}`);
  lines.push('', ...wrap(spec.description, 98, ''));
  if (spec.args.length) {
    lines.push('', 'Arguments:');
    const w = Math.max(...spec.args.map((a) => a.name.length));
    for (const a of spec.args) lines.push(`  ${a.name.padEnd(w)}  ${wrap(a.description, 96 - w, ' '.repeat(w + 4)).join('\n')}`);
  }
  lines.push('', 'Flags:');
  flags.forEach((f, i) => {
    const label = labels[i]!;
    const when = f === HELP_FLAG ? '' : f.defaultText?.startsWith('required') ? ` (${f.defaultText})` : ` (default: ${flagDefault(f)})`;
    const text = `${f.description}${when}${f.repeatable ? ' (repeatable)' : ''}`;
    const pad = ' '.repeat(width + 4);
    if (label.length > width) lines.push(`  ${label}`, `${pad}${wrap(text, 96 - width, pad).join('\n')}`);
    else lines.push(`  ${label.padEnd(width)}  ${wrap(text, 96 - width, pad).join('\n')}`);
  });
  lines.push('', 'Exit codes:');
  for (const [code, what] of spec.exitCodes) lines.push(`  ${code}  ${what}`);
  lines.push('', 'Examples:');
  for (const e of spec.examples) lines.push(`  # ${e.description}`, `  ${e.command}`, '');
  return lines.join('\n').replace(/\n+$/, '') + '\n';
}

/** `ferry --help`. */
export function overviewText(specs: readonly CommandSpec[]): string {
  const width = Math.max(...specs.map((s) => s.name.length));
  return (
    [
      'ferry — get a model from a bucket onto GPUs',
      '',
      'Usage: ferry <command> [flags]',
      '',
      'Commands:',
      ...specs.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
      '',
      "Run `ferry <command> --help` (or `ferry help <command>`) for a command's flags, defaults, exit codes",
      'and examples. Locally, `npm start` brings up the stack and writes .ferry/local.env, which ferry reads',
      'for any variable not set in the environment.',
    ].join('\n') + '\n'
  );
}

// ---------------------------------------------------------------------------------------------
// Completion

const shellWords = (xs: readonly string[]): string => xs.map((x) => x.replace(/[^A-Za-z0-9@._/:=+-]/g, '')).join(' ');

/** A bash completion script (`source <(ferry completion bash)`), generated from the specs. */
export function bashCompletion(specs: readonly CommandSpec[]): string {
  const cases = specs
    .map((s) => {
      const flags = allFlags(s);
      const words = flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]);
      const valueCases = flags
        .filter((f) => f.type !== 'boolean')
        .map((f) => {
          const pats = [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])].join('|');
          const body =
            f.type === 'enum'
              ? `COMPREPLY=($(compgen -W "${shellWords(f.values ?? [])}" -- "$cur"))`
              : f.type === 'file'
                ? 'COMPREPLY=($(compgen -f -- "$cur"))'
                : f.type === 'dir'
                  ? 'COMPREPLY=($(compgen -d -- "$cur"))'
                  : 'COMPREPLY=()';
          return `        ${pats}) ${body}; return ;;`;
        })
        .join('\n');
      const argWords = s.args.flatMap((a) => (Array.isArray(a.complete) ? (a.complete as string[]) : []));
      const argDefault = s.args.some((a) => a.complete === 'dir' || a.complete === 'file') ? '$(compgen -f -- "$cur")' : '';
      return [
        `    ${s.name})`,
        '      case "$prev" in',
        valueCases,
        '      esac',
        `      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${shellWords(words)}" -- "$cur")); else COMPREPLY=($(compgen -W "${shellWords(argWords)}" -- "$cur") ${argDefault}); fi`,
        '      ;;',
      ]
        .filter((l) => l !== '')
        .join('\n');
    })
    .join('\n');
  return `# bash completion for ferry, generated from its command specs.
# Load it with:  source <(ferry completion bash)
_ferry() {
  local cur prev cmd
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${shellWords(specs.map((s) => s.name))}" -- "$cur"))
    return
  fi
  cmd="\${COMP_WORDS[1]}"
  case "$cmd" in
${cases}
  esac
}
complete -o default -F _ferry ferry
`;
}

/** For _describe's `name:description` words (a colon ends the name). */
const zshEscape = (s: string): string => s.replace(/[[\]:'\\]/g, (c) => (c === "'" ? "'\\''" : `\\${c}`));
/** For an _arguments `[description]` (brackets end it; colons are fine there). */
const zshDesc = (s: string): string => s.replace(/[[\]'\\]/g, (c) => (c === "'" ? "'\\''" : `\\${c}`));

/** A zsh completion script (`source <(ferry completion zsh)`), generated from the specs. */
export function zshCompletion(specs: readonly CommandSpec[]): string {
  const commands = specs.map((s) => `    '${s.name}:${zshEscape(s.summary)}'`).join('\n');
  const cases = specs
    .map((s) => {
      const specsArgs = allFlags(s).map((f) => {
        const desc = zshDesc(f.description);
        const action =
          f.type === 'boolean'
            ? ''
            : f.type === 'enum'
              ? `:${f.name}:(${shellWords(f.values ?? [])})`
              : f.type === 'file'
                ? `:${f.name}:_files`
                : f.type === 'dir'
                  ? `:${f.name}:_files -/`
                  : `:${f.name}: `;
        const rep = f.repeatable ? '*' : '';
        return f.short
          ? `        '${rep}(-${f.short} --${f.name})'{-${f.short},--${f.name}}'[${desc}]${action}'`
          : `        '${rep}--${f.name}[${desc}]${action}'`;
      });
      const positional = s.args.map((a, i) => {
        const action = Array.isArray(a.complete) ? `(${shellWords(a.complete as string[])})` : a.complete === 'dir' || a.complete === 'file' ? '_files' : ' ';
        return `        '${i + 1}:${zshEscape(a.name)}:${action}'`;
      });
      return `    ${s.name})\n      _arguments \\\n${[...specsArgs, ...positional].join(' \\\n')}\n      ;;`;
    })
    .join('\n');
  return `#compdef ferry
# zsh completion for ferry, generated from its command specs.
# Load it with:  source <(ferry completion zsh)   (after compinit)
_ferry() {
  local -a commands
  commands=(
${commands}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=\${words[2]}
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases}
  esac
}
compdef _ferry ferry
`;
}

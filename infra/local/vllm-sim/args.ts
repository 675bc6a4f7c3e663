/**
 * `vllm serve` command-line parsing for the simulated vLLM pods (pure). The container's `command`
 * and `args` are read the way vLLM's argparse-based `FlexibleArgumentParser` reads them, with the
 * flag table of the pinned image (./flags-v0.11.2.ts, sources there and in docs/UPSTREAM.md V19); an
 * unknown flag or a bad value is an argparse error (exit code 2, `usage: …` and `vllm serve: error: …`
 * on stderr), as the real server prints before crash-looping.
 *
 * Parsing rules reproduced (CPython 3.12 argparse, vLLM's FlexibleArgumentParser):
 *  - `--flag=value` and `--flag value`; `--flag_name` reads as `--flag-name` (underscores before the
 *    first `.` of a `--` argument become dashes);
 *  - `--json-flag.key value` / `--json-flag.a.b=value` / `--json-flag.list+ a,b` are merged into one
 *    JSON object and passed as `--json-flag '{…}'` (FlexibleArgumentParser.parse_args);
 *  - unambiguous prefixes of long options (argparse `allow_abbrev`, as ferry's shared/domain/vllm.ts
 *    assumes too); an ambiguous prefix is an error naming the matches;
 *  - bool config fields are `BooleanOptionalAction` (`--x` / `--no-x`), a few flags `store_true`;
 *  - a one-letter short option takes its value glued (`-q fp8`, `-qfp8`); `-tp=2` splits at `=`;
 *  - the model is the first positional (`model_tag`) for `vllm serve`, else `--model`.
 * Messages follow argparse (`invalid int value: 'x'`, `invalid choice: 'x' (choose from a, b)`,
 * `expected one argument`, `unrecognized arguments: …`) and vLLM's `optional_type`/`parse_type`
 * (`Value x cannot be converted to <class 'int'>.`). A function's repr carries a memory address in
 * real vLLM; the stand-in prints a fixed one (FUNCTION_ADDRESS).
 */
import { VLLM_V0_11_2_FLAGS, RUNAI_LOADER_EXTRA_KEYS, type FlagRow, type ValueType } from './flags-v0.11.2.ts';

/** Load formats registered in vLLM's model loader registry (vllm/model_executor/model_loader/__init__.py). */
export const LOAD_FORMATS = [
  'auto',
  'pt',
  'safetensors',
  'npcache',
  'dummy',
  'tensorizer',
  'sharded_state',
  'gguf',
  'bitsandbytes',
  'mistral',
  'runai_streamer',
  'runai_streamer_sharded',
  'fastsafetensors',
] as const;

export interface ServeArgs {
  model: string;
  servedModelNames: string[];
  loadFormat: string;
  tensorParallelSize: number;
  /** `--model-loader-extra-config`, parsed; {} when absent. */
  loaderExtraConfig: Record<string, unknown>;
  port: number;
  host: string;
  maxModelLen: number | null;
  /** Every flag given, by its first option string (last one wins, as in argparse). */
  values: Record<string, unknown>;
}

export type ParseResult = { ok: true; args: ServeArgs } | { ok: false; exitCode: number; stderr: string };

export const USAGE = 'usage: vllm serve [model_tag] [options]';
/** Stands for the memory address in a Python function's repr (`<function loads at 0x…>`). */
export const FUNCTION_ADDRESS = '0x7f0000000000';

const pyRepr = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Python `int(str)`: optional sign, digits with single underscores between them, surrounding whitespace. */
function pyInt(raw: string): number | null {
  const t = raw.trim();
  if (!/^[-+]?\d+(?:_\d+)*$/.test(t)) return null;
  const n = Number(t.replaceAll('_', ''));
  return Number.isSafeInteger(n) ? n : null;
}

/** Python `float(str)`: decimal or exponent forms, inf/nan. */
function pyFloat(raw: string): number | null {
  const t = raw.trim().toLowerCase().replaceAll('_', '');
  if (/^[-+]?(inf|infinity)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[-+]?nan$/.test(t)) return NaN;
  return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/.test(t) ? Number(t) : null;
}

/**
 * vLLM's `human_readable_int` (arg_utils.py, E in flags-v0.11.2.ts): `1k` = 1000, `1K` = 1024, m/M,
 * g/G; decimals only with decimal suffixes; else a plain Python int. null: a ValueError; a string: the
 * ArgumentTypeError message (decimal with a binary suffix).
 */
export function humanReadableIntResult(value: string): number | null | { error: string } {
  const v = value.trim();
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT])$/.exec(v);
  if (m) {
    const [, num, suffix] = m as unknown as [string, string, string];
    const dec: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9 };
    const bin: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };
    if (suffix in dec) return Math.trunc(Number(num) * dec[suffix]!);
    if (suffix in bin) {
      if (num.includes('.'))
        return { error: `Decimals are not allowed with binary suffixes like ${suffix}. Did you mean to use ${num}${suffix.toLowerCase()} instead?` };
      return Number(num) * bin[suffix]!;
    }
  }
  return pyInt(v);
}

/** `human_readable_int` as a number, or null when vLLM refuses the value. */
export function humanReadableInt(value: string): number | null {
  const r = humanReadableIntResult(value);
  return typeof r === 'number' ? r : null;
}

const TYPE_REPR: Record<ValueType, string> = {
  str: "<class 'str'>",
  int: "<class 'int'>",
  float: "<class 'float'>",
  human_int: `<function human_readable_int at ${FUNCTION_ADDRESS}>`,
  json: `<function loads at ${FUNCTION_ADDRESS}>`,
  json_loads: `<function loads at ${FUNCTION_ADDRESS}>`,
  dict_or_str: `<function loads at ${FUNCTION_ADDRESS}>`,
  dataclass: "<class 'dict'>",
  bool_type: "<class 'bool'>",
};

const nameOf = (row: FlagRow): string =>
  row.action === 'boolean_optional' ? row.flags.flatMap((f) => [f, `--no-${f.slice(2)}`]).join('/') : row.flags.join('/');

type Converted = { ok: true; value: unknown } | { ok: false; message: string };

/** One value through the row's `type` (and vLLM's optional_type / parse_type wrappers). */
function convertValue(row: FlagRow, raw: string): Converted {
  const type = row.type ?? 'str';
  if (row.optional && (raw === '' || raw === 'None')) return { ok: true, value: null };
  // parse_type: a ValueError becomes "Value X cannot be converted to T." (optional rows, and json rows).
  const wrapped = (): Converted => ({ ok: false, message: `Value ${raw} cannot be converted to ${TYPE_REPR[type]}.` });
  // argparse's own message when the type callable raises ValueError.
  const plain = (name: string): Converted => ({ ok: false, message: `invalid ${name} value: ${pyRepr(raw)}` });
  const bad = (name: string): Converted => (row.optional ? wrapped() : plain(name));
  switch (type) {
    case 'str':
      return { ok: true, value: raw };
    case 'bool_type':
      return { ok: true, value: raw !== '' };
    case 'int': {
      const v = pyInt(raw);
      return v === null ? bad('int') : { ok: true, value: v };
    }
    case 'float': {
      const v = pyFloat(raw);
      return v === null ? bad('float') : { ok: true, value: v };
    }
    case 'human_int': {
      const r = humanReadableIntResult(raw);
      if (r !== null && typeof r === 'object') return { ok: false, message: r.error };
      return r === null ? bad('human_readable_int') : { ok: true, value: r };
    }
    case 'json':
    case 'json_loads':
      try {
        return { ok: true, value: JSON.parse(raw) as unknown };
      } catch {
        return type === 'json_loads' ? plain('loads') : wrapped();
      }
    case 'dict_or_str':
      // union_dict_and_str: only a `{…}` value is JSON; anything else stays a string.
      if (!/^\s*\{[\s\S]*\}\s*$/.test(raw)) return { ok: true, value: raw };
      try {
        return { ok: true, value: JSON.parse(raw) as unknown };
      } catch {
        return wrapped();
      }
    case 'dataclass':
      // pydantic TypeAdapter(cls).validate_json: the stand-in checks JSON and an object, not the fields.
      try {
        const v = JSON.parse(raw) as unknown;
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) return { ok: true, value: v };
        return {
          ok: false,
          message: `1 validation error for ${row.dataclass}\n  Input should be an object [type=dataclass_type, input_value=${raw}, input_type=str]`,
        };
      } catch (e) {
        return {
          ok: false,
          message: `1 validation error for ${row.dataclass}\n  Invalid JSON: ${e instanceof Error ? e.message : String(e)} [type=json_invalid, input_value=${pyRepr(raw)}, input_type=str]`,
        };
      }
  }
}

function convert(row: FlagRow, raw: string): Converted {
  const c = convertValue(row, raw);
  if (!c.ok) return { ok: false, message: `argument ${nameOf(row)}: ${c.message}` };
  if (row.choices && !row.choices.includes(String(c.value))) {
    // CPython argparse _check_value: str() of the value and of each choice.
    return { ok: false, message: `argument ${nameOf(row)}: invalid choice: ${pyRepr(String(c.value))} (choose from ${row.choices.join(', ')})` };
  }
  return c;
}

/** Which entrypoint a container runs: `vllm serve` (positional model allowed) or the api_server module. */
export function entrypointOf(command: readonly string[] | undefined): 'serve' | 'api_server' | null {
  const c = command ?? [];
  if (c.length === 0) return 'serve'; // the image's ENTRYPOINT (docs/UPSTREAM.md V10)
  const base = (c[0] ?? '').split('/').pop();
  if (base === 'vllm' && c[1] === 'serve' && c.length === 2) return 'serve';
  if (/^python3?(\.\d+)?$/.test(base ?? '') && c[1] === '-m' && c[2] === 'vllm.entrypoints.openai.api_server' && c.length === 3) return 'api_server';
  return null;
}

const isOption = (a: string): boolean => a.startsWith('-') && a !== '-' && !/^-\d/.test(a);

/** FlexibleArgumentParser's pre-pass: `--a_b` → `--a-b`, and dotted JSON keys merged into one JSON value. */
export function flexiblePrepass(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    if (!arg.startsWith('--')) {
      out.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq === -1 ? arg : arg.slice(0, eq);
    const dot = key.indexOf('.');
    const head = (dot === -1 ? key : key.slice(0, dot)).replaceAll('_', '-');
    out.push(head + (dot === -1 ? '' : key.slice(dot)) + (eq === -1 ? '' : arg.slice(eq)));
  }
  const merged = new Map<string, Record<string, unknown>>();
  const kept: string[] = [];
  for (let i = 0; i < out.length; i++) {
    const a = out[i]!;
    if (!(a.startsWith('-') && a.split('=', 1)[0]!.includes('.'))) {
      kept.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    let key = eq === -1 ? a : a.slice(0, eq);
    let value = eq === -1 ? (out[++i] ?? '') : a.slice(eq + 1);
    if (key.endsWith('+')) {
      key = key.slice(0, -1);
      value = JSON.stringify(value.split(','));
    }
    const [flag, ...path] = key.split('.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = value;
    }
    const root = merged.get(flag!) ?? {};
    let node = root;
    for (const p of path.slice(0, -1)) node = (node[p] = typeof node[p] === 'object' && node[p] !== null ? node[p] : {}) as Record<string, unknown>;
    const last = path[path.length - 1]!;
    node[last] = Array.isArray(parsed) && Array.isArray(node[last]) ? [...(node[last] as unknown[]), ...parsed] : parsed;
    merged.set(flag!, root);
  }
  for (const [flag, obj] of merged) kept.push(flag, JSON.stringify(obj));
  return kept;
}

/** Parses a container's command + args as vLLM would. */
export function parseServeArgs(command: readonly string[] | undefined, args: readonly string[]): ParseResult {
  const fail = (message: string): ParseResult => ({ ok: false, exitCode: 2, stderr: `${USAGE}\nvllm serve: error: ${message}\n` });
  const entry = entrypointOf(command);
  if (entry === null) {
    return { ok: false, exitCode: 127, stderr: `exec: ${JSON.stringify((command ?? [])[0] ?? '')}: not a vLLM server entrypoint\n` };
  }
  const byOption = new Map<string, { row: FlagRow; negated: boolean }>();
  for (const r of VLLM_V0_11_2_FLAGS) {
    for (const f of r.flags) {
      byOption.set(f, { row: r, negated: false });
      if (r.action === 'boolean_optional') byOption.set(`--no-${f.slice(2)}`, { row: r, negated: true });
    }
  }
  const longOptions = [...byOption.keys()].filter((k) => k.startsWith('--'));
  const shortOptions = [...byOption.keys()].filter((k) => !k.startsWith('--'));
  type Found = { row: FlagRow; negated: boolean; inline?: string };
  /** argparse _parse_optional: exact, `=`-split, glued one-letter short, then unique prefix. */
  const resolve = (arg: string): Found | { error: string } | null => {
    const exact = byOption.get(arg);
    if (exact) return exact;
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      const hit = byOption.get(arg.slice(0, eq));
      if (hit) return { ...hit, inline: arg.slice(eq + 1) };
    }
    if (arg.startsWith('--')) {
      const name = eq === -1 ? arg : arg.slice(0, eq);
      const matches = longOptions.filter((o) => o.startsWith(name));
      if (matches.length === 1) return { ...byOption.get(matches[0]!)!, ...(eq === -1 ? {} : { inline: arg.slice(eq + 1) }) };
      if (matches.length > 1) return { error: `ambiguous option: ${name} could match ${matches.join(', ')}` };
      return null;
    }
    const glued = byOption.get(arg.slice(0, 2));
    if (glued && arg.length > 2) return { ...glued, inline: arg.slice(2) };
    const matches = shortOptions.filter((o) => o.startsWith(arg));
    if (matches.length === 1) return byOption.get(matches[0]!)!;
    if (matches.length > 1) return { error: `ambiguous option: ${arg} could match ${matches.join(', ')}` };
    return null;
  };
  const argv = flexiblePrepass(args);
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!isOption(arg)) {
      positionals.push(arg);
      continue;
    }
    const found = resolve(arg);
    if (found === null) {
      unknown.push(arg);
      continue;
    }
    if ('error' in found) return fail(found.error);
    const { row, negated, inline } = found;
    const key = row.flags[0]!;
    if (row.action === 'boolean_optional' || row.action === 'store_true') {
      if (inline !== undefined) return fail(`argument ${nameOf(row)}: ignored explicit argument ${pyRepr(inline)}`);
      values[key] = !negated;
      continue;
    }
    if (row.action === 'optional_const') {
      if (inline !== undefined) values[key] = inline;
      else if (i + 1 < argv.length && !isOption(argv[i + 1]!)) values[key] = argv[++i];
      else values[key] = true;
      continue;
    }
    if (row.nargs === '+') {
      const raws: string[] = [];
      if (inline !== undefined) raws.push(inline);
      else while (i + 1 < argv.length && !isOption(argv[i + 1]!)) raws.push(argv[++i]!);
      if (raws.length === 0) return fail(`argument ${nameOf(row)}: expected at least one argument`);
      const items: unknown[] = [];
      for (const r of raws) {
        const c = convert(row, r);
        if (!c.ok) return fail(c.message);
        items.push(c.value);
      }
      values[key] = items;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      if (next === undefined || isOption(next)) return fail(`argument ${nameOf(row)}: expected one argument`);
      raw = next;
      i++;
    }
    const c = convert(row, raw);
    if (!c.ok) return fail(c.message);
    values[key] = row.action === 'append' ? [...((values[key] as unknown[] | undefined) ?? []), c.value] : c.value;
  }
  // make_arg_parser: one optional positional, `model_tag`; argparse leaves the rest unrecognized.
  if (positionals.length > 1) unknown.push(...positionals.slice(1));
  if (unknown.length) return fail(`unrecognized arguments: ${unknown.join(' ')}`);
  // vllm serve: the positional model_tag wins over --model (vllm/entrypoints/cli/serve.py); the
  // api_server module reads --model (default: ModelConfig.model).
  const model = (entry === 'serve' ? positionals[0] : undefined) ?? (values['--model'] as string | undefined) ?? 'Qwen/Qwen3-0.6B';
  const extra = values['--model-loader-extra-config'];
  if (typeof extra === 'string') {
    // A non-JSON string passes argparse (union_dict_and_str) and fails when LoadConfig is validated.
    return {
      ok: false,
      exitCode: 1,
      stderr: `pydantic_core._pydantic_core.ValidationError: 1 validation error for LoadConfig\nmodel_loader_extra_config\n  Input should be a valid dictionary [type=dict_type, input_value=${pyRepr(extra)}, input_type=str]\n`,
    };
  }
  const tp = (values['--tensor-parallel-size'] as number | undefined) ?? 1;
  const served = (values['--served-model-name'] as string[] | null | undefined) ?? [model];
  return {
    ok: true,
    args: {
      model,
      servedModelNames: served,
      loadFormat: ((values['--load-format'] as string | undefined) ?? 'auto').toLowerCase(),
      tensorParallelSize: tp,
      loaderExtraConfig: (extra as Record<string, unknown> | undefined) ?? {},
      port: (values['--port'] as number | undefined) ?? 8000,
      host: (values['--host'] as string | null | undefined) ?? '0.0.0.0',
      maxModelLen: (values['--max-model-len'] as number | null | undefined) ?? null,
      values,
    },
  };
}

/**
 * What the Run:ai loader makes of `--model-loader-extra-config` (RUNAI_LOADER_EXTRA_KEYS): the keys
 * it reads with the right type, and the ones it ignores silently (another key, or the wrong type).
 */
export function runaiExtraConfig(extra: Record<string, unknown>): { applied: Record<string, unknown>; ignored: string[] } {
  const applied: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [k, v] of Object.entries(extra)) {
    const want = (RUNAI_LOADER_EXTRA_KEYS as Record<string, string>)[k];
    // isinstance(v, int) / isinstance(v, bool). (Python also counts a bool as an int; the stand-in, like
    // streamerEnv below, does not: a JSON true for concurrency is not a count.)
    const ok = want === 'int' ? Number.isInteger(v) : want === 'bool' ? typeof v === 'boolean' : false;
    if (ok) applied[k] = v;
    else ignored.push(k);
  }
  return { applied, ignored };
}

/**
 * The streamer settings vLLM derives from `--model-loader-extra-config` (runai_streamer_loader.py
 * `__init__`: only int `concurrency` / `memory_limit` are copied into the environment; other keys
 * and other types are ignored) over the container's environment.
 */
export function streamerEnv(extra: Record<string, unknown>, env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  if (Number.isInteger(extra['concurrency'])) out['RUNAI_STREAMER_CONCURRENCY'] = String(extra['concurrency']);
  if (Number.isInteger(extra['memory_limit'])) out['RUNAI_STREAMER_MEMORY_LIMIT'] = String(extra['memory_limit']);
  return out;
}

/**
 * `vllm serve` command-line parsing for the simulated vLLM pods (pure). The container's `command`
 * and `args` are read the way vLLM's argparse-based `FlexibleArgumentParser` reads them, for every
 * flag in VLLM_FLAGS; an unknown flag or a bad value is an argparse error (exit code 2 and
 * `vllm serve: error: …` on stderr), as the real server would print before crash-looping.
 *
 * Source of the table (docs/UPSTREAM.md V13): vLLM's `EngineArgs.add_cli_args` /
 * `make_arg_parser` (vllm/engine/arg_utils.py, vllm/entrypoints/openai/cli_args.py) and the config
 * dataclasses they are generated from (vllm/config/*.py). The pinned image is
 * `vllm/vllm-openai:v0.11.2` (shared/domain/rendered-spec.ts DEFAULT_IMAGE); the v0.11.2 tag itself
 * could not be brought here (the repository is larger than the fetch limit and PyPI is not
 * reachable from this machine), so the flags come from the stored revisions named in V13. The table
 * is a subset: the flags ferry renders and the ones a request commonly passes through; a flag that
 * vLLM has but the table lacks is refused like an unknown one (the simulation errs on the loud side).
 *
 * Parsing rules reproduced (CPython argparse, vLLM's FlexibleArgumentParser):
 *  - `--flag=value` and `--flag value`; `--flag_name` reads as `--flag-name` (FlexibleArgumentParser);
 *  - unambiguous prefixes of long flags (argparse `allow_abbrev`, as ferry's shared/domain/vllm.ts
 *    assumes too); an ambiguous prefix is an error;
 *  - booleans are `BooleanOptionalAction` (`--x` / `--no-x`) for config fields, `store_true` for a few;
 *  - the model is `--model` or, for `vllm serve`, the first positional (`model_tag`, which wins).
 */

export type FlagKind =
  | { type: 'str' }
  | { type: 'int' }
  | { type: 'float' }
  /** vLLM's `human_readable_int`: 1k = 1000, 1K = 1024, also m/M, g/G. */
  | { type: 'hint' }
  | { type: 'json' }
  | { type: 'choice'; choices: readonly string[] }
  | { type: 'bool-opt' }
  | { type: 'store-true' }
  | { type: 'list' };

export interface FlagSpec {
  /** Canonical long name with dashes, e.g. `--max-model-len`. */
  name: string;
  kind: FlagKind;
  aliases?: readonly string[];
}

const str = { type: 'str' } as const;
const int = { type: 'int' } as const;
const float = { type: 'float' } as const;
const hint = { type: 'hint' } as const;
const json = { type: 'json' } as const;
const boolOpt = { type: 'bool-opt' } as const;
const storeTrue = { type: 'store-true' } as const;
const list = { type: 'list' } as const;
const choice = (...choices: string[]): FlagKind => ({ type: 'choice', choices });

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

export const VLLM_FLAGS: readonly FlagSpec[] = [
  // ModelConfig
  { name: '--model', kind: str },
  { name: '--tokenizer', kind: str },
  { name: '--tokenizer-mode', kind: choice('auto', 'slow', 'mistral', 'custom') },
  { name: '--trust-remote-code', kind: boolOpt },
  { name: '--dtype', kind: choice('auto', 'half', 'float16', 'bfloat16', 'float', 'float32') },
  { name: '--seed', kind: int },
  { name: '--revision', kind: str },
  { name: '--code-revision', kind: str },
  { name: '--tokenizer-revision', kind: str },
  { name: '--max-model-len', kind: hint },
  { name: '--quantization', kind: str, aliases: ['-q'] },
  { name: '--enforce-eager', kind: boolOpt },
  { name: '--max-logprobs', kind: int },
  { name: '--served-model-name', kind: list },
  { name: '--generation-config', kind: str },
  { name: '--override-generation-config', kind: json },
  { name: '--hf-overrides', kind: json },
  { name: '--enable-sleep-mode', kind: boolOpt },
  // LoadConfig
  { name: '--load-format', kind: choice(...LOAD_FORMATS) },
  { name: '--download-dir', kind: str },
  { name: '--model-loader-extra-config', kind: json },
  { name: '--ignore-patterns', kind: list },
  { name: '--use-tqdm-on-load', kind: boolOpt },
  // ParallelConfig
  { name: '--tensor-parallel-size', kind: int, aliases: ['-tp'] },
  { name: '--pipeline-parallel-size', kind: int, aliases: ['-pp'] },
  { name: '--data-parallel-size', kind: int, aliases: ['-dp'] },
  { name: '--enable-expert-parallel', kind: boolOpt },
  { name: '--distributed-executor-backend', kind: choice('ray', 'mp', 'uni', 'external_launcher') },
  // CacheConfig
  { name: '--gpu-memory-utilization', kind: float },
  { name: '--kv-cache-dtype', kind: choice('auto', 'fp8', 'fp8_e4m3', 'fp8_e5m2', 'fp8_inc') },
  { name: '--block-size', kind: choice('1', '8', '16', '32', '64', '128') },
  { name: '--swap-space', kind: float },
  { name: '--cpu-offload-gb', kind: float },
  { name: '--enable-prefix-caching', kind: boolOpt },
  { name: '--calculate-kv-scales', kind: boolOpt },
  // SchedulerConfig
  { name: '--max-num-seqs', kind: int },
  { name: '--max-num-batched-tokens', kind: hint },
  { name: '--enable-chunked-prefill', kind: boolOpt },
  { name: '--scheduling-policy', kind: choice('fcfs', 'priority') },
  // Multimodal, LoRA, speculative, compilation
  { name: '--limit-mm-per-prompt', kind: json },
  { name: '--enable-lora', kind: boolOpt },
  { name: '--max-loras', kind: int },
  { name: '--max-lora-rank', kind: int },
  { name: '--speculative-config', kind: json },
  { name: '--compilation-config', kind: json, aliases: ['-O'] },
  // ObservabilityConfig, engine
  { name: '--disable-log-stats', kind: storeTrue },
  { name: '--enable-log-requests', kind: boolOpt },
  // API server (vllm/entrypoints/openai/cli_args.py)
  { name: '--host', kind: str },
  { name: '--port', kind: int },
  { name: '--uvicorn-log-level', kind: choice('debug', 'info', 'warning', 'error', 'critical', 'trace') },
  { name: '--api-key', kind: list },
  { name: '--chat-template', kind: str },
  { name: '--response-role', kind: str },
  { name: '--enable-auto-tool-choice', kind: storeTrue },
  { name: '--tool-call-parser', kind: str },
  { name: '--reasoning-parser', kind: str },
  { name: '--disable-uvicorn-access-log', kind: storeTrue },
  { name: '--disable-frontend-multiprocessing', kind: storeTrue },
  { name: '--root-path', kind: str },
  { name: '--max-log-len', kind: int },
];

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
  /** Every flag given, by canonical name (last one wins, as in argparse). */
  values: Record<string, unknown>;
}

export type ParseResult = { ok: true; args: ServeArgs } | { ok: false; exitCode: number; stderr: string };

export const USAGE = 'usage: vllm serve [model_tag] [options]';

/** `human_readable_int` of vLLM: decimal (k, m, g) and binary (K, M, G) suffixes; plain ints. */
export function humanReadableInt(value: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const mult: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };
  const out = n * mult[m[2]!]!;
  if (m[2] === '' && m[1]!.includes('.')) return null;
  return Number.isSafeInteger(Math.round(out)) ? Math.round(out) : null;
}

const pyRepr = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function convert(spec: FlagSpec, raw: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const label = [spec.name, ...(spec.aliases ?? [])].join('/');
  const invalid = (what: string): { ok: false; message: string } => ({ ok: false, message: `argument ${label}: invalid ${what} value: ${pyRepr(raw)}` });
  switch (spec.kind.type) {
    case 'str':
      return { ok: true, value: raw };
    case 'int':
      return /^[-+]?\d+$/.test(raw.trim()) ? { ok: true, value: Number(raw) } : invalid('int');
    case 'float': {
      const v = Number(raw);
      return raw.trim() !== '' && Number.isFinite(v) ? { ok: true, value: v } : invalid('float');
    }
    case 'hint': {
      const v = humanReadableInt(raw);
      return v === null ? invalid('human_readable_int') : { ok: true, value: v };
    }
    case 'json':
      try {
        return { ok: true, value: JSON.parse(raw) as unknown };
      } catch {
        return invalid('loads');
      }
    case 'choice':
      return spec.kind.choices.includes(raw)
        ? { ok: true, value: raw }
        : { ok: false, message: `argument ${label}: invalid choice: ${pyRepr(raw)} (choose from ${spec.kind.choices.map(pyRepr).join(', ')})` };
    default:
      return { ok: true, value: raw };
  }
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

/** Parses a container's command + args as vLLM would. */
export function parseServeArgs(command: readonly string[] | undefined, args: readonly string[]): ParseResult {
  const fail = (message: string): ParseResult => ({ ok: false, exitCode: 2, stderr: `${USAGE}\nvllm serve: error: ${message}\n` });
  const entry = entrypointOf(command);
  if (entry === null) {
    return { ok: false, exitCode: 127, stderr: `exec: ${JSON.stringify((command ?? [])[0] ?? '')}: not a vLLM server entrypoint\n` };
  }
  const byName = new Map<string, FlagSpec>();
  for (const f of VLLM_FLAGS) {
    byName.set(f.name, f);
    for (const a of f.aliases ?? []) byName.set(a, f);
  }
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const unknown: string[] = [];
  const resolve = (name: string): { spec: FlagSpec; negated: boolean } | { error: string } | null => {
    const exact = byName.get(name);
    if (exact) return { spec: exact, negated: false };
    if (name.startsWith('--no-')) {
      const base = byName.get(`--${name.slice(5)}`);
      if (base?.kind.type === 'bool-opt') return { spec: base, negated: true };
    }
    if (!name.startsWith('--')) return null;
    const candidates = new Set<string>();
    for (const f of VLLM_FLAGS) {
      if (f.name.startsWith(name)) candidates.add(f.name);
      if (f.kind.type === 'bool-opt' && `--no-${f.name.slice(2)}`.startsWith(name)) candidates.add(`--no-${f.name.slice(2)}`);
    }
    if (candidates.size === 1) return resolve([...candidates][0]!);
    if (candidates.size > 1) return { error: `ambiguous option: ${name} could match ${[...candidates].join(', ')}` };
    return null;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg : arg.slice(0, eq);
    if (name.startsWith('--')) name = `--${name.slice(2).replaceAll('_', '-')}`;
    let inline: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    // Short aliases glued to their value (`-tp2`, `-O3`), as argparse accepts.
    if (!name.startsWith('--') && !byName.has(name)) {
      const short = [...byName.keys()].filter((k) => !k.startsWith('--') && name.startsWith(k)).sort((a, b) => b.length - a.length)[0];
      if (short && inline === undefined) {
        inline = name.slice(short.length);
        name = short;
      }
    }
    const found = resolve(name);
    if (found === null) {
      // argparse leaves an unknown flag's would-be value as an unrecognized positional too.
      unknown.push(arg);
      continue;
    }
    if ('error' in found) return fail(found.error);
    const spec = found.spec;
    const kind = spec.kind.type;
    if (kind === 'bool-opt' || kind === 'store-true') {
      if (inline !== undefined) return fail(`argument ${spec.name}: ignored explicit argument ${pyRepr(inline)}`);
      values[spec.name] = !found.negated;
      continue;
    }
    if (kind === 'list') {
      const items: string[] = [];
      if (inline !== undefined) items.push(inline);
      else while (i + 1 < args.length && !args[i + 1]!.startsWith('-')) items.push(args[++i]!);
      if (items.length === 0) return fail(`argument ${spec.name}: expected at least one argument`);
      values[spec.name] = items;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith('-') && !/^-\d/.test(next)))
        return fail(`argument ${[spec.name, ...(spec.aliases ?? [])].join('/')}: expected one argument`);
      raw = next;
      i++;
    }
    const converted = convert(spec, raw);
    if (!converted.ok) return fail(converted.message);
    values[spec.name] = converted.value;
  }
  if (entry === 'api_server' && positionals.length > 0) unknown.push(...positionals);
  else if (positionals.length > 1) unknown.push(...positionals.slice(1));
  if (unknown.length) return fail(`unrecognized arguments: ${unknown.join(' ')}`);
  // vllm serve: the positional model_tag wins over --model (vllm/entrypoints/cli/serve.py).
  const model = (entry === 'serve' ? positionals[0] : undefined) ?? (values['--model'] as string | undefined) ?? 'Qwen/Qwen3-0.6B';
  const extra = values['--model-loader-extra-config'];
  if (extra !== undefined && (extra === null || typeof extra !== 'object' || Array.isArray(extra))) {
    return fail(`argument --model-loader-extra-config: invalid loads value: ${pyRepr(JSON.stringify(extra))}`);
  }
  const tp = (values['--tensor-parallel-size'] as number | undefined) ?? 1;
  const served = (values['--served-model-name'] as string[] | undefined) ?? [model];
  return {
    ok: true,
    args: {
      model,
      servedModelNames: served,
      loadFormat: (values['--load-format'] as string | undefined) ?? 'auto',
      tensorParallelSize: tp,
      loaderExtraConfig: (extra as Record<string, unknown> | undefined) ?? {},
      port: (values['--port'] as number | undefined) ?? 8000,
      host: (values['--host'] as string | undefined) ?? '0.0.0.0',
      maxModelLen: (values['--max-model-len'] as number | undefined) ?? null,
      values,
    },
  };
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

/**
 * Reads infra/*.tf without a terraform binary: every file is parsed with @cdktf/hcl2json (HCL → the
 * JSON form Terraform itself accepts), merged into one configuration, and expressions are examined
 * as text. Only what the consistency test needs is evaluated: references (`var.x`, `local.x`,
 * `TYPE.NAME.attr`, `data.TYPE.NAME.attr`) and string templates made of them. Anything else (a
 * function call, a conditional) resolves to UNKNOWN rather than to a guess.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Loaded through require so its type declarations (which pull in the DOM lib) stay out of the build.
const hcl2json = createRequire(import.meta.url)('@cdktf/hcl2json') as {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
};

export type Block = Record<string, unknown>;
export const UNKNOWN: unique symbol = Symbol('unknown');
export type Value = unknown;

export interface Ref {
  /** 'var' | 'local' | 'data' | 'resource' | 'other' (each, path, count, self, terraform). */
  kind: 'var' | 'local' | 'data' | 'resource' | 'other';
  /** Resource or data type; for var/local the name. */
  type: string;
  name: string;
  /** Attribute path after TYPE.NAME (or after var.X), e.g. ['service_config', '[0]', 'uri']. */
  attrs: string[];
  text: string;
}

export interface Tf {
  dir: string;
  files: string[];
  resources: Map<string, Block>; // "type.name"
  data: Map<string, Block>; // "type.name"
  variables: Map<string, Block>;
  outputs: Map<string, Block>;
  locals: Record<string, unknown>;
  terraform: Block[];
  providers: Map<string, Block>;
  duplicates: string[];
  /** Values from terraform.tfvars.example. */
  example: Record<string, unknown>;
}

const first = (v: unknown): Block => (Array.isArray(v) ? (v[0] as Block) : (v as Block)) ?? {};

export async function loadTf(dir: string): Promise<Tf> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.tf'))
    .sort();
  const tf: Tf = {
    dir,
    files,
    resources: new Map(),
    data: new Map(),
    variables: new Map(),
    outputs: new Map(),
    locals: {},
    terraform: [],
    providers: new Map(),
    duplicates: [],
    example: {},
  };
  const put = (m: Map<string, Block>, key: string, b: Block) => {
    if (m.has(key)) tf.duplicates.push(key);
    m.set(key, b);
  };
  for (const f of files) {
    const json = await hcl2json.parse(f, readFileSync(join(dir, f), 'utf8'));
    for (const [type, byName] of Object.entries((json['resource'] ?? {}) as Record<string, Record<string, unknown>>)) {
      for (const [name, blocks] of Object.entries(byName)) put(tf.resources, `${type}.${name}`, first(blocks));
    }
    for (const [type, byName] of Object.entries((json['data'] ?? {}) as Record<string, Record<string, unknown>>)) {
      for (const [name, blocks] of Object.entries(byName)) put(tf.data, `${type}.${name}`, first(blocks));
    }
    for (const [name, blocks] of Object.entries((json['variable'] ?? {}) as Record<string, unknown>)) put(tf.variables, name, first(blocks));
    for (const [name, blocks] of Object.entries((json['output'] ?? {}) as Record<string, unknown>)) put(tf.outputs, name, first(blocks));
    for (const [name, blocks] of Object.entries((json['provider'] ?? {}) as Record<string, unknown>)) put(tf.providers, name, first(blocks));
    for (const l of (json['locals'] ?? []) as Block[]) {
      for (const [k, v] of Object.entries(l)) {
        if (k in tf.locals) tf.duplicates.push(`local.${k}`);
        tf.locals[k] = v;
      }
    }
    tf.terraform.push(...((json['terraform'] ?? []) as Block[]));
  }
  tf.example = await hcl2json.parse('terraform.tfvars.example', readFileSync(join(dir, 'terraform.tfvars.example'), 'utf8'));
  return tf;
}

// ---- expressions -----------------------------------------------------------------------------------

/**
 * The code parts of a template string: literal text becomes spaces, the inside of every `${…}` is
 * kept (nested string literals inside it are blanked too, their own `${…}` kept). So a reference is
 * never confused with text like "google.cloud.storage.object.v1.finalized".
 */
export function codeOf(template: string): string {
  let out = '';
  const modes: Array<{ mode: 'str' | 'code'; depth: number; quoted: boolean }> = [{ mode: 'str', depth: 0, quoted: false }];
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    const top = modes[modes.length - 1]!;
    if (top.mode === 'str') {
      if (c === '\\') {
        out += '  ';
        i++;
      } else if (c === '$' && template[i + 1] === '$' && template[i + 2] === '{') {
        out += '   '; // "$${" is a literal "${"
        i += 2;
      } else if (c === '$' && template[i + 1] === '{') {
        modes.push({ mode: 'code', depth: 0, quoted: false });
        out += '  ';
        i++;
      } else if (c === '"' && top.quoted) {
        modes.pop();
        out += ' ';
      } else out += ' ';
      continue;
    }
    if (c === '"') {
      modes.push({ mode: 'str', depth: 0, quoted: true });
      out += ' ';
    } else if (c === '{') {
      top.depth++;
      out += c;
    } else if (c === '}') {
      if (top.depth === 0) {
        modes.pop();
        out += ' ';
      } else {
        top.depth--;
        out += c;
      }
    } else out += c;
  }
  return out;
}

const REF_RE = /(?<![\w.\]])([a-z][a-z0-9_]*)\.([a-zA-Z_][\w-]*)((?:\.[a-zA-Z_][\w-]*|\[[^\]]*\])*)/g;
const OTHER_ROOTS = new Set(['each', 'count', 'path', 'self', 'terraform']);

function toRef(root: string, second: string, rest: string, text: string): Ref {
  const attrs = rest.match(/\.[a-zA-Z_][\w-]*|\[[^\]]*\]/g)?.map((a) => (a.startsWith('.') ? a.slice(1) : a)) ?? [];
  if (root === 'var') return { kind: 'var', type: second, name: second, attrs, text };
  if (root === 'local') return { kind: 'local', type: second, name: second, attrs, text };
  if (OTHER_ROOTS.has(root)) return { kind: 'other', type: root, name: second, attrs, text };
  if (root === 'data') {
    const [name, ...more] = attrs;
    return { kind: 'data', type: second, name: name ?? '', attrs: more, text };
  }
  return { kind: 'resource', type: root, name: second, attrs, text };
}

/** Every reference in a template string (or in every string inside an object/array). */
export function refsIn(value: unknown): Ref[] {
  const out: Ref[] = [];
  walkStrings(value, (s) => {
    for (const m of codeOf(s).matchAll(REF_RE)) out.push(toRef(m[1]!, m[2]!, m[3] ?? '', m[0]));
  });
  return out;
}

export function walkStrings(value: unknown, visit: (s: string, path: string) => void, path = ''): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, visit, `${path}[${i}]`));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walkStrings(v, visit, path ? `${path}.${k}` : k);
}

/** `${google_x.y.attr}` → that reference; undefined when the value is anything else. */
export function soleRef(value: unknown): Ref | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\$\{\s*([a-z][\w.[\]-]*)\s*\}$/.exec(value);
  if (!m) return undefined;
  const refs = refsIn(value);
  return refs.length === 1 && refs[0]!.text === m[1] ? refs[0] : undefined;
}

/** Does `value` reference resource (or data source) `address` ("type.name"), directly or via locals? */
export function references(tf: Tf, value: unknown, address: string, seen = new Set<string>()): boolean {
  for (const r of refsIn(value)) {
    if ((r.kind === 'resource' || r.kind === 'data') && `${r.type}.${r.name}` === address) return true;
    if (r.kind === 'local' && !seen.has(r.name)) {
      seen.add(r.name);
      if (references(tf, tf.locals[r.name], address, seen)) return true;
    }
  }
  return false;
}

/** Resource addresses of `type` that `value` references. */
export function referencedOfType(value: unknown, type: string): string[] {
  return [...new Set(refsIn(value).filter((r) => r.kind === 'resource' && r.type === type).map((r) => `${r.type}.${r.name}`))];
}

// ---- evaluation ---------------------------------------------------------------------------------------

export type VarSource = 'defaults' | 'example';

export function variableValue(tf: Tf, name: string, source: VarSource): Value {
  if (source === 'example' && name in tf.example) return tf.example[name];
  const v = tf.variables.get(name);
  if (!v || !('default' in v) || v['default'] === null) return UNKNOWN;
  return v['default'];
}

function lookup(obj: unknown, attrs: string[]): Value {
  let cur: unknown = obj;
  for (const a of attrs) {
    if (Array.isArray(cur)) {
      const idx = /^\[(\d+)\]$/.exec(a);
      cur = idx ? cur[Number(idx[1])] : (cur[0] as Block | undefined)?.[a];
    } else if (cur && typeof cur === 'object') cur = (cur as Block)[a];
    else return UNKNOWN;
    if (cur === undefined) return UNKNOWN;
  }
  return cur;
}

/**
 * The value of an attribute as Terraform would compute it, when that is possible from the text:
 * literals, var.X (from defaults or the example tfvars), local.X, and TYPE.NAME.attr where attr is a
 * literal argument of that resource. Returns UNKNOWN otherwise.
 */
export function evaluate(tf: Tf, value: unknown, source: VarSource, depth = 0): Value {
  if (depth > 20) return UNKNOWN;
  if (typeof value !== 'string') return value;
  if (!value.includes('${')) return value;
  const sole = soleRef(value);
  if (sole) return evalRef(tf, sole, source, depth);
  let unknown = false;
  const out = value.replace(/\$\{\s*([a-z][\w.[\]-]*)\s*\}/g, (whole) => {
    const r = soleRef(whole);
    const v = r ? evalRef(tf, r, source, depth) : UNKNOWN;
    if (v === UNKNOWN || (typeof v === 'object' && v !== null)) {
      unknown = true;
      return '';
    }
    return String(v);
  });
  return unknown || out.includes('${') ? UNKNOWN : out;
}

function evalRef(tf: Tf, r: Ref, source: VarSource, depth: number): Value {
  let base: Value;
  if (r.kind === 'var') base = variableValue(tf, r.name, source);
  else if (r.kind === 'local') base = r.name in tf.locals ? evaluate(tf, tf.locals[r.name], source, depth + 1) : UNKNOWN;
  else if (r.kind === 'resource') {
    const b = tf.resources.get(`${r.type}.${r.name}`);
    if (!b || !r.attrs.length) return UNKNOWN;
    return evaluate(tf, lookup(b, r.attrs), source, depth + 1);
  } else return UNKNOWN;
  if (base === UNKNOWN) return UNKNOWN;
  return r.attrs.length ? lookup(base, r.attrs) : base;
}

// ---- blocks ---------------------------------------------------------------------------------------------

/** A nested block (`build_config { … }`) as hcl2json renders it: an array of one object. */
export function block(b: Block | undefined, name: string): Block | undefined {
  const v = b?.[name];
  return Array.isArray(v) ? (v[0] as Block | undefined) : undefined;
}

export function blocks(b: Block | undefined, name: string): Block[] {
  const v = b?.[name];
  return Array.isArray(v) ? (v as Block[]) : [];
}

export function ofType(tf: Tf, type: string): Array<[string, Block]> {
  return [...tf.resources].filter(([k]) => k.startsWith(`${type}.`));
}

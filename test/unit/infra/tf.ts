/**
 * Reads infra/*.tf without a terraform binary: every file is parsed with @cdktn/hcl2json (HCL → the
 * JSON form Terraform itself accepts; the maintained fork of the archived @cdktf/hcl2json), merged
 * into one configuration, and expressions are examined as text. Only what the consistency test
 * needs is evaluated: references (`var.x`, `local.x`, `TYPE.NAME.attr`, `TYPE.NAME["key"].attr`,
 * `data.TYPE.NAME.attr`) and string templates made of them. Anything else (a function call, a
 * conditional) resolves to UNKNOWN rather than to a guess.
 *
 * Resources with `for_each` over a literal map or set (a literal, `local.X`, `toset(local.X)`,
 * `toset([...])`) are expanded into their instances, `TYPE.NAME["key"]`, as Terraform would:
 * `each.key` / `each.value…` are substituted, and `dynamic` blocks whose for_each is then literal
 * become the nested blocks they produce. A for_each that is not literal (a variable, a `for`
 * expression) leaves the resource as one block under `TYPE.NAME`, for_each and all.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Loaded through require so its type declarations (which pull in the DOM lib) stay out of the build.
const hcl2json = createRequire(import.meta.url)('@cdktn/hcl2json') as {
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
  /** The instance key of a for_each resource: TYPE.NAME["key"]. */
  key?: string;
  /** Attribute path after TYPE.NAME (or after var.X), e.g. ['service_config', '[0]', 'uri']; a string index ["k"] is k. */
  attrs: string[];
  text: string;
  /** For a resource or data source: "type.name" or, with a key, 'type.name["key"]'. */
  address: string;
}

export interface Tf {
  dir: string;
  files: string[];
  /** Resource instances: "type.name", or 'type.name["key"]' for each instance of an expanded for_each. */
  resources: Map<string, Block>;
  /** Resource blocks as written, by "type.name" (before for_each expansion). */
  declared: Map<string, Block>;
  /** `moved {}` blocks: old address → new address (the reference text, without `${}`). */
  moved: Array<{ from: string; to: string }>;
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
    declared: new Map(),
    moved: [],
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
      for (const [name, blocks] of Object.entries(byName)) put(tf.declared, `${type}.${name}`, first(blocks));
    }
    for (const m of (json['moved'] ?? []) as Block[]) tf.moved.push({ from: unwrap(m['from']), to: unwrap(m['to']) });
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
  for (const [address, b] of tf.declared) {
    const entries = forEachEntries(tf, b['for_each']);
    if (!entries) {
      tf.resources.set(address, b);
      continue;
    }
    for (const [key, value] of entries) {
      const { for_each: _, ...body } = b;
      tf.resources.set(`${address}[${JSON.stringify(key)}]`, expandBlock(tf, body, { each: { key, value } }) as Block);
    }
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

const INDEX = /^\["([^"]*)"\]$/;

function toRef(root: string, second: string, rest: string, text: string): Ref {
  const raw = rest.match(/\.[a-zA-Z_][\w-]*|\[[^\]]*\]/g)?.map((a) => (a.startsWith('.') ? a.slice(1) : a)) ?? [];
  const plain = (as: string[]) => as.map((a) => INDEX.exec(a)?.[1] ?? a);
  if (root === 'var') return { kind: 'var', type: second, name: second, attrs: plain(raw), text, address: '' };
  if (root === 'local') return { kind: 'local', type: second, name: second, attrs: plain(raw), text, address: '' };
  if (OTHER_ROOTS.has(root)) return { kind: 'other', type: root, name: second, attrs: plain(raw), text, address: '' };
  const [name = '', ...afterName] = root === 'data' ? raw : [second, ...raw];
  const type = root === 'data' ? second : root;
  const key = afterName[0] !== undefined ? INDEX.exec(afterName[0])?.[1] : undefined;
  const attrs = plain(key === undefined ? afterName : afterName.slice(1));
  const address = `${type}.${name}${key === undefined ? '' : `[${JSON.stringify(key)}]`}`;
  return { kind: root === 'data' ? 'data' : 'resource', type, name, ...(key === undefined ? {} : { key }), attrs, text, address };
}

/** Every reference in a template string (or in every string inside an object/array). */
export function refsIn(value: unknown): Ref[] {
  const out: Ref[] = [];
  walkStrings(value, (s) => {
    const code = codeOf(s);
    // Names bound by `for x, y in …` expressions are not references.
    const bound = new Set([...code.matchAll(/\bfor\s+(\w+)(?:\s*,\s*(\w+))?\s+in\b/g)].flatMap((m) => [m[1]!, ...(m[2] ? [m[2]] : [])]));
    for (const m of code.matchAll(REF_RE)) {
      if (bound.has(m[1]!)) continue;
      // codeOf blanks string literals (same length): read index keys like ["onDeployRequest"] from the original.
      const text = s.slice(m.index, m.index + m[0].length);
      out.push(toRef(m[1]!, m[2]!, text.slice(m[1]!.length + 1 + m[2]!.length), text));
    }
  });
  return out;
}

export function walkStrings(value: unknown, visit: (s: string, path: string) => void, path = ''): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, visit, `${path}[${i}]`));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walkStrings(v, visit, path ? `${path}.${k}` : k);
}

/** A reference path: root.name followed by .attr, [0] or ["key"]. */
const PATH = String.raw`[a-z][\w-]*(?:\.[a-zA-Z_][\w-]*|\[(?:\d+|"[^"]*")\])+`;

/** `${google_x.y.attr}` → that reference; undefined when the value is anything else. */
export function soleRef(value: unknown): Ref | undefined {
  if (typeof value !== 'string') return undefined;
  const m = new RegExp(`^\\$\\{\\s*(${PATH})\\s*\\}$`).exec(value);
  if (!m) return undefined;
  const refs = refsIn(value);
  return refs.length === 1 && refs[0]!.text === m[1] ? refs[0] : undefined;
}

/** Does `value` reference resource (or data source) `address` ("type.name"), directly or via locals? */
export function references(tf: Tf, value: unknown, address: string, seen = new Set<string>()): boolean {
  for (const r of refsIn(value)) {
    if ((r.kind === 'resource' || r.kind === 'data') && r.address === address) return true;
    if (r.kind === 'local' && !seen.has(r.name)) {
      seen.add(r.name);
      if (references(tf, tf.locals[r.name], address, seen)) return true;
    }
  }
  return false;
}

/** Resource addresses of `type` that `value` references. */
export function referencedOfType(value: unknown, type: string): string[] {
  return [
    ...new Set(
      refsIn(value)
        .filter((r) => r.kind === 'resource' && r.type === type)
        .map((r) => r.address),
    ),
  ];
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
  const out = value.replace(new RegExp(`\\$\\{\\s*(${PATH})\\s*\\}`, 'g'), (whole) => {
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
    const b = tf.resources.get(r.address);
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

// ---- for_each expansion ---------------------------------------------------------------------------

/** On a block a dynamic block produced under `var.x ? … : {}`: "var.x". */
export const WHEN = '@when';

/** `${expr}` → expr (the text of a reference in a `moved` block, a dynamic block's iterator). */
function unwrap(v: unknown): string {
  const m = /^\$\{\s*([\s\S]*?)\s*\}$/.exec(String(v));
  return m ? m[1]! : String(v);
}

/** Iteration variables in scope: `each`, or a dynamic block's iterator (its label unless renamed). */
type Ctx = Record<string, { key: unknown; value: unknown }>;

/** A value that only a variable decides: `var.x ? then : otherwise`. */
class Conditional {
  readonly when: string;
  readonly then: unknown;
  readonly otherwise: unknown;
  constructor(when: string, then: unknown, otherwise: unknown) {
    this.when = when;
    this.then = then;
    this.otherwise = otherwise;
  }
}
/** A value that is a Terraform expression (a reference path), not a literal: substituted as code. */
class Expr {
  readonly code: string;
  constructor(code: string) {
    this.code = code;
  }
}

const PATH_SEG = /\.([a-zA-Z_][\w-]*)|\[(\d+)\]|\["([^"]*)"\]/y;

function parsePath(expr: string): { root: string; segs: string[]; text: string[] } | undefined {
  const m = /^([a-z_][\w-]*)/.exec(expr);
  if (!m) return undefined;
  const segs: string[] = [];
  const text: string[] = [];
  PATH_SEG.lastIndex = m[0].length;
  let at = m[0].length;
  while (at < expr.length) {
    const s = PATH_SEG.exec(expr);
    if (!s) return undefined;
    segs.push(s[1] ?? s[2] ?? s[3]!);
    text.push(s[0]);
    at = PATH_SEG.lastIndex;
  }
  return { root: m[1]!, segs, text };
}

/** Follows a path into a literal; through a reference (`${google_x.y}` + `.id`) it becomes an Expr. */
function follow(value: unknown, segs: string[], text: string[]): unknown {
  let cur = value;
  for (let i = 0; i < segs.length; i++) {
    if (typeof cur === 'string') {
      const inner = soleRef(cur) ? unwrap(cur) : undefined;
      return inner ? new Expr(inner + text.slice(i).join('')) : UNKNOWN;
    }
    if (Array.isArray(cur) && /^\d+$/.test(segs[i]!)) cur = cur[Number(segs[i])];
    else if (cur && typeof cur === 'object' && !Array.isArray(cur) && segs[i]! in cur) cur = (cur as Block)[segs[i]!];
    else return UNKNOWN;
  }
  return cur;
}

/** The value of a path rooted at an iteration variable (x.key, x.value…) or at local.X. */
function pathValue(tf: Tf, expr: string, ctx: Ctx): unknown {
  const p = parsePath(expr);
  if (!p) return UNKNOWN;
  const it = ctx[p.root];
  if (it && p.segs[0] === 'key' && p.segs.length === 1) return it.key;
  if (it && p.segs[0] === 'value') return follow(it.value, p.segs.slice(1), p.text.slice(1));
  if (p.root === 'local' && p.segs.length && p.segs[0]! in tf.locals) return follow(tf.locals[p.segs[0]!], p.segs.slice(1), p.text.slice(1));
  return UNKNOWN;
}

/**
 * What the consistency test needs of a for_each expression: literals ({}, [], true, a list of
 * strings), paths into locals and iteration variables, toset(…), and `c ? a : b` where c is
 * literal or a variable (then a Conditional). Everything else is UNKNOWN.
 */
function staticExpr(tf: Tf, expr: string, ctx: Ctx): unknown {
  const e = expr.trim();
  if (e === '{}') return {};
  if (e === '[]') return [];
  if (e === 'true' || e === 'false') return e === 'true';
  const set = /^toset\(([\s\S]*)\)$/.exec(e);
  if (set) {
    const list = staticExpr(tf, set[1]!, ctx);
    return Array.isArray(list) && list.every((x) => typeof x === 'string') ? Object.fromEntries(list.map((x) => [x, x])) : UNKNOWN;
  }
  if (e.startsWith('[')) {
    try {
      return JSON.parse(e.replace(/,\s*\]$/, ']')) as unknown;
    } catch {
      return UNKNOWN;
    }
  }
  const cond = /^([^?]+?)\s*\?\s*([^:]+?)\s*:\s*(.+)$/.exec(e);
  if (cond) {
    let c = staticExpr(tf, cond[1]!, ctx);
    if (typeof c === 'string' && soleRef(c)?.kind === 'var') c = new Expr(unwrap(c));
    const then = staticExpr(tf, cond[2]!, ctx);
    const otherwise = staticExpr(tf, cond[3]!, ctx);
    if (typeof c === 'boolean') return c ? then : otherwise;
    if (c instanceof Expr && /^var\.\w+$/.test(c.code)) return new Conditional(c.code, then, otherwise);
    return UNKNOWN;
  }
  const v = pathValue(tf, e, ctx);
  if (typeof v === 'string' && !v.includes('${')) return v;
  return v;
}

function staticValue(tf: Tf, v: unknown, ctx: Ctx): unknown {
  if (typeof v !== 'string') return v;
  if (!v.includes('${')) return v;
  const m = /^\$\{([\s\S]*)\}$/.exec(v);
  return m && interpolations(v).length === 1 ? staticExpr(tf, m[1]!, ctx) : UNKNOWN;
}

function entriesOf(v: unknown): Array<[string, unknown]> | undefined {
  if (Array.isArray(v)) return v.map((x, i) => [String(i), x]);
  if (v && typeof v === 'object' && !(v instanceof Conditional) && !(v instanceof Expr)) return Object.entries(v);
  return undefined;
}

/** The instances of a resource's for_each, when it is literal. */
function forEachEntries(tf: Tf, v: unknown): Array<[string, unknown]> | undefined {
  if (v === undefined) return undefined;
  return entriesOf(staticValue(tf, v, {}));
}

/** Top-level `${…}` of a template: [start, end) of each, end after its `}`. */
function interpolations(template: string): Array<[number, number]> {
  const code = codeOf(template);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < template.length; i++) {
    if (template[i] === '$' && template[i + 1] === '$' && template[i + 2] === '{') {
      i += 2;
      continue;
    }
    if (template[i] !== '$' || template[i + 1] !== '{') continue;
    // codeOf keeps the code inside ${…} (and its braces) and blanks the delimiters: find the
    // matching close by counting braces in the code view.
    let depth = 0;
    let j = i + 2;
    for (; j < template.length; j++) {
      if (code[j] === '{') depth++;
      else if (code[j] === '}') depth--;
      else if (code[j] === ' ' && template[j] === '}' && depth === 0) break;
    }
    out.push([i, j + 1]);
    i = j;
  }
  return out;
}

/** `x` as HCL code inside an interpolation. */
function asCode(x: unknown, what: string): string {
  if (x instanceof Expr) return x.code;
  if (typeof x === 'string') return soleRef(x) ? unwrap(x) : JSON.stringify(x);
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  throw new Error(`tf.ts cannot substitute ${what} (${JSON.stringify(x)}) inside an expression`);
}

/** each.key / each.value… (and dynamic iterators) replaced in one template string. */
function substitute(tf: Tf, s: string, ctx: Ctx): unknown {
  const roots = Object.keys(ctx);
  if (!roots.length || !roots.some((r) => s.includes(`${r}.`))) return s;
  const spans = interpolations(s);
  let out = '';
  let at = 0;
  for (const [start, end] of spans) {
    out += s.slice(at, start);
    at = end;
    let inner = s.slice(start + 2, end - 1).trim();
    let v = pathValue(tf, inner, ctx);
    if (v === UNKNOWN) {
      const token = new RegExp(`(?<![\\w.])(${roots.join('|')})\\.(?:key\\b|value(?:\\.[a-zA-Z_][\\w-]*|\\[(?:\\d+|"[^"]*")\\])*)`, 'g');
      inner = inner.replace(token, (t) => asCode(pathValue(tf, t, ctx), t));
      v = pathValue(tf, inner, ctx);
    }
    const whole = spans.length === 1 && start === 0 && end === s.length;
    if (v === UNKNOWN) out += `\${${inner}}`;
    else if (v instanceof Expr) out += `\${${v.code}}`;
    else if (whole)
      return v; // the value itself: a number stays a number, an object an object
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out += String(v);
    else throw new Error(`tf.ts cannot splice ${inner} into ${s}`);
  }
  return out + s.slice(at);
}

/** A resource body with its iteration variables substituted and literal dynamic blocks expanded. */
function expandBlock(tf: Tf, v: unknown, ctx: Ctx): unknown {
  if (typeof v === 'string') return substitute(tf, v, ctx);
  if (Array.isArray(v)) return v.map((x) => expandBlock(tf, x, ctx));
  if (!v || typeof v !== 'object') return v;
  const out: Block = {};
  const produced: Record<string, Block[]> = {};
  for (const [k, x] of Object.entries(v as Block)) {
    if (k !== 'dynamic') {
      out[k] = expandBlock(tf, x, ctx);
      continue;
    }
    const kept: Record<string, Block[]> = {};
    for (const [label, specs] of Object.entries(x as Record<string, Block[]>)) {
      for (const spec of specs) {
        let fe = staticValue(tf, spec['for_each'], ctx);
        let when: string | undefined;
        const emptyOtherwise = fe instanceof Conditional && (entriesOf(fe.otherwise)?.length ?? -1) === 0;
        if (fe instanceof Conditional && emptyOtherwise) {
          when = fe.when;
          fe = fe.then;
        }
        const entries = entriesOf(fe);
        if (!entries) {
          (kept[label] ??= []).push(expandBlock(tf, spec, ctx) as Block);
          continue;
        }
        const iterator = spec['iterator'] === undefined ? label : unwrap(spec['iterator']);
        for (const [key, value] of entries) {
          const content = expandBlock(tf, first(spec['content']), { ...ctx, [iterator]: { key, value } }) as Block;
          // Mounted only when the variable says so (`var.x ? … : {}`): the block, marked with its condition.
          if (when) content[WHEN] = when;
          (produced[label] ??= []).push(content);
        }
      }
    }
    if (Object.keys(kept).length) out['dynamic'] = kept;
  }
  for (const [label, bs] of Object.entries(produced)) out[label] = [...((out[label] as Block[] | undefined) ?? []), ...bs];
  return out;
}

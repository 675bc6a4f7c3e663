/**
 * Checks a JSON value against a message of the protos an npm package ships (its
 * `build/protos/protos.json`, the descriptor the client itself loads), in the proto3 JSON mapping
 * (https://protobuf.dev/programming-guides/json/): lowerCamelCase field names, int32 as numbers,
 * 64-bit integers as decimal strings, enums as their names, repeated fields as arrays, maps as
 * objects. An unknown field, a wrong type or an unknown enum name throws, naming the path. The local
 * GKE server (gke-server.ts) runs every request body and every answer through it, so its shapes
 * cannot drift from the protos the real client is generated from.
 */
import { readFileSync } from 'node:fs';

interface Field {
  type: string;
  id: number;
  rule?: string;
  keyType?: string;
}
interface Desc {
  nested?: Record<string, Desc>;
  fields?: Record<string, Field>;
  values?: Record<string, number>;
}

const INT32 = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

export class ProtoJson {
  private readonly root: Desc;
  constructor(protosJsonPath: string) {
    this.root = JSON.parse(readFileSync(protosJsonPath, 'utf8')) as Desc;
  }

  private at(path: readonly string[]): Desc | undefined {
    let d: Desc | undefined = this.root;
    for (const p of path) d = d?.nested?.[p];
    return d;
  }

  /** Resolves `type` as protobuf does: from the innermost enclosing namespace outwards. */
  private resolve(scope: readonly string[], type: string): { path: string[]; desc: Desc } {
    const parts = type.replace(/^\./, '').split('.');
    for (let i = type.startsWith('.') ? 0 : scope.length; i >= 0; i--) {
      const path = [...scope.slice(0, i), ...parts];
      const desc = this.at(path);
      if (desc && (desc.fields || desc.values)) return { path, desc };
    }
    throw new Error(`type ${type} not found from ${scope.join('.')}`);
  }

  /** Throws unless `json` is `typeName` (e.g. `google.container.v1.Cluster`) in proto3 JSON. */
  check(typeName: string, json: unknown): void {
    this.message(this.resolve([], typeName), json, typeName);
  }

  mapEnums(typeName: string, json: unknown, to: 'name' | 'number'): unknown {
    return this.mapMessage(this.resolve([], typeName), json, to);
  }

  private mapMessage(t: { path: string[]; desc: Desc }, json: unknown, to: 'name' | 'number'): unknown {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(json)) {
      const f = t.desc.fields?.[k];
      const one = (x: unknown): unknown => {
        if (!f || INT32.has(f.type) || INT64.has(f.type) || ['double', 'float', 'bool', 'string', 'bytes'].includes(f.type)) return x;
        let r: { path: string[]; desc: Desc };
        try {
          r = this.resolve(t.path, f.type);
        } catch {
          return x;
        }
        if (!r.desc.values) return this.mapMessage(r, x, to);
        const values = r.desc.values;
        if (to === 'number') return typeof x === 'string' && x in values ? values[x] : x;
        return typeof x === 'number' ? (Object.entries(values).find(([, n]) => n === x)?.[0] ?? x) : x;
      };
      out[k] =
        f?.rule === 'repeated' && Array.isArray(v)
          ? v.map(one)
          : f?.keyType && v && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([mk, mv]) => [mk, one(mv)]))
            : one(v);
    }
    return out;
  }

  private message(t: { path: string[]; desc: Desc }, json: unknown, where: string): void {
    const full = t.path.join('.');
    if (full === 'google.protobuf.Any') {
      if (typeof json !== 'object' || json === null || typeof (json as { '@type'?: unknown })['@type'] !== 'string')
        throw new Error(`${where}: an Any needs @type`);
      return;
    }
    if (full === 'google.protobuf.Timestamp' || full === 'google.protobuf.Duration' || full === 'google.protobuf.FieldMask') {
      if (typeof json !== 'string') throw new Error(`${where}: ${full} is a JSON string`);
      return;
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: expected a ${full} object`);
    const fields = t.desc.fields ?? {};
    const scope = t.path;
    for (const [k, v] of Object.entries(json)) {
      const f = fields[k];
      if (!f) throw new Error(`${where}.${k}: no such field in ${full}`);
      if (f.rule === 'repeated') {
        if (!Array.isArray(v)) throw new Error(`${where}.${k}: a repeated field is a JSON array`);
        v.forEach((x, i) => this.value(scope, f.type, x, `${where}.${k}[${i}]`));
      } else if (f.keyType) {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}.${k}: a map is a JSON object`);
        for (const [mk, mv] of Object.entries(v)) this.value(scope, f.type, mv, `${where}.${k}[${mk}]`);
      } else this.value(scope, f.type, v, `${where}.${k}`);
    }
  }

  private value(scope: readonly string[], type: string, v: unknown, where: string): void {
    if (INT32.has(type)) {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${where}: ${type} is a JSON number`);
    } else if (INT64.has(type)) {
      if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new Error(`${where}: ${type} is a JSON string of digits`);
    } else if (type === 'double' || type === 'float') {
      if (typeof v !== 'number') throw new Error(`${where}: ${type} is a JSON number`);
    } else if (type === 'bool') {
      if (typeof v !== 'boolean') throw new Error(`${where}: bool is true or false`);
    } else if (type === 'string' || type === 'bytes') {
      if (typeof v !== 'string') throw new Error(`${where}: ${type} is a JSON string`);
    } else {
      const t = this.resolve(scope, type);
      if (t.desc.values) {
        // Parsers accept an enum's name or its number (proto3 JSON mapping).
        const ok = typeof v === 'string' ? v in t.desc.values : typeof v === 'number' && Object.values(t.desc.values).includes(v);
        if (!ok) throw new Error(`${where}: ${JSON.stringify(v)} is not a ${t.path.join('.')} value`);
      } else this.message(t, v, where);
    }
  }
}

/**
 * `json` (a valid `typeName`) with every enum written as its name (`to: 'name'`) or its number
 * (`to: 'number'`, what a client asking `$alt=json;enum-encoding=int` gets).
 */
export function mapEnums(protos: ProtoJson, typeName: string, json: unknown, to: 'name' | 'number'): unknown {
  return protos.mapEnums(typeName, json, to);
}

/**
 * proto3 JSON leaves out fields at their default (0, false, "", empty lists and maps) and unset
 * messages: drops them (recursively) from a value built with every field spelled out.
 */
export function omitDefaults<T>(v: T): T {
  if (Array.isArray(v)) return v.map(omitDefaults) as T;
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const y = omitDefaults(x);
    if (y === undefined || y === null || y === 0 || y === false || y === '') continue;
    if (Array.isArray(y) && y.length === 0) continue;
    if (typeof y === 'object' && !Array.isArray(y) && Object.keys(y).length === 0) continue;
    out[k] = y;
  }
  return out as T;
}

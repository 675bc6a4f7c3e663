/**
 * A strict JSON parser that sees what serde_json sees (the safetensors reference reader's parser):
 * integers are kept as source text (exact u64, no float rounding; `1.0`, `1e2` and `-0` are not
 * integers), duplicate keys are visible, nesting is capped at serde_json's recursion limit (127) and
 * escaped lone surrogates are rejected. It allocates at most in proportion to its input. Pure.
 */
import { MAX_JSON_DEPTH } from './safetensors-format.ts';

export const U64_MAX = (1n << 64n) - 1n;

const INTEGER = /^(?:0|[1-9][0-9]*)$/;

/** A JSON number that serde_json would accept as u64/usize: integer syntax, no sign, < 2^64. */
export function u64(v: JsonValue): bigint | undefined {
  if (!isNumber(v) || v.raw.length > 20 || !INTEGER.test(v.raw)) return undefined;
  const b = BigInt(v.raw);
  return b <= U64_MAX ? b : undefined;
}

export const truncate = (s: string, max = 60): string => (s.length > max ? `${s.slice(0, max)}…` : s);

// ───────────────────────────── a strict JSON parser ─────────────────────────────

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
/** A number kept as its source text. */
export interface JsonNumber {
  readonly kind: 'number';
  readonly raw: string;
}
/** An object as its entries in source order (duplicates kept). */
export interface JsonObject {
  readonly kind: 'object';
  readonly entries: Array<readonly [string, JsonValue]>;
}

export const isObject = (v: JsonValue): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'object';
export const isNumber = (v: JsonValue): v is JsonNumber => typeof v === 'object' && v !== null && !Array.isArray(v) && v.kind === 'number';

export function describe(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'string') return `the string "${truncate(v, 40)}"`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v.kind === 'number') {
    if (v.raw.startsWith('-')) return `the negative number ${truncate(v.raw, 30)}`;
    if (!INTEGER.test(v.raw)) return `the non-integer number ${truncate(v.raw, 30)}`;
    if (v.raw.length > 20 || BigInt(v.raw) > U64_MAX) return `the number ${truncate(v.raw, 30)}, which does not fit in 64 bits`;
    return `the number ${v.raw}`;
  }
  return 'an object';
}

class JsonSyntaxError extends Error {
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}

export type JsonParseResult = { ok: true; value: JsonValue } | { ok: false; message: string; at: number };

/**
 * RFC 8259 JSON, as strict as serde_json: whitespace is space/tab/LF/CR only, nothing after the
 * value, nesting ≤ 127, escaped lone surrogates rejected. Numbers stay source text.
 */
export function parseJson(text: string): JsonParseResult {
  const len = text.length;
  let i = 0;

  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(message, at);
  };
  const ws = (): void => {
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const hex4 = (): number => {
    if (i + 4 > len) fail('EOF in \\u escape');
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = text.charCodeAt(i + k);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
      if (d < 0) fail('invalid \\u escape', i + k);
      v = v * 16 + d;
    }
    i += 4;
    return v;
  };
  const str = (): string => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= len) fail('EOF while parsing a string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c === 0x5c) {
        out += text.slice(start, i);
        i++;
        if (i >= len) fail('EOF while parsing a string');
        const e = text.charCodeAt(i++);
        switch (e) {
          case 0x22:
            out += '"';
            break;
          case 0x5c:
            out += '\\';
            break;
          case 0x2f:
            out += '/';
            break;
          case 0x62:
            out += '\b';
            break;
          case 0x66:
            out += '\f';
            break;
          case 0x6e:
            out += '\n';
            break;
          case 0x72:
            out += '\r';
            break;
          case 0x74:
            out += '\t';
            break;
          case 0x75: {
            const u = hex4();
            if (u >= 0xdc00 && u <= 0xdfff) fail('lone trailing surrogate in \\u escape', i - 6);
            if (u >= 0xd800 && u <= 0xdbff) {
              if (text.charCodeAt(i) !== 0x5c || text.charCodeAt(i + 1) !== 0x75) fail('lone leading surrogate in \\u escape', i - 6);
              i += 2;
              const lo = hex4();
              if (lo < 0xdc00 || lo > 0xdfff) fail('lone leading surrogate in \\u escape', i - 12);
              out += String.fromCharCode(u, lo);
            } else {
              out += String.fromCharCode(u);
            }
            break;
          }
          default:
            fail('invalid escape', i - 1);
        }
        start = i;
        continue;
      }
      if (c < 0x20) fail('control character in a string (must be escaped)');
      i++;
    }
  };
  const digits = (): void => {
    const s = i;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c >= 0x30 && c <= 0x39) i++;
      else break;
    }
    if (i === s) fail('expected a digit');
  };
  const num = (): JsonNumber => {
    const s = i;
    if (text.charCodeAt(i) === 0x2d) i++;
    const c = text.charCodeAt(i);
    if (c === 0x30) i++;
    else if (c >= 0x31 && c <= 0x39) digits();
    else fail('invalid number');
    if (text.charCodeAt(i) === 0x2e) {
      i++;
      digits();
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = text.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      digits();
    }
    return { kind: 'number', raw: text.slice(s, i) };
  };
  const literal = (word: string, value: JsonValue): JsonValue => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    return fail('expected a value');
  };
  const value = (depth: number): JsonValue => {
    ws();
    if (i >= len) fail('EOF while parsing a value');
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      if (depth >= MAX_JSON_DEPTH) fail('nesting deeper than 127 (serde_json recursion limit)');
      i++;
      const entries: Array<readonly [string, JsonValue]> = [];
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        return { kind: 'object', entries };
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 0x22) fail(i >= len ? 'EOF while parsing an object' : 'key must be a string');
        const k = str();
        ws();
        if (text.charCodeAt(i) !== 0x3a) fail("expected ':' after an object key");
        i++;
        entries.push([k, value(depth + 1)]);
        ws();
        const d = text.charCodeAt(i);
        if (d === 0x2c) {
          i++;
          continue;
        }
        if (d === 0x7d) {
          i++;
          return { kind: 'object', entries };
        }
        fail(i >= len ? 'EOF while parsing an object' : "expected ',' or '}' in an object");
      }
    }
    if (c === 0x5b) {
      if (depth >= MAX_JSON_DEPTH) fail('nesting deeper than 127 (serde_json recursion limit)');
      i++;
      const items: JsonValue[] = [];
      ws();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        return items;
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const d = text.charCodeAt(i);
        if (d === 0x2c) {
          i++;
          continue;
        }
        if (d === 0x5d) {
          i++;
          return items;
        }
        fail(i >= len ? 'EOF while parsing an array' : "expected ',' or ']' in an array");
      }
    }
    if (c === 0x22) return str();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return num();
    if (c === 0x74) return literal('true', true);
    if (c === 0x66) return literal('false', false);
    if (c === 0x6e) return literal('null', null);
    return fail('expected a value');
  };

  try {
    const v = value(0);
    ws();
    if (i < len) fail('trailing characters after the JSON value');
    return { ok: true, value: v };
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, message: `${e.message} ${position(text, e.at)}`, at: e.at };
    if (e instanceof RangeError) return { ok: false, message: 'header too complex to parse', at: i };
    throw e;
  }
}

function position(text: string, at: number): string {
  let line = 1;
  let col = 1;
  const end = Math.min(at, text.length);
  for (let k = 0; k < end; k++) {
    if (text.charCodeAt(k) === 0x0a) {
      line++;
      col = 1;
    } else col++;
  }
  return `at line ${line} column ${col} (character ${at})`;
}

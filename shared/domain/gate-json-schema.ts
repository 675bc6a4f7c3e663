/**
 * The JSON Schema subset a gate's `expect.jsonSchema` may use, and the validator that applies it.
 * Pure. A gate's schema is input from outside, so it is checked strictly: every keyword outside the
 * subset is refused when the gate is parsed (never silently ignored: an ignored `pattern` or
 * `oneOf` would let a wrong answer pass), and no keyword runs a backtracking regular expression.
 *
 * Why not Ajv (in node_modules, as a devDependency for the tests): Ajv "treats JSON schemas as trusted
 * as your application code"; for schemas from untrusted sources it warns that compiling can overflow
 * the stack or be slow, validating can be slow, and `pattern` runs on the backtracking RegExp
 * (https://ajv.js.org/security.html, "Untrusted schemas"). A gate's schema is untrusted input, so
 * ferry implements this small subset itself, bounded in depth and free of regexes.
 *
 * The subset (meanings as in JSON Schema draft 2020-12, Validation vocabulary §6):
 *   type (a name or a list of names: object, array, string, number, integer, boolean, null),
 *   properties, required, additionalProperties (boolean or a schema), items (one schema for every
 *   element), minItems, maxItems, enum, const, minLength, maxLength (in Unicode code points),
 *   minimum, maximum; annotations title, description and $schema are accepted and have no effect.
 */

export const JSON_SCHEMA_KEYWORDS = [
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'enum',
  'const',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
] as const;
export const JSON_SCHEMA_ANNOTATIONS = ['title', 'description', '$schema'] as const;
export const JSON_TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'] as const;
type JsonType = (typeof JSON_TYPES)[number];

/**
 * Objects and arrays nest at most this deep inside a schema (the schema itself is level 1). A gate
 * checks the shape of an answer, not a grammar; and the schema is stored in Firestore inside a
 * rollout's request (request.gate.prompts[i].expect.jsonSchema: 5 levels), where maps and arrays
 * nest at most 20 levels (https://cloud.google.com/firestore/quotas, "Maximum depth of fields in a
 * map or array": 20). 5 + 10 leaves room for whatever record carries a gate next.
 */
export const MAX_SCHEMA_DEPTH = 10;

const KNOWN = new Set<string>([...JSON_SCHEMA_KEYWORDS, ...JSON_SCHEMA_ANNOTATIONS]);
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const quote = (s: string) => JSON.stringify(s);

/** A problem in a schema: where (dotted path under the schema, '' for its root) and what. */
export interface SchemaProblem {
  path: string;
  message: string;
}

/**
 * Why `value` cannot be stored in Firestore as it is: nesting deeper than MAX_SCHEMA_DEPTH, an array
 * directly inside an array (https://cloud.google.com/firestore/docs/concepts/data-types, Array: "An
 * array cannot contain another array value as one of its elements"), or a field name Firestore
 * refuses (empty, or matching __.*__: https://cloud.google.com/firestore/quotas, field names).
 */
function storableProblems(value: unknown, at: string, depth: number, inArray: boolean, out: SchemaProblem[]): void {
  if (out.length >= 5) return;
  if (Array.isArray(value)) {
    if (inArray) out.push({ path: at, message: 'a list directly inside a list cannot be stored (Firestore); wrap it in an object' });
    else if (depth > MAX_SCHEMA_DEPTH) out.push({ path: at, message: `a gate schema nests objects and lists at most ${MAX_SCHEMA_DEPTH} levels deep` });
    else value.forEach((v, i) => storableProblems(v, `${at}[${i}]`, depth + 1, true, out));
    return;
  }
  if (isPlainObject(value)) {
    if (depth > MAX_SCHEMA_DEPTH) {
      out.push({ path: at, message: `a gate schema nests objects and lists at most ${MAX_SCHEMA_DEPTH} levels deep` });
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      const child = at ? `${at}.${k}` : k;
      if (k === '' || /^__.*__$/.test(k)) out.push({ path: at, message: `field name ${quote(k)} cannot be stored (Firestore: not empty, not __name__)` });
      else storableProblems(v, child, depth + 1, false, out);
    }
  }
}

/**
 * Every reason `schema` is outside the subset, or cannot be stored (empty: it is inside). `at`
 * prefixes the paths.
 */
export function checkSchemaSubset(schema: unknown, at = ''): SchemaProblem[] {
  const stored: SchemaProblem[] = [];
  storableProblems(schema, at, 1, false, stored);
  if (stored.length) return stored;
  return checkKeywords(schema, at);
}

function checkKeywords(schema: unknown, at: string): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const here = at;
  if (typeof schema === 'boolean') return out; // true / false schemas (accept all / nothing)
  if (!isPlainObject(schema)) return [{ path: here, message: 'a schema is an object (or true/false)' }];
  for (const k of Object.keys(schema)) {
    if (!KNOWN.has(k)) {
      out.push({
        path: here,
        message: `keyword ${quote(k)} is not supported (a gate schema may use ${JSON_SCHEMA_KEYWORDS.join(', ')}; docs/gate.md)`,
      });
    }
  }
  const sub = (k: string) => (at ? `${at}.${k}` : k);
  const t = schema['type'];
  if (t !== undefined) {
    const names = Array.isArray(t) ? t : [t];
    if (names.length === 0 || names.some((n) => typeof n !== 'string' || !(JSON_TYPES as readonly string[]).includes(n)))
      out.push({ path: sub('type'), message: `type is one of ${JSON_TYPES.join(', ')}, or a non-empty list of them` });
  }
  if (schema['properties'] !== undefined) {
    const props = schema['properties'];
    if (!isPlainObject(props)) out.push({ path: sub('properties'), message: 'properties is an object of schemas' });
    else for (const [name, s] of Object.entries(props)) out.push(...checkKeywords(s, `${sub('properties')}.${name}`));
  }
  const req = schema['required'];
  if (req !== undefined && (!Array.isArray(req) || req.some((r) => typeof r !== 'string') || new Set(req).size !== req.length))
    out.push({ path: sub('required'), message: 'required is a list of distinct property names' });
  const ap = schema['additionalProperties'];
  if (ap !== undefined) out.push(...checkKeywords(ap, sub('additionalProperties')));
  const items = schema['items'];
  if (items !== undefined) {
    if (Array.isArray(items)) out.push({ path: sub('items'), message: 'items is one schema for every element (tuple forms are not supported)' });
    else out.push(...checkKeywords(items, sub('items')));
  }
  for (const k of ['minItems', 'maxItems', 'minLength', 'maxLength'] as const)
    if (schema[k] !== undefined && !isNonNegInt(schema[k])) out.push({ path: sub(k), message: `${k} is a non-negative integer` });
  for (const k of ['minimum', 'maximum'] as const)
    if (schema[k] !== undefined && (typeof schema[k] !== 'number' || !Number.isFinite(schema[k]))) out.push({ path: sub(k), message: `${k} is a number` });
  const en = schema['enum'];
  if (en !== undefined && (!Array.isArray(en) || en.length === 0)) out.push({ path: sub('enum'), message: 'enum is a non-empty list of values' });
  for (const k of ['title', 'description', '$schema'] as const)
    if (schema[k] !== undefined && typeof schema[k] !== 'string') out.push({ path: sub(k), message: `${k} is a string` });
  return out;
}

/** Canonical JSON (sorted keys): equality of JSON values for enum and const. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isPlainObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

function typeOf(v: unknown): Exclude<JsonType, 'integer'> {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  return 'object';
}

const hasType = (v: unknown, t: string): boolean => (t === 'integer' ? typeof v === 'number' && Number.isInteger(v) : typeOf(v) === t);

/**
 * Why `value` (a parsed JSON answer) does not match `schema` (already inside the subset:
 * checkSchemaSubset returned nothing). Empty: it matches. At most `limit` reasons.
 */
export function validateAgainstSchema(value: unknown, schema: unknown, limit = 5): string[] {
  const out: string[] = [];
  const walk = (v: unknown, s: unknown, path: string): void => {
    if (out.length >= limit) return;
    const where = path || '(root)';
    if (s === true) return;
    if (s === false) {
      out.push(`${where}: no value is allowed here`);
      return;
    }
    if (!isPlainObject(s)) return;
    const t = s['type'];
    if (t !== undefined) {
      const names = (Array.isArray(t) ? t : [t]) as string[];
      if (!names.some((n) => hasType(v, n))) {
        out.push(`${where}: expected ${names.join(' or ')}, got ${typeOf(v)}`);
        return;
      }
    }
    if (s['const'] !== undefined && canonical(v) !== canonical(s['const'])) out.push(`${where}: expected ${canonical(s['const'])}`);
    if (Array.isArray(s['enum']) && !s['enum'].some((e) => canonical(e) === canonical(v)))
      out.push(`${where}: expected one of ${s['enum'].map(canonical).join(', ')}`);
    if (typeof v === 'string') {
      const len = [...v].length;
      if (typeof s['minLength'] === 'number' && len < s['minLength']) out.push(`${where}: shorter than ${s['minLength']} characters`);
      if (typeof s['maxLength'] === 'number' && len > s['maxLength']) out.push(`${where}: longer than ${s['maxLength']} characters`);
    }
    if (typeof v === 'number') {
      if (typeof s['minimum'] === 'number' && v < s['minimum']) out.push(`${where}: below the minimum ${s['minimum']}`);
      if (typeof s['maximum'] === 'number' && v > s['maximum']) out.push(`${where}: above the maximum ${s['maximum']}`);
    }
    if (Array.isArray(v)) {
      if (typeof s['minItems'] === 'number' && v.length < s['minItems']) out.push(`${where}: fewer than ${s['minItems']} items`);
      if (typeof s['maxItems'] === 'number' && v.length > s['maxItems']) out.push(`${where}: more than ${s['maxItems']} items`);
      if (s['items'] !== undefined) v.forEach((item, i) => walk(item, s['items'], `${path}[${i}]`));
    }
    if (isPlainObject(v)) {
      const props = isPlainObject(s['properties']) ? s['properties'] : {};
      for (const r of Array.isArray(s['required']) ? (s['required'] as string[]) : [])
        if (!Object.hasOwn(v, r)) out.push(`${where}: property ${quote(r)} is missing`);
      for (const [k, val] of Object.entries(v)) {
        const child = path ? `${path}.${k}` : k;
        if (Object.hasOwn(props, k)) walk(val, props[k], child);
        else if (s['additionalProperties'] !== undefined) {
          if (s['additionalProperties'] === false) out.push(`${where}: property ${quote(k)} is not allowed`);
          else walk(val, s['additionalProperties'], child);
        }
      }
    }
  };
  walk(value, schema, '');
  return out.slice(0, limit);
}

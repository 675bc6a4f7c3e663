/**
 * A small YAML emitter for JSON values (what `-o yaml` prints): block style, list items at their
 * key's indentation as kubectl prints them, and a string left plain only when YAML 1.1 and 1.2
 * both read it back as that same string — otherwise it is written double-quoted with JSON's
 * escapes, which YAML's double-quoted style accepts (YAML 1.2.2 §7.3.1: JSON is a subset).
 * https://yaml.org/spec/1.2.2/#731-double-quoted-style
 */

/** Words YAML 1.1 or 1.2 resolve to something other than a string (bool, null, number-like). */
const NOT_A_STRING =
  /^(?:~|null|true|false|yes|no|on|off|y|n|[-+]?\.?(?:inf|nan)|[-+]?[0-9][0-9_.:eE+-]*|[-+]?\.[0-9][0-9_eE+-]*|0x[0-9a-f_]+|0o[0-7]+|0b[01_]+)$/i;
/** Safe plain scalars: no leading indicator, no `: ` or ` #`, no quotes, brackets or commas. */
// Each separator (':' or ' ') is followed by a run of safe characters: unambiguous, so no backtracking.
const PLAIN = /^[A-Za-z0-9_/.$^][A-Za-z0-9_/.$^@()+=~-]*(?:[: ][A-Za-z0-9_/.$^@()+=~-]+)*$/;

export function yamlScalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf';
  if (typeof v === 'bigint') return v.toString();
  const s = String(v);
  return PLAIN.test(s) && !NOT_A_STRING.test(s) ? s : JSON.stringify(s);
}

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => typeof v === 'object' && v !== null && !(v instanceof Date);
const isEmpty = (v: Record<string, unknown> | unknown[]): boolean => (Array.isArray(v) ? v.length === 0 : Object.values(v).every((x) => x === undefined));
const inline = (v: unknown): string | null => {
  if (v instanceof Date) return yamlScalar(v.toISOString());
  if (!isContainer(v)) return yamlScalar(v);
  if (isEmpty(v)) return Array.isArray(v) ? '[]' : '{}';
  return null;
};

function lines(v: Record<string, unknown> | unknown[]): string[] {
  const out: string[] = [];
  if (Array.isArray(v)) {
    for (const item of v) {
      const one = inline(item === undefined ? null : item);
      if (one !== null) out.push(`- ${one}`);
      else {
        const sub = lines(item as Record<string, unknown> | unknown[]);
        out.push(`- ${sub[0]}`, ...sub.slice(1).map((l) => `  ${l}`));
      }
    }
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined) continue;
    const key = yamlScalar(k);
    const one = inline(val);
    if (one !== null) out.push(`${key}: ${one}`);
    else if (Array.isArray(val)) out.push(`${key}:`, ...lines(val));
    else out.push(`${key}:`, ...lines(val as Record<string, unknown>).map((l) => `  ${l}`));
  }
  return out;
}

/** One YAML document for a JSON value (no `---`), ending in a newline. */
export function toYaml(value: unknown): string {
  const one = inline(value);
  if (one !== null) return `${one}\n`;
  return lines(value as Record<string, unknown> | unknown[]).join('\n') + '\n';
}

/** A multi-document stream, as `kubectl get -o yaml` of several objects or a manifest file. */
export function toYamlStream(values: readonly unknown[]): string {
  return values.map((v) => `---\n${toYaml(v)}`).join('');
}

/**
 * The promotion gate (issue #19): golden prompts a new version must answer right before its rollout
 * succeeds. Pure: the zod schema a gate is parsed with (a deploy request's `gate`, an autodeploy
 * target's, or a model's default stored by `ferry gate set`), and the evaluation of the answers the
 * new pods gave. Sending the prompts is the rollout's `verifying` phase; docs/gate.md is the guide.
 *
 * A gate is input from outside, so everything is capped (GATE_LIMITS) and a regular expression runs
 * on RE2 (re2js, a pure-JS port of RE2: matching is linear in the input, so no expression can hang a
 * function; https://github.com/google/re2/wiki/Syntax). An expression RE2 cannot compile (lookaround,
 * backreferences) is refused when the gate is parsed, with RE2's own message.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RE2JS } from 're2js';
import { checkSchemaSubset, validateAgainstSchema } from './gate-json-schema.ts';

export const GATE_LIMITS = {
  /** Prompts per gate. */
  maxPrompts: 16,
  /** `maxTokens` per prompt: a gate checks a short answer. */
  maxTokens: 512,
  /** UTF-8 bytes of one prompt, or of one chat message's content. */
  maxPromptBytes: 8 * 1024,
  /** UTF-8 bytes of all prompts and message contents of the gate together. */
  maxTotalPromptBytes: 32 * 1024,
  /** Messages in one chat prompt. */
  maxMessages: 32,
  /** UTF-8 bytes of each expected text (`equals`, each `contains`). */
  maxExpectedBytes: 8 * 1024,
  /** Strings in one `contains` list. */
  maxContains: 16,
  /** UTF-8 bytes of a `regex`. */
  maxRegexBytes: 1024,
  /** UTF-8 bytes of a `jsonSchema`, serialized. */
  maxJsonSchemaBytes: 16 * 1024,
  /** UTF-8 bytes of the whole gate, serialized (it travels inside a deploy request of at most 64 KiB). */
  maxGateBytes: 48 * 1024,
  /** An answer is cut to this many characters before it is checked or recorded. */
  maxAnswerChars: 64 * 1024,
  minTimeoutSeconds: 10,
  maxTimeoutSeconds: 900,
  defaultTimeoutSeconds: 180,
} as const;

/** How much of an expectation or an answer PromptResult carries (and Slack and status show). */
export const DISPLAY_LIMITS = { expected: 300, actual: 500 } as const;

const utf8 = new TextEncoder();
const bytes = (s: string): number => utf8.encode(s).byteLength;
const kib = (n: number) => `${n / 1024} KiB`;
/**
 * UTF-8 bytes of `v` serialized; Infinity when it cannot be serialized (JSON.stringify recurses: a
 * value nested thousands deep, which a 64 KiB JSON text can be, overflows the stack).
 */
function jsonBytes(v: unknown): number {
  try {
    return bytes(JSON.stringify(v) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Strings capped in UTF-8 bytes (zod's max counts UTF-16 units). */
const cappedText = (max: number, what: string) =>
  z
    .string()
    .min(1, `${what} is empty`)
    .refine((s) => bytes(s) <= max, { error: (i) => `${what} is ${bytes(i.input as string)} bytes; the limit is ${kib(max)}` });

/**
 * A union's message: the problem of the branch whose type matched (zod's own is "Invalid input"),
 * else `fallback`.
 */
function unionProblem(fallback: string) {
  return (iss: { code?: string; errors?: unknown }): string => {
    const branches = (Array.isArray(iss.errors) ? iss.errors : []) as Array<Array<{ code: string; path: PropertyKey[]; message: string }>>;
    const matched = branches.find((b) => b.length > 0 && !b.some((i) => i.code === 'invalid_type' && i.path.length === 0));
    const first = matched?.[0];
    if (!first) return fallback;
    return first.path.length ? `${first.path.map(String).join('.')}: ${first.message}` : first.message;
  };
}

export const GATE_PROMPT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** RE2's verdict on an expression: null when it compiles, else RE2's message. */
export function re2Problem(regex: string): string | null {
  try {
    RE2JS.compile(regex);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export const GateMessage = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: cappedText(GATE_LIMITS.maxPromptBytes, 'message content'),
});
export type GateMessage = z.infer<typeof GateMessage>;

export const GateExpect = z.strictObject({
  /** The whole answer, exactly. */
  equals: z
    .string()
    .refine((s) => bytes(s) <= GATE_LIMITS.maxExpectedBytes, `equals is longer than ${kib(GATE_LIMITS.maxExpectedBytes)}`)
    .optional(),
  /** Each string appears in the answer (case-sensitive). */
  contains: z
    .union(
      [
        cappedText(GATE_LIMITS.maxExpectedBytes, 'contains'),
        z
          .array(cappedText(GATE_LIMITS.maxExpectedBytes, 'contains'))
          .min(1, 'contains lists at least one string')
          .max(GATE_LIMITS.maxContains, `contains lists at most ${GATE_LIMITS.maxContains} strings`),
      ],
      { error: unionProblem(`contains is a string or a list of 1-${GATE_LIMITS.maxContains} strings`) },
    )
    .optional(),
  /** RE2 syntax; matches anywhere in the answer unless anchored with ^ and $. */
  regex: z
    .string()
    .min(1, 'regex is empty')
    .refine((s) => bytes(s) <= GATE_LIMITS.maxRegexBytes, `regex is longer than ${kib(GATE_LIMITS.maxRegexBytes)}`)
    .superRefine((s, ctx) => {
      if (bytes(s) > GATE_LIMITS.maxRegexBytes) return;
      const problem = re2Problem(s);
      if (problem)
        ctx.addIssue({
          code: 'custom',
          message: `regex does not compile under RE2 syntax (no lookaround, no backreferences; https://github.com/google/re2/wiki/Syntax): ${problem}`,
        });
    })
    .optional(),
  /** The answer parses as JSON and matches this schema (the subset in gate-json-schema.ts). */
  jsonSchema: z
    .record(z.string(), z.unknown())
    .superRefine((s, ctx) => {
      const problems = checkSchemaSubset(s); // bounded: stops at MAX_SCHEMA_DEPTH
      const size = problems.length ? 0 : jsonBytes(s);
      if (size > GATE_LIMITS.maxJsonSchemaBytes) {
        ctx.addIssue({ code: 'custom', message: `jsonSchema is ${size} bytes serialized; the limit is ${kib(GATE_LIMITS.maxJsonSchemaBytes)}` });
        return;
      }
      for (const p of problems) ctx.addIssue({ code: 'custom', path: p.path ? p.path.split('.') : [], message: p.message });
    })
    .optional(),
});
export type GateExpect = z.infer<typeof GateExpect>;

export const GatePrompt = z
  .strictObject({
    /** Short id shown in results; default p<index+1>. */
    name: z.string().regex(GATE_PROMPT_NAME_RE, 'prompt names are 1-63 chars of A-Z a-z 0-9 . _ - starting with a letter or digit').optional(),
    /** Completion form: POST /v1/completions. */
    prompt: cappedText(GATE_LIMITS.maxPromptBytes, 'prompt').optional(),
    /** Chat form: POST /v1/chat/completions. */
    messages: z.array(GateMessage).min(1, 'messages lists at least one message').max(GATE_LIMITS.maxMessages).optional(),
    maxTokens: z.int().min(1).max(GATE_LIMITS.maxTokens),
    temperature: z.literal(0, { error: 'temperature must be 0: a gate must be deterministic (greedy decoding)' }).default(0),
    /** vLLM's `seed` (an int64; ferry keeps it a safe integer). */
    seed: z.int().min(0).default(0),
    expect: GateExpect.optional(),
    /** The answer must equal the one the previous good version gave to this same prompt. */
    sameAsPrevious: z.boolean().optional(),
  })
  .superRefine((p, ctx) => {
    const forms = (p.prompt !== undefined ? 1 : 0) + (p.messages !== undefined ? 1 : 0);
    if (forms !== 1)
      ctx.addIssue({
        code: 'custom',
        message:
          forms === 0
            ? 'a prompt needs `prompt` (completion form) or `messages` (chat form)'
            : 'a prompt has either `prompt` (completion form) or `messages` (chat form), not both',
      });
    const expects = p.expect !== undefined && Object.values(p.expect).some((v) => v !== undefined);
    if (p.expect !== undefined && !expects)
      ctx.addIssue({ code: 'custom', path: ['expect'], message: 'expect is empty: name equals, contains, regex or jsonSchema' });
    else if (!expects && p.sameAsPrevious !== true)
      ctx.addIssue({ code: 'custom', message: 'this prompt checks nothing: give it `expect` (equals, contains, regex, jsonSchema) or `sameAsPrevious: true`' });
  });

const promptTextBytes = (p: { prompt?: string | undefined; messages?: ReadonlyArray<{ content: string }> | undefined }): number =>
  (p.prompt !== undefined ? bytes(p.prompt) : 0) + (p.messages ?? []).reduce((n, m) => n + bytes(m.content), 0);

export const Gate = z
  .strictObject({
    prompts: z.array(GatePrompt).min(1, 'a gate has at least one prompt').max(GATE_LIMITS.maxPrompts, `a gate has at most ${GATE_LIMITS.maxPrompts} prompts`),
    /** Fraction of the prompts that must pass, in (0, 1]. */
    passThreshold: z.number().gt(0, 'passThreshold is a fraction above 0').max(1, 'passThreshold is a fraction of at most 1').default(1),
    /** Time budget of the whole verifying phase, reaching the pods included. */
    timeoutSeconds: z.int().min(GATE_LIMITS.minTimeoutSeconds).max(GATE_LIMITS.maxTimeoutSeconds).default(GATE_LIMITS.defaultTimeoutSeconds),
  })
  .superRefine((g, ctx) => {
    const size = jsonBytes(g);
    if (size > GATE_LIMITS.maxGateBytes)
      ctx.addIssue({
        code: 'custom',
        message: Number.isFinite(size)
          ? `the gate is ${size} bytes serialized; the limit is ${kib(GATE_LIMITS.maxGateBytes)}`
          : 'the gate nests too deep to be serialized',
      });
    const total = g.prompts.reduce((n, p) => n + promptTextBytes(p), 0);
    if (total > GATE_LIMITS.maxTotalPromptBytes)
      ctx.addIssue({
        code: 'custom',
        path: ['prompts'],
        message: `the prompts hold ${total} bytes of text together; the limit is ${kib(GATE_LIMITS.maxTotalPromptBytes)}`,
      });
    const seen = new Map<string, number>();
    g.prompts.forEach((p, i) => {
      const name = p.name ?? `p${i + 1}`;
      const first = seen.get(name);
      if (first !== undefined)
        ctx.addIssue({ code: 'custom', path: ['prompts', i, 'name'], message: `prompt name ${JSON.stringify(name)} is already used by prompt ${first + 1}` });
      else seen.set(name, i);
    });
  })
  .transform((g) => ({ ...g, prompts: g.prompts.map((p, i) => ({ ...p, name: p.name ?? `p${i + 1}` })) }));
export type Gate = z.output<typeof Gate>;
/** What a sender may write (defaults not yet applied). */
export type GateInput = z.input<typeof Gate>;
/** One prompt of a parsed gate (its name filled in). */
export type GatePrompt = Gate['prompts'][number];

/** A gate from outside → the gate, or each problem by path. Never throws. */
export function parseGate(value: unknown): { ok: true; gate: Gate } | { ok: false; issues: Array<{ path: string; message: string }> } {
  const r = Gate.safeParse(value);
  if (r.success) return { ok: true, gate: r.data };
  return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })) };
}

// ---------------------------------------------------------------------------------------------
// Answers and evaluation

/** What one prompt got from the new pods. text null: no answer (error says why). */
export type GateAnswer = { name: string; text: string | null; error?: string; latencyMs: number; pod?: string };

/** The previous good version's answers, by promptKey. */
export type PreviousAnswers = Record<string /* promptKey */, string>;

/**
 * A stable digest of what was asked (form, prompt or messages, maxTokens, seed; temperature is
 * always 0): a changed prompt never compares against an answer to another question. 32 hex chars.
 */
export function promptKey(p: Pick<GatePrompt, 'prompt' | 'messages' | 'maxTokens' | 'seed'>): string {
  const asked =
    p.messages !== undefined
      ? { form: 'chat', messages: p.messages.map((m) => [m.role, m.content]), maxTokens: p.maxTokens, seed: p.seed }
      : { form: 'completion', prompt: p.prompt ?? '', maxTokens: p.maxTokens, seed: p.seed };
  return createHash('sha256').update(JSON.stringify(asked)).digest('hex').slice(0, 32);
}

export interface PromptResult {
  name: string;
  passed: boolean;
  /** Human summary of what was expected, truncated. */
  expected: string;
  /** The answer, truncated; null when there was none. */
  actual: string | null;
  latencyMs: number;
  /** Each check that failed, specifically. Empty when passed. */
  failures: string[];
  /** sameAsPrevious only: compared with a recorded answer, or none recorded yet. */
  baseline?: 'recorded' | 'compared' | 'none';
  pod?: string;
}

export interface GateVerdict {
  passed: boolean;
  passedCount: number;
  total: number;
  threshold: number;
  /** Prompts that had to pass: ceil(threshold × total). */
  required: number;
  results: PromptResult[];
  /** What to record as the baseline when this rollout succeeds. */
  answers: PreviousAnswers;
}

/** `s` cut to at most `max` characters (code points), the last being an ellipsis when cut. */
export function truncateForDisplay(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 0) return '';
  return `${chars.slice(0, max - 1).join('')}…`;
}

/** Index of the first differing UTF-16 unit, or -1 when equal. */
function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return i;
  return a.length === b.length ? -1 : n;
}

const q = (s: string, max = 80) => JSON.stringify(truncateForDisplay(s, max));
const containsList = (c: string | string[] | undefined): string[] => (c === undefined ? [] : typeof c === 'string' ? [c] : c);

function describeExpect(p: GatePrompt, baseline: PromptResult['baseline']): string {
  const parts: string[] = [];
  const e = p.expect;
  if (e?.equals !== undefined) parts.push(`equals ${q(e.equals)}`);
  const c = containsList(e?.contains);
  if (c.length) parts.push(`contains ${c.map((s) => q(s, 40)).join(', ')}`);
  if (e?.regex !== undefined) parts.push(`matches /${truncateForDisplay(e.regex, 80)}/`);
  if (e?.jsonSchema !== undefined) parts.push('JSON matching the schema');
  if (p.sameAsPrevious === true)
    parts.push(baseline === 'none' ? 'no previous answer recorded: this answer becomes the baseline' : 'the same answer as the previous good version');
  return truncateForDisplay(parts.join('; '), DISPLAY_LIMITS.expected);
}

/** The failures of one answer text against one prompt's checks (sameAsPrevious aside). */
function checkExpect(e: GateExpect, text: string): string[] {
  const out: string[] = [];
  if (e.equals !== undefined && text !== e.equals) {
    const at = firstDifference(text, e.equals);
    out.push(`expected to equal ${q(e.equals)} (differs at char ${at + 1})`);
  }
  for (const s of containsList(e.contains)) if (!text.includes(s)) out.push(`expected to contain ${q(s)}`);
  if (e.regex !== undefined) {
    // Parsed gates hold only expressions RE2 compiles; one that does not (a gate built by hand) fails the prompt.
    let re: RE2JS | null = null;
    try {
      re = RE2JS.compile(e.regex);
    } catch (err) {
      out.push(`regex /${truncateForDisplay(e.regex, 80)}/ does not compile: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (re && !re.test(text)) out.push(`expected to match /${truncateForDisplay(e.regex, 80)}/`);
  }
  if (e.jsonSchema !== undefined) {
    let value: unknown;
    let parsed = true;
    try {
      value = JSON.parse(text);
    } catch (err) {
      parsed = false;
      out.push(`expected JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (parsed) {
      try {
        for (const m of validateAgainstSchema(value, e.jsonSchema, 3)) out.push(`JSON does not match the schema: ${m}`);
      } catch {
        // enum/const compare whole values recursively: an answer nested thousands deep overflows the stack
        out.push('JSON does not match the schema: the answer nests too deep to compare');
      }
    }
  }
  return out;
}

/**
 * The gate's verdict on the answers the new pods gave. Pure. Each prompt is matched to the first
 * answer with its name; a prompt without an answer (or whose answer is null) fails. Answers are cut
 * to GATE_LIMITS.maxAnswerChars before they are checked and recorded. sameAsPrevious with no
 * recorded answer for the prompt's key is skipped (baseline 'none'); its other checks still apply.
 * The gate passes when at least ceil(passThreshold × prompts) prompts pass. `answers` is the new
 * baseline: this rollout's answer for each prompt that passed, the previous one (when there is
 * one) for each that did not.
 */
export function evaluateGate(gate: Gate, answers: readonly GateAnswer[], previous: PreviousAnswers | null): GateVerdict {
  const byName = new Map<string, GateAnswer>();
  for (const a of answers) if (!byName.has(a.name)) byName.set(a.name, a);
  const baselineOut: PreviousAnswers = {};
  const results = gate.prompts.map((p): PromptResult => {
    const key = promptKey(p);
    const prev = previous?.[key];
    const a = byName.get(p.name);
    const baseline: PromptResult['baseline'] = p.sameAsPrevious === true ? (prev === undefined ? 'none' : 'compared') : undefined;
    const failures: string[] = [];
    let text: string | null = null;
    if (a === undefined) failures.push('no answer: the prompt was not sent');
    else if (a.text === null) failures.push(`no answer: ${a.error ?? 'unknown error'}`);
    else {
      text = a.text.length > GATE_LIMITS.maxAnswerChars ? a.text.slice(0, GATE_LIMITS.maxAnswerChars) : a.text;
      if (p.expect) failures.push(...checkExpect(p.expect, text));
      if (baseline === 'compared' && text !== prev) {
        const at = firstDifference(text, prev!);
        failures.push(`differs from the previous good version at char ${at + 1} (it answered ${q(prev!)})`);
      }
    }
    const passed = failures.length === 0;
    if (passed && text !== null) baselineOut[key] = text;
    else if (prev !== undefined) baselineOut[key] = prev;
    return {
      name: p.name,
      passed,
      expected: describeExpect(p, baseline),
      actual: text === null ? null : truncateForDisplay(text, DISPLAY_LIMITS.actual),
      latencyMs: a?.latencyMs ?? 0,
      failures,
      ...(baseline !== undefined ? { baseline } : {}),
      ...(a?.pod !== undefined ? { pod: a.pod } : {}),
    };
  });
  const total = results.length;
  const passedCount = results.filter((r) => r.passed).length;
  const required = requiredPasses(gate);
  return { passed: passedCount >= required, passedCount, total, threshold: gate.passThreshold, required, results, answers: baselineOut };
}

/** How many prompts must pass: ⌈passThreshold × prompts⌉, at least one. */
export function requiredPasses(gate: Pick<Gate, 'passThreshold' | 'prompts'>): number {
  // ceil with a tolerance for binary floating point (0.07 × 100 is 7.000000000000001: 7 must pass, not 8).
  return Math.max(1, Math.ceil(gate.passThreshold * gate.prompts.length - 1e-9));
}

/** Which gate a rollout runs: the request's own, else the model's stored default, else none. */
export function effectiveGate(requestGate: Gate | undefined, modelDefault: Gate | null | undefined): { gate: Gate; source: 'request' | 'model' } | null {
  if (requestGate) return { gate: requestGate, source: 'request' };
  if (modelDefault) return { gate: modelDefault, source: 'model' };
  return null;
}

/** The gate in a few lines for people (`ferry gate show`, status): each prompt, its form and what it expects. */
export function describeGateLines(gate: Gate): string[] {
  const total = gate.prompts.length;
  const required = requiredPasses(gate);
  const lines = [
    `${total} prompt${total === 1 ? '' : 's'}; ${required === total ? 'all must pass' : `${required} of ${total} must pass (passThreshold ${gate.passThreshold})`}; timeout ${gate.timeoutSeconds} s`,
  ];
  for (const p of gate.prompts) {
    const form = p.messages !== undefined ? `chat, ${p.messages.length} message${p.messages.length === 1 ? '' : 's'}` : 'completion';
    lines.push(`  ${p.name}  (${form}, maxTokens ${p.maxTokens}, seed ${p.seed})`);
    const asked = p.messages !== undefined ? `${p.messages.at(-1)!.role}: ${p.messages.at(-1)!.content}` : p.prompt!;
    lines.push(`      asks    ${q(asked.replace(/\s+/g, ' '), 100)}`);
    lines.push(`      expects ${describeExpect(p, undefined)}`);
  }
  return lines;
}

/**
 * The promotion gate (shared/domain/gate.ts): every rule and cap is refused with its own message,
 * regexes are RE2 (refused when RE2 cannot compile them, linear on pathological input), the JSON
 * Schema subset refuses what it does not implement, the threshold maths, the baseline
 * (sameAsPrevious) behaviour, and the deploy request / autodeploy target carrying a gate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DISPLAY_LIMITS,
  GATE_LIMITS,
  Gate,
  describeGateLines,
  effectiveGate,
  evaluateGate,
  parseGate,
  promptKey,
  truncateForDisplay,
  type GateAnswer,
  type GateInput,
} from '../../../shared/domain/gate.ts';
import { checkSchemaSubset, validateAgainstSchema } from '../../../shared/domain/gate-json-schema.ts';
import { parseDeployRequest } from '../../../shared/domain/deploy-request.ts';
import { AutodeployTarget } from '../../../shared/domain/version.ts';

const completion = (over: Record<string, unknown> = {}) => ({ prompt: 'The capital of France is', maxTokens: 8, expect: { contains: 'Paris' }, ...over });
const chat = (over: Record<string, unknown> = {}) => ({
  messages: [
    { role: 'system', content: 'Answer with one word.' },
    { role: 'user', content: 'Capital of France?' },
  ],
  maxTokens: 4,
  sameAsPrevious: true,
  ...over,
});

function ok(input: unknown): Gate {
  const r = parseGate(input);
  if (!r.ok) assert.fail(`expected the gate to parse: ${JSON.stringify(r.issues)}`);
  return r.gate;
}
/** The gate is refused, with an issue at `path` whose message matches `message`. */
function refused(input: unknown, path: string, message: RegExp): void {
  const r = parseGate(input);
  assert.equal(r.ok, false, `expected the gate to be refused at ${path}`);
  if (r.ok) return;
  assert.ok(
    r.issues.some((i) => i.path === path && message.test(i.message)),
    `expected an issue at ${path} matching ${message}; got ${JSON.stringify(r.issues)}`,
  );
}
const gate = (...prompts: unknown[]) => ({ prompts });
const answer = (name: string, text: string | null, over: Partial<GateAnswer> = {}): GateAnswer => ({ name, text, latencyMs: 12, ...over });

test('a gate parses with its defaults: names p1…, temperature 0, seed 0, passThreshold 1, timeout 180 s', () => {
  const g = ok(gate(completion(), chat(), completion({ name: 'custom' })));
  assert.deepEqual(
    g.prompts.map((p) => p.name),
    ['p1', 'p2', 'custom'],
  );
  assert.equal(g.prompts[0]!.temperature, 0);
  assert.equal(g.prompts[0]!.seed, 0);
  assert.equal(g.passThreshold, 1);
  assert.equal(g.timeoutSeconds, GATE_LIMITS.defaultTimeoutSeconds);
  // A parsed gate parses again to itself (it is stored, and sent inside deploy requests).
  assert.deepEqual(ok(g), g);
});

test('the shape: unknown keys, no prompts, too many prompts, a bad threshold or timeout are refused', () => {
  refused({ ...gate(completion()), retries: 3 }, '(root)', /Unrecognized key: "retries"/);
  refused(gate(completion({ topP: 1 })), 'prompts.0', /Unrecognized key: "topP"/);
  refused(gate(completion({ expect: { contains: 'x', startsWith: 'y' } })), 'prompts.0.expect', /Unrecognized key: "startsWith"/);
  refused(gate(chat({ messages: [{ role: 'user', content: 'x', name: 'bob' }] })), 'prompts.0.messages.0', /Unrecognized key: "name"/);
  refused(gate(), 'prompts', /at least one prompt/);
  refused(gate(...Array.from({ length: GATE_LIMITS.maxPrompts + 1 }, () => completion())), 'prompts', /at most 16 prompts/);
  ok(gate(...Array.from({ length: GATE_LIMITS.maxPrompts }, (_, i) => completion({ name: `q${i}` }))));
  refused({ ...gate(completion()), passThreshold: 0 }, 'passThreshold', /above 0/);
  refused({ ...gate(completion()), passThreshold: 1.5 }, 'passThreshold', /at most 1/);
  refused({ ...gate(completion()), timeoutSeconds: 5 }, 'timeoutSeconds', />=10/);
  refused({ ...gate(completion()), timeoutSeconds: 901 }, 'timeoutSeconds', /<=900/);
  refused({ ...gate(completion()), timeoutSeconds: 30.5 }, 'timeoutSeconds', /expected int/);
  refused('not a gate', '(root)', /expected object/);
});

test('a prompt: exactly one form, a deterministic request, maxTokens within the cap, a valid unique name', () => {
  refused(gate({ maxTokens: 4, sameAsPrevious: true }), 'prompts.0', /needs `prompt` \(completion form\) or `messages` \(chat form\)/);
  refused(gate(completion({ messages: [{ role: 'user', content: 'x' }] })), 'prompts.0', /either `prompt` .* or `messages` .*, not both/);
  refused(gate(completion({ temperature: 0.7 })), 'prompts.0.temperature', /temperature must be 0: a gate must be deterministic/);
  ok(gate(completion({ temperature: 0 })));
  refused(gate(completion({ maxTokens: 0 })), 'prompts.0.maxTokens', />=1/);
  refused(gate(completion({ maxTokens: GATE_LIMITS.maxTokens + 1 })), 'prompts.0.maxTokens', /<=512/);
  refused(gate(completion({ maxTokens: undefined })), 'prompts.0.maxTokens', /expected number/);
  refused(gate(completion({ seed: -1 })), 'prompts.0.seed', />=0/);
  refused(gate(completion({ name: 'has space' })), 'prompts.0.name', /prompt names are 1-63 chars/);
  refused(gate(completion({ name: 'a' }), completion({ name: 'a' })), 'prompts.1.name', /"a" is already used by prompt 1/);
  // The default name counts too: an explicit "p1" on the second prompt collides with the first's default.
  refused(gate(completion(), completion({ name: 'p1' })), 'prompts.1.name', /"p1" is already used by prompt 1/);
  refused(gate(chat({ messages: [] })), 'prompts.0.messages', /at least one message/);
  refused(gate(chat({ messages: [{ role: 'tool', content: 'x' }] })), 'prompts.0.messages.0.role', /system|user|assistant/);
  refused(gate(completion({ prompt: '' })), 'prompts.0.prompt', /prompt is empty/);
});

test('a prompt that checks nothing is refused', () => {
  refused(gate(completion({ expect: undefined })), 'prompts.0', /checks nothing: give it `expect` .* or `sameAsPrevious: true`/);
  refused(gate(completion({ expect: undefined, sameAsPrevious: false })), 'prompts.0', /checks nothing/);
  refused(gate(completion({ expect: {} })), 'prompts.0.expect', /expect is empty/);
  ok(gate(completion({ expect: undefined, sameAsPrevious: true })));
});

test('the caps: prompt and message sizes, all prompts together, expected texts, contains lists, the whole gate', () => {
  const big = (n: number) => 'x'.repeat(n);
  refused(gate(completion({ prompt: big(GATE_LIMITS.maxPromptBytes + 1) })), 'prompts.0.prompt', /8193 bytes; the limit is 8 KiB/);
  ok(gate(completion({ prompt: big(GATE_LIMITS.maxPromptBytes) })));
  // Bytes, not characters: 3000 × "€" is 9000 bytes of UTF-8.
  refused(gate(completion({ prompt: '€'.repeat(3000) })), 'prompts.0.prompt', /9000 bytes/);
  refused(gate(chat({ messages: [{ role: 'user', content: big(GATE_LIMITS.maxPromptBytes + 1) }] })), 'prompts.0.messages.0.content', /the limit is 8 KiB/);
  const fiveBig = Array.from({ length: 5 }, (_, i) => completion({ name: `b${i}`, prompt: big(7 * 1024) }));
  refused(gate(...fiveBig), 'prompts', /35840 bytes of text together; the limit is 32 KiB/);
  refused(gate(completion({ expect: { equals: big(GATE_LIMITS.maxExpectedBytes + 1) } })), 'prompts.0.expect.equals', /longer than 8 KiB/);
  refused(gate(completion({ expect: { contains: big(GATE_LIMITS.maxExpectedBytes + 1) } })), 'prompts.0.expect.contains', /the limit is 8 KiB/);
  refused(gate(completion({ expect: { contains: [] } })), 'prompts.0.expect.contains', /at least one string/);
  refused(gate(completion({ expect: { contains: ['ok', ''] } })), 'prompts.0.expect.contains.1', /contains is empty/);
  refused(gate(completion({ expect: { contains: 3 } })), 'prompts.0.expect.contains', /a string or a list of 1-16 strings/);
  refused(
    gate(completion({ expect: { contains: Array.from({ length: GATE_LIMITS.maxContains + 1 }, () => 'a') } })),
    'prompts.0.expect.contains',
    /at most 16 strings/,
  );
  refused(gate(completion({ expect: { regex: `a${big(GATE_LIMITS.maxRegexBytes)}` } })), 'prompts.0.expect.regex', /longer than 1 KiB/);
  refused(
    gate(completion({ expect: { jsonSchema: { enum: Array.from({ length: 2000 }, (_, i) => `value-${i}`) } } })),
    'prompts.0.expect.jsonSchema',
    /bytes serialized; the limit is 16 KiB/,
  );
  // Under every per-field cap, over the whole-gate cap (it travels in a 64 KiB deploy request).
  const expects = Array.from({ length: 8 }, (_, i) => completion({ name: `e${i}`, expect: { equals: big(7000) } }));
  refused(gate(...expects), '(root)', /the gate is \d+ bytes serialized; the limit is 48 KiB/);
});

test('regex: RE2 syntax only, refused at parse time with RE2 message; linear on a pathological pattern', () => {
  refused(gate(completion({ expect: { regex: '(?<=a)b' } })), 'prompts.0.expect.regex', /does not compile under RE2 syntax .*invalid named capture/);
  refused(gate(completion({ expect: { regex: '(a)\\1' } })), 'prompts.0.expect.regex', /RE2 syntax.*invalid escape sequence/);
  refused(gate(completion({ expect: { regex: 'foo(?!bar)' } })), 'prompts.0.expect.regex', /RE2 syntax/);
  refused(gate(completion({ expect: { regex: '[' } })), 'prompts.0.expect.regex', /missing closing \]/);
  refused(gate(completion({ expect: { regex: '(a{1000}){1000}' } })), 'prompts.0.expect.regex', /invalid repeat count/);
  refused(gate(completion({ expect: { regex: '' } })), 'prompts.0.expect.regex', /regex is empty/);
  const g = ok(gate(completion({ expect: { regex: '(a+)+$' } })));
  // (a+)+$ on "aaaa…ab" takes exponential time in a backtracking engine; RE2 is linear. It returns.
  const evil = evaluateGate(g, [answer('p1', `${'a'.repeat(50_000)}b`)], null);
  assert.equal(evil.results[0]!.passed, false);
  assert.deepEqual(evil.results[0]!.failures, ['expected to match /(a+)+$/']);
  assert.equal(evaluateGate(g, [answer('p1', 'aaa')], null).passed, true);
  const ci = ok({ prompts: [{ name: 'ci', prompt: 'x', maxTokens: 1, expect: { regex: '(?i)^\\s*paris\\b' } }] });
  assert.equal(evaluateGate(ci, [answer('ci', ' PARIS, France')], null).passed, true);
  assert.equal(evaluateGate(ci, [answer('ci', 'It is Paris')], null).passed, false);
});

test('jsonSchema: the subset is accepted, every other keyword refused by name, and what Firestore cannot store', () => {
  ok(
    gate(
      completion({
        expect: {
          jsonSchema: {
            $schema: 'https://json-schema.org/draft/2020-12/schema',
            title: 'city',
            type: 'object',
            properties: {
              city: { type: 'string', minLength: 1, maxLength: 40, enum: ['Paris', 'Lyon'] },
              population: { type: ['integer', 'null'], minimum: 0, maximum: 1e9 },
              tags: { type: 'array', items: { type: 'string' }, minItems: 0, maxItems: 5 },
              kind: { const: 'capital' },
            },
            required: ['city'],
            additionalProperties: false,
          },
        },
      }),
    ),
  );
  const schema = (s: unknown) => gate(completion({ expect: { jsonSchema: s } }));
  refused(schema({ type: 'string', pattern: '^a' }), 'prompts.0.expect.jsonSchema', /keyword "pattern" is not supported/);
  refused(schema({ oneOf: [{ type: 'string' }] }), 'prompts.0.expect.jsonSchema', /keyword "oneOf" is not supported/);
  refused(schema({ properties: { a: { $ref: '#/x' } } }), 'prompts.0.expect.jsonSchema.properties.a', /keyword "\$ref" is not supported/);
  refused(schema({ items: { format: 'email' } }), 'prompts.0.expect.jsonSchema.items', /keyword "format" is not supported/);
  refused(schema({ type: 'float' }), 'prompts.0.expect.jsonSchema.type', /type is one of object, array/);
  refused(schema({ type: [] }), 'prompts.0.expect.jsonSchema.type', /non-empty list/);
  refused(schema({ required: 'a' }), 'prompts.0.expect.jsonSchema.required', /list of distinct property names/);
  refused(schema({ items: [{ type: 'string' }] }), 'prompts.0.expect.jsonSchema.items', /tuple forms are not supported/);
  refused(schema({ minLength: -1 }), 'prompts.0.expect.jsonSchema.minLength', /non-negative integer/);
  refused(schema({ maximum: 'ten' }), 'prompts.0.expect.jsonSchema.maximum', /is a number/);
  refused(schema({ enum: [] }), 'prompts.0.expect.jsonSchema.enum', /non-empty list/);
  refused(schema({ additionalProperties: 3 }), 'prompts.0.expect.jsonSchema.additionalProperties', /a schema is an object/);
  // Stored in Firestore inside the rollout's request: no list in a list, bounded nesting, storable field names.
  refused(schema({ enum: [[1, 2]] }), 'prompts.0.expect.jsonSchema.enum[0]', /a list directly inside a list cannot be stored/);
  let deep: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < 6; i++) deep = { type: 'object', properties: { a: deep } };
  refused(schema(deep), 'prompts.0.expect.jsonSchema.properties.a.properties.a.properties.a.properties.a.properties.a', /at most 10 levels deep/);
  refused(schema({ properties: { __name__: { type: 'string' } } }), 'prompts.0.expect.jsonSchema.properties', /field name "__name__" cannot be stored/);
  // A schema nested thousands deep (a 64 KiB JSON text can be) is refused, not a stack overflow.
  const abyss = JSON.parse(`${'{"items":'.repeat(5000)}{}${'}'.repeat(5000)}`) as unknown;
  refused(schema(abyss), 'prompts.0.expect.jsonSchema.items.items.items.items.items.items.items.items.items.items', /at most 10 levels deep/);
  assert.deepEqual(checkSchemaSubset(true), []);
});

test('validateAgainstSchema: each keyword of the subset', () => {
  const s = {
    type: 'object',
    properties: {
      city: { type: 'string', minLength: 2, maxLength: 5 },
      n: { type: 'integer', minimum: 1, maximum: 3 },
      tags: { type: 'array', items: { enum: ['a', 'b'] }, minItems: 1, maxItems: 2 },
      kind: { const: { x: [1, 2] } },
    },
    required: ['city'],
    additionalProperties: false,
  };
  assert.deepEqual(validateAgainstSchema({ city: 'Paris', n: 2, tags: ['a'], kind: { x: [1, 2] } }, s), []);
  assert.deepEqual(validateAgainstSchema({ n: 2 }, s), ['(root): property "city" is missing']);
  assert.deepEqual(validateAgainstSchema({ city: 'P' }, s), ['city: shorter than 2 characters']);
  assert.deepEqual(validateAgainstSchema({ city: 'Parisss' }, s), ['city: longer than 5 characters']);
  // Characters are code points: "€€" is 2, not 6 bytes.
  assert.deepEqual(validateAgainstSchema({ city: '€€' }, s), []);
  assert.deepEqual(validateAgainstSchema({ city: 'Pa', n: 1.5 }, s), ['n: expected integer, got number']);
  assert.deepEqual(validateAgainstSchema({ city: 'Pa', n: 4 }, s), ['n: above the maximum 3']);
  assert.deepEqual(validateAgainstSchema({ city: 'Pa', n: 0 }, s), ['n: below the minimum 1']);
  assert.deepEqual(validateAgainstSchema({ city: 'Pa', tags: [] }, s), ['tags: fewer than 1 items']);
  assert.deepEqual(validateAgainstSchema({ city: 'Pa', tags: ['a', 'b', 'a'] }, s), ['tags: more than 2 items']);
  assert.deepEqual(validateAgainstSchema({ city: 'Pa', tags: ['c'] }, s), ['tags[0]: expected one of "a", "b"']);
  assert.deepEqual(validateAgainstSchema({ city: 'Pa', kind: { x: [2, 1] } }, s), ['kind: expected {"x":[1,2]}']);
  assert.deepEqual(validateAgainstSchema({ city: 'Pa', extra: 1 }, s), ['(root): property "extra" is not allowed']);
  assert.deepEqual(validateAgainstSchema([1], s), ['(root): expected object, got array']);
  assert.deepEqual(validateAgainstSchema({ a: 'x' }, { additionalProperties: { type: 'number' } }), ['a: expected number, got string']);
  assert.deepEqual(validateAgainstSchema(null, { type: ['string', 'null'] }), []);
  assert.deepEqual(validateAgainstSchema(1, false), ['(root): no value is allowed here']);
});

test('evaluateGate: each expectation fails with a specific message', () => {
  const g = ok(
    gate(
      { name: 'eq', prompt: 'a', maxTokens: 4, expect: { equals: 'Paris' } },
      { name: 'has', prompt: 'b', maxTokens: 4, expect: { contains: ['Paris', 'France'] } },
      { name: 'json', prompt: 'c', maxTokens: 64, expect: { jsonSchema: { type: 'object', required: ['city'] } } },
      { name: 'notjson', prompt: 'd', maxTokens: 64, expect: { jsonSchema: { type: 'object' } } },
    ),
  );
  const v = evaluateGate(
    g,
    [answer('eq', 'Paris!'), answer('has', 'Paris is nice'), answer('json', '{"town":"Paris"}'), answer('notjson', 'Sure! {"a":1}')],
    null,
  );
  const failures = Object.fromEntries(v.results.map((r) => [r.name, r.failures]));
  assert.deepEqual(failures['eq'], ['expected to equal "Paris" (differs at char 6)']);
  assert.deepEqual(failures['has'], ['expected to contain "France"']);
  assert.deepEqual(failures['json'], ['JSON does not match the schema: (root): property "city" is missing']);
  assert.equal(failures['notjson']!.length, 1);
  assert.match(failures['notjson']![0]!, /^expected JSON: /);
  assert.equal(v.passed, false);
  assert.equal(v.passedCount, 0);
  const good = evaluateGate(g, [answer('eq', 'Paris'), answer('has', 'Paris, France'), answer('json', ' {"city":"Paris"}\n'), answer('notjson', '{}')], null);
  assert.equal(good.passed, true);
  assert.ok(good.results.every((r) => r.failures.length === 0 && r.passed));
  assert.equal(good.results[0]!.expected, 'equals "Paris"');
  assert.equal(good.results[1]!.expected, 'contains "Paris", "France"');
});

test('evaluateGate: a missing answer or a null one always fails its prompt, naming why', () => {
  const g = ok(gate(completion({ name: 'a' }), completion({ name: 'b', expect: undefined, sameAsPrevious: true }), completion({ name: 'c' })));
  const v = evaluateGate(g, [answer('b', null, { error: 'connection refused by 10.0.0.7:8000', pod: 'llama-abc' }), answer('zzz', 'Paris')], null);
  assert.deepEqual(
    v.results.map((r) => [r.name, r.passed, r.actual, r.failures]),
    [
      ['a', false, null, ['no answer: the prompt was not sent']],
      ['b', false, null, ['no answer: connection refused by 10.0.0.7:8000']],
      ['c', false, null, ['no answer: the prompt was not sent']],
    ],
  );
  assert.equal(v.results[1]!.pod, 'llama-abc');
  // sameAsPrevious with nothing recorded is skipped, but a missing answer still fails.
  assert.equal(v.results[1]!.baseline, 'none');
  assert.equal(v.passed, false);
  assert.deepEqual(v.answers, {});
  // The first answer with a name counts.
  const first = evaluateGate(g, [answer('a', 'Paris'), answer('a', 'London'), answer('b', 'x'), answer('c', 'Paris')], null);
  assert.equal(first.passed, true);
});

test('threshold maths: ceil(passThreshold × prompts) must pass', () => {
  const three = (t: number) => ok({ ...gate(completion({ name: 'a' }), completion({ name: 'b' }), completion({ name: 'c' })), passThreshold: t });
  const run = (t: number, passing: number) =>
    evaluateGate(
      three(t),
      ['a', 'b', 'c'].map((n, i) => answer(n, i < passing ? 'Paris' : 'Rome')),
      null,
    );
  assert.deepEqual([run(1, 3).passed, run(1, 2).passed], [true, false]);
  assert.equal(run(1, 3).required, 3);
  // 0.5 × 3 = 1.5 → 2 must pass.
  assert.deepEqual([run(0.5, 2).passed, run(0.5, 1).passed, run(0.5, 1).required], [true, false, 2]);
  // 2/3 of 3 is 2 (not 3 by a rounding error).
  assert.deepEqual([run(2 / 3, 2).passed, run(2 / 3, 2).required], [true, 2]);
  // A tiny threshold still needs one prompt.
  assert.deepEqual([run(0.01, 0).passed, run(0.01, 1).passed, run(0.01, 0).required], [false, true, 1]);
  // 0.1 × 16 = 1.6 → 2 of 16.
  const sixteen = ok({ prompts: Array.from({ length: 16 }, (_, i) => completion({ name: `q${i}` })), passThreshold: 0.1 });
  assert.equal(evaluateGate(sixteen, [], null).required, 2);
  const v = run(0.5, 2);
  assert.deepEqual([v.passedCount, v.total, v.threshold], [2, 3, 0.5]);
});

test('baseline: sameAsPrevious compares with the previous good answer for the same promptKey, else records one', () => {
  const g = ok(gate(chat({ name: 'same' }), completion({ name: 'both', sameAsPrevious: true })));
  const [same, both] = g.prompts;
  // No previous answers: the check is skipped (baseline none, no failure), the rest applies.
  const first = evaluateGate(g, [answer('same', 'Paris'), answer('both', ' Rome')], null);
  assert.equal(first.results[0]!.passed, true);
  assert.equal(first.results[0]!.baseline, 'none');
  assert.equal(first.results[0]!.expected, 'no previous answer recorded: this answer becomes the baseline');
  assert.deepEqual(first.results[1]!.failures, ['expected to contain "Paris"']);
  assert.equal(first.passed, false);
  // What to record: the answers of the prompts that passed.
  assert.deepEqual(first.answers, { [promptKey(same!)]: 'Paris' });

  const previous = { [promptKey(same!)]: 'Paris', [promptKey(both!)]: ' Paris.' };
  const equal = evaluateGate(g, [answer('same', 'Paris'), answer('both', ' Paris.')], previous);
  assert.equal(equal.passed, true);
  assert.deepEqual(
    equal.results.map((r) => r.baseline),
    ['compared', 'compared'],
  );
  assert.equal(equal.results[0]!.expected, 'the same answer as the previous good version');
  const changed = evaluateGate(g, [answer('same', 'Parjs'), answer('both', ' Paris!')], previous);
  assert.deepEqual(changed.results[0]!.failures, ['differs from the previous good version at char 4 (it answered "Paris")']);
  assert.deepEqual(changed.results[1]!.failures, ['differs from the previous good version at char 7 (it answered " Paris.")']);
  // A failed prompt keeps the previous good answer as its baseline (never a bad one).
  assert.deepEqual(changed.answers, previous);
  // A shorter answer differs where it ends.
  assert.deepEqual(evaluateGate(g, [answer('same', 'Par'), answer('both', ' Paris.')], previous).results[0]!.failures, [
    'differs from the previous good version at char 4 (it answered "Paris")',
  ]);
});

test('promptKey: changes with what is asked (form, text, maxTokens, seed), not with the name or the expectations', () => {
  const [a, b] = ok(gate(completion({ name: 'x' }), completion({ name: 'y', expect: { equals: 'Paris' } }))).prompts;
  assert.equal(promptKey(a!), promptKey(b!));
  assert.match(promptKey(a!), /^[0-9a-f]{32}$/);
  const key = (over: Record<string, unknown>) => promptKey(ok(gate(completion(over))).prompts[0]!);
  const base = key({});
  assert.notEqual(key({ prompt: 'The capital of Italy is' }), base);
  assert.notEqual(key({ maxTokens: 9 }), base);
  assert.notEqual(key({ seed: 1 }), base);
  const c = (content: string, role = 'user') => promptKey(ok(gate(chat({ messages: [{ role, content }] }))).prompts[0]!);
  assert.notEqual(c('x'), c('x', 'system'));
  assert.notEqual(c('x'), c('y'));
  // Completion "x" and a chat whose one message is "x" ask different things.
  assert.notEqual(promptKey(ok(gate(completion({ prompt: 'x', maxTokens: 4, seed: 0 }))).prompts[0]!), c('x'));
});

test('answers are cut to maxAnswerChars before checks; results carry truncated text for display', () => {
  const g = ok(gate(completion({ expect: { regex: 'END' } })));
  const long = `${'y'.repeat(GATE_LIMITS.maxAnswerChars)}END`;
  const v = evaluateGate(g, [answer('p1', long)], null);
  assert.deepEqual(v.results[0]!.failures, ['expected to match /END/']);
  assert.equal([...v.results[0]!.actual!].length, DISPLAY_LIMITS.actual);
  assert.ok(v.results[0]!.actual!.endsWith('…'));
  const withAnswer = evaluateGate(ok(gate(completion({ expect: undefined, sameAsPrevious: true }))), [answer('p1', long)], null);
  assert.equal(Object.values(withAnswer.answers)[0]!.length, GATE_LIMITS.maxAnswerChars);
});

test('truncateForDisplay', () => {
  assert.equal(truncateForDisplay('Paris', 10), 'Paris');
  assert.equal(truncateForDisplay('Paris', 5), 'Paris');
  assert.equal(truncateForDisplay('Paris!', 5), 'Pari…');
  assert.equal(truncateForDisplay('😀😀😀', 2), '😀…');
  assert.equal(truncateForDisplay('abc', 0), '');
});

test('effectiveGate: the request’s own gate, else the model’s default, else none', () => {
  const a = ok(gate(completion({ name: 'a' })));
  const b = ok(gate(completion({ name: 'b' })));
  assert.deepEqual(effectiveGate(a, b), { gate: a, source: 'request' });
  assert.deepEqual(effectiveGate(undefined, b), { gate: b, source: 'model' });
  assert.equal(effectiveGate(undefined, null), null);
});

test('describeGateLines: the gate for people', () => {
  const lines = describeGateLines(ok({ ...gate(completion(), chat()), passThreshold: 0.5 }));
  assert.equal(lines[0], '2 prompts; 1 of 2 must pass (passThreshold 0.5); timeout 180 s');
  assert.equal(lines[1], '  p1  (completion, maxTokens 8, seed 0)');
  assert.equal(lines[2], '      asks    "The capital of France is"');
  assert.equal(lines[3], '      expects contains "Paris"');
  assert.equal(lines[4], '  p2  (chat, 2 messages, maxTokens 4, seed 0)');
  assert.equal(lines[5], '      asks    "user: Capital of France?"');
  assert.equal(lines[6], '      expects the same answer as the previous good version');
});

test('deploy requests and autodeploy targets carry a gate; a bad gate alone is INVALID_GATE, with the other problems SCHEMA', () => {
  const request = (over: Record<string, unknown>) =>
    JSON.stringify({
      apiVersion: 'ferry/v1',
      model: 'm',
      version: 'v1',
      target: { cluster: 'local', namespace: 'default', name: 'llama' },
      requestedBy: { source: 'cli', principal: 'alice' },
      ...over,
    });
  const good = parseDeployRequest(request({ gate: { prompts: [completion()] } satisfies GateInput }));
  assert.ok(good.ok);
  assert.equal(good.ok && good.request.gate?.prompts[0]!.name, 'p1');
  const bad = parseDeployRequest(request({ gate: gate(completion({ temperature: 1, expect: { regex: '(?=x)' } })) }));
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.reason, 'INVALID_GATE');
    assert.match(bad.message, /^invalid gate in the deploy request: gate\.prompts\.0\.temperature: temperature must be 0/);
    assert.deepEqual(
      bad.issues?.map((i) => i.path),
      ['gate.prompts.0.temperature', 'gate.prompts.0.expect.regex'],
    );
  }
  const both = parseDeployRequest(request({ replicas: -1, gate: gate(completion({ temperature: 1 })) }));
  assert.equal(!both.ok && both.reason, 'SCHEMA');
  const target = AutodeployTarget.safeParse({ cluster: 'local', namespace: 'default', name: 'llama', gate: gate(completion()) });
  assert.ok(target.success);
  assert.equal(target.data.gate?.timeoutSeconds, 180);
  assert.equal(AutodeployTarget.safeParse({ cluster: 'local', namespace: 'default', name: 'llama', gate: gate() }).success, false);
});

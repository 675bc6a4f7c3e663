/**
 * `ferry gate` without a backend: a bad gate file is refused with every problem named before any
 * backend is asked; `--dry-run` checks and prints a good one (text and JSON, from a file or stdin);
 * usage errors; `--help` and the command list name it; the committed gate schema is the generated
 * one, and docs/gate.md's example is a gate ferry and the schema accept. (Storing, showing and
 * clearing run against the Firestore emulator in test/integration/gate.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { main } from '../../../shared/cli/main.ts';
import { gateJsonSchema } from '../../../shared/cli/commands/schema.ts';
import { parseGate } from '../../../shared/domain/gate.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const COMMITTED = join(ROOT, 'schemas', 'gate.schema.json');

async function ferry(args: string[], stdin?: string) {
  let out = '';
  let err = '';
  const code = await main(args, {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    env: {},
    ...(stdin !== undefined ? { readStdin: async () => stdin } : {}),
  });
  return { code, out, err };
}

const GOOD = {
  prompts: [
    { name: 'capital', prompt: 'The capital of France is', maxTokens: 8, expect: { contains: 'Paris' } },
    { messages: [{ role: 'user', content: 'Say hi' }], maxTokens: 8, sameAsPrevious: true },
  ],
  passThreshold: 1,
};

function file(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-gate-'));
  const f = join(dir, 'gate.json');
  writeFileSync(f, content);
  return f;
}

test('gate set: an invalid gate is refused with each problem named (INVALID_GATE), before any backend is asked', async () => {
  const f = file(
    JSON.stringify({
      prompts: [
        { prompt: 'x', maxTokens: 8, temperature: 0.8, expect: { regex: '(?<=x)y' } },
        { prompt: 'y', maxTokens: 8 },
      ],
      extra: true,
    }),
  );
  const r = await ferry(['gate', 'set', 'my-model', '-f', f]);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /is not a valid gate \(INVALID_GATE, 4 problems\)/);
  assert.match(r.err, /prompts\.0\.temperature: temperature must be 0/);
  assert.match(r.err, /prompts\.0\.expect\.regex: regex does not compile under RE2 syntax/);
  assert.match(r.err, /prompts\.1: this prompt checks nothing/);
  assert.match(r.err, /\(root\): Unrecognized key: "extra"/);
  assert.match(r.err, /docs\/gate\.md/);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  const notJson = await ferry(['gate', 'set', 'my-model', '-f', file('{"prompts": [')]);
  assert.equal(notJson.code, 1);
  assert.match(notJson.err, /is not JSON/);
  const missing = await ferry(['gate', 'set', 'my-model', '-f', join(tmpdir(), 'no-such-dir-ferry', 'gate.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read .*: no such file/);
  const huge = await ferry(['gate', 'set', 'my-model', '-f', file(' '.repeat(70_000))]);
  assert.equal(huge.code, 1);
  assert.match(huge.err, /a gate file is at most 65536/);
});

test('gate set --dry-run: a valid gate is checked and printed, nothing stored (no backend needed); -f - reads stdin', async () => {
  const r = await ferry(['gate', 'set', 'my-model', '-f', file(JSON.stringify(GOOD)), '--dry-run']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /is a valid gate; nothing stored \(dry run\)/);
  assert.match(r.out, /2 prompts; all must pass; timeout 180 s/);
  assert.match(r.out, / {2}capital {2}\(completion, maxTokens 8, seed 0\)/);
  assert.match(r.out, /expects contains "Paris"/);
  assert.match(r.out, / {2}p2 {2}\(chat, 1 message, maxTokens 8, seed 0\)/);
  assert.match(r.out, /expects the same answer as the previous good version/);
  const json = await ferry(['gate', 'set', 'my-model', '-f', '-', '--dry-run', '--json'], JSON.stringify(GOOD));
  assert.equal(json.code, 0, json.err);
  const printed = JSON.parse(json.out) as { model: string; dryRun: boolean; gate: unknown };
  assert.equal(printed.model, 'my-model');
  assert.equal(printed.dryRun, true);
  const parsed = parseGate(GOOD);
  assert.ok(parsed.ok);
  assert.deepEqual(printed.gate, parsed.gate);
  const noStdin = await ferry(['gate', 'set', 'my-model', '-f', '-', '--dry-run']);
  assert.equal(noStdin.code, 2);
  assert.match(noStdin.err, /no standard input/);
});

test('autodeploy --gate: the gate file is checked before any backend is asked; not with --list or --remove', async () => {
  const target = ['--cluster', 'local', '--namespace', 'ns', '--name', 'd'];
  const bad = await ferry(['autodeploy', 'my-model', ...target, '--gate', '-'], JSON.stringify({ prompts: [{ prompt: 'x', maxTokens: 4 }] }));
  assert.equal(bad.code, 1, bad.err);
  assert.match(bad.err, /^ferry autodeploy: - is not a valid gate \(INVALID_GATE, 1 problem\):\n {2}prompts\.0: this prompt checks nothing/);
  const missing = await ferry(['autodeploy', 'my-model', ...target, '--gate', join(tmpdir(), 'no-such-dir-ferry', 'g.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /ferry autodeploy: cannot read .*: no such file/);
  const list = await ferry(['autodeploy', 'my-model', '--list', '--gate', 'g.json']);
  assert.equal(list.code, 2);
  assert.match(list.err, /--gate goes with setting a target/);
});

test('gate: usage errors', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['gate', 'set', 'my-model'], /set needs the gate: -f gate\.json/],
    [['gate', 'show', 'my-model', '-f', 'x.json'], /-f is for set, not show/],
    [['gate', 'clear', 'my-model', '--dry-run'], /--dry-run is for set, not clear/],
    [['gate', 'sho', 'my-model'], /did you mean show\?/],
    [['gate', 'show', 'bad/model'], /model names are/],
    [['gate', 'show'], /./],
  ];
  for (const [args, message] of cases) {
    const r = await ferry(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message, args.join(' '));
  }
});

test('`ferry --help` lists gate, and `ferry gate --help` shows its subcommands and flags', async () => {
  const list = await ferry(['--help']);
  assert.equal(list.code, 0);
  assert.match(list.out, /^ {2}gate {8}show, set or clear a model's default promotion gate/m);
  const help = await ferry(['gate', '--help']);
  assert.equal(help.code, 0);
  for (const s of ['ferry gate show <model>', 'ferry gate set <model> -f FILE', 'ferry gate clear <model>', '--dry-run', '-f, --filename FILE'])
    assert.ok(help.out.includes(s), s);
});

test('the committed gate schema is the generated one, and docs/gate.md’s example passes ferry and the schema (regenerate: npx ferry schema gate > schemas/gate.schema.json)', async () => {
  const r = await ferry(['schema', 'gate']);
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(COMMITTED, 'utf8'), r.out);
  const validate = new Ajv2020({ strict: false }).compile(gateJsonSchema());
  const doc = readFileSync(join(ROOT, 'docs', 'gate.md'), 'utf8');
  const example = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(doc)![1]!) as unknown;
  const parsed = parseGate(example);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  assert.ok(validate(example), JSON.stringify(validate.errors));
  assert.ok(validate(GOOD), JSON.stringify(validate.errors));
  assert.equal(validate({ prompts: [] }), false);
  assert.equal(validate({ prompts: [{ prompt: 'x', maxTokens: 8, temperature: 1, sameAsPrevious: true }] }), false);
});

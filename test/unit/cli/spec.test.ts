/** The command specs and what derives from them: the parser, help, did-you-mean and completion. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SPECS, specOf } from '../../../shared/cli/specs.ts';
import { allFlags, bashCompletion, editDistance, helpText, parseArgv, suggest, zshCompletion } from '../../../shared/cli/spec.ts';
import { COMMANDS, main } from '../../../shared/cli/main.ts';

async function ferry(...args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: {} });
  return { code, out, err };
}

test('every spec has help with every flag and its default, its exit codes and at least two examples', () => {
  for (const spec of SPECS) {
    const help = helpText(spec);
    assert.ok(spec.examples.length >= 2, spec.name);
    assert.ok(spec.exitCodes.length >= 2, spec.name);
    for (const f of allFlags(spec)) {
      assert.ok(help.includes(`--${f.name}`), `${spec.name} --${f.name}`);
      if (f.name !== 'help') assert.ok(f.default !== undefined || f.defaultText !== undefined, `${spec.name} --${f.name} documents its default`);
    }
    for (const [code] of spec.exitCodes) assert.match(help, new RegExp(`\\n  ${code}  `), spec.name);
    for (const e of spec.examples) assert.ok(help.includes(e.command), spec.name);
    assert.ok(COMMANDS[spec.name], `${spec.name} is dispatched`);
  }
  assert.deepEqual(Object.keys(COMMANDS).sort(), SPECS.map((s) => s.name).sort());
});

test('`ferry <cmd> --help` and `ferry help <cmd>` print the same help, with exit 0', async () => {
  const a = await ferry('deploy', '--help');
  const b = await ferry('help', 'deploy');
  assert.equal(a.code, 0);
  assert.equal(b.code, 0);
  assert.equal(a.out, b.out);
  assert.match(a.out, /--replicas N +pods serving the model \(ignored with autoscaling\) \(default: 1\)/);
  assert.match(a.out, /--tp N +tensor-parallel size/);
  assert.match(a.out, /Exit codes:\n {2}0 {2}published/);
  assert.match(a.out, /Examples:\n {2}# /);
  const v = await ferry('help', 'validate');
  assert.match(v.out, /Exit codes:\n {2}0 {2}valid \(warnings allowed\)\n {2}1 {2}invalid\n {2}2 {2}usage error/);
});

test('unknown commands, flags and values get "did you mean", exit 2 and no stack trace', async () => {
  const cmd = await ferry('depoly');
  assert.equal(cmd.code, 2);
  assert.match(cmd.err, /unknown command "depoly" \(did you mean deploy\?\)/);
  const flag = await ferry('deploy', 'm@v1', '--replicsa', '2');
  assert.equal(flag.code, 2);
  assert.match(flag.err, /^ferry deploy: unknown flag --replicsa \(did you mean --replicas\?\)\nUsage: ferry deploy /);
  const value = await ferry('plan', 'm@v1', '--family', 'gpus');
  assert.match(value.err, /--family: "gpus" is not one of gpu, tpu \(did you mean gpu\?\)/);
  const help = await ferry('help', 'stauts');
  assert.equal(help.code, 2);
  assert.match(help.err, /did you mean status\?/);
  for (const r of [cmd, flag, value, help]) assert.doesNotMatch(r.err, /^\s+at /m);
});

test('bad flag values are one line and exit 2', async () => {
  for (const [args, message] of [
    [['deploy', 'm@v', '--replicas', 'two'], /--replicas needs an integer, got "two"/],
    [['deploy', 'm@v', '--replicas', '65'], /--replicas must be from 0 to 64, got 65/],
    [['deploy', 'm@v', '--progress-deadline', '5'], /--progress-deadline must be from 60 to 7200/],
    [['deploy', 'm@v', '--accelerator'], /--accelerator needs a value \(TYPE\)/],
    [['status', '--json', '-o', 'yaml'], /--json and -o yaml disagree/],
    [['teardown', '--dry-run=maybe'], /--dry-run takes no value/],
    [['caches', 'extra'], /takes no arguments, got "extra"/],
  ] as const) {
    const r = await ferry(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err.split('\n')[0]!, message);
  }
});

test('the parser: --flag value, --flag=value, -o json, -ojson, defaults, repeatable flags, what was given', () => {
  const spec = specOf('deploy');
  const p = parseArgv(spec, ['m@v', '--replicas=3', '-ojson', '--vllm-arg', '--max-model-len=4096', '--vllm-arg=--enforce-eager']);
  assert.ok(p.ok, JSON.stringify(p));
  assert.deepEqual(p.positional, ['m@v']);
  const dashes = parseArgv(specOf('status'), ['--', '--odd-model-name']);
  assert.ok(dashes.ok && dashes.positional[0] === '--odd-model-name', 'after --, everything is an argument');
  assert.equal(p.flags['replicas'], 3);
  assert.equal(p.flags['gpus'], 1, 'defaults are filled in');
  assert.deepEqual(p.flags['vllm-arg'], ['--max-model-len=4096', '--enforce-eager']);
  assert.equal(p.output, 'json');
  assert.deepEqual([...p.given].sort(), ['output', 'replicas', 'vllm-arg']);
  const j = parseArgv(spec, ['m@v', '--json']);
  assert.ok(j.ok && j.output === 'json');
  const y = parseArgv(spec, ['m@v', '-o', 'yaml']);
  assert.ok(y.ok && y.output === 'yaml');
  const f = parseArgv(spec, ['-f', '-']);
  assert.ok(f.ok && f.flags['filename'] === '-');
});

test('edit distance and suggestions', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.deepEqual(suggest('replicsa', ['replicas', 'image', 'wait']), ['replicas']);
  assert.deepEqual(suggest('zzz', ['replicas', 'image']), []);
  assert.deepEqual(suggest('acc', ['accelerator', 'cache']), ['accelerator'], 'a prefix counts');
});

test('`ferry completion bash|zsh` prints scripts generated from the specs that the shells accept', async () => {
  const bash = await ferry('completion', 'bash');
  assert.equal(bash.code, 0);
  assert.equal(bash.out, bashCompletion(SPECS));
  for (const s of SPECS) assert.ok(bash.out.includes(`    ${s.name})`), s.name);
  assert.match(bash.out, /--accelerator\) COMPREPLY=\(\$\(compgen -W "nvidia-tesla-t4 .* tpu-v6e-slice"/);
  const syntax = spawnSync('bash', ['-n'], { input: bash.out, encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  // Completing `ferry deploy --repl` in bash itself.
  const run = spawnSync('bash', ['-c', `${bash.out}\nCOMP_WORDS=(ferry deploy --repl); COMP_CWORD=2; _ferry; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  assert.equal(run.stdout.trim(), '--replicas');
  const values = spawnSync('bash', ['-c', `${bash.out}\nCOMP_WORDS=(ferry render -o y); COMP_CWORD=3; _ferry; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  assert.equal(values.stdout.trim(), 'yaml');
  const zsh = await ferry('completion', 'zsh');
  assert.equal(zsh.code, 0);
  assert.equal(zsh.out, zshCompletion(SPECS));
  assert.match(zsh.out, /^#compdef ferry\n/);
  assert.match(zsh.out, /'--replicas\[pods serving the model \(ignored with autoscaling\)\]:replicas: '/);
  assert.match(zsh.out, /'\(-o --output\)'\{-o,--output\}'\[output format: text, json or yaml\]:output:\(text json yaml\)'/);
  const bad = await ferry('completion', 'fish');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /bash or zsh/);
});

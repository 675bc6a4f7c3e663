/**
 * The serving stand-in's pure parts: `vllm serve` argument parsing (infra/local/vllm-sim/args.ts,
 * flag table from vLLM's arg_utils.py / config dataclasses — docs/UPSTREAM.md V13), the Run:ai
 * streamer's listing rules per version (V3), humanize's size format (V14) and vLLM's metric names (V15).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServeArgs, humanReadableInt, streamerEnv, entrypointOf, runaiExtraConfig } from '../../../infra/local/vllm-sim/args.ts';
import { streamerListing, listsTopLevelOnly, parseGsPath, naturalsizeBinary } from '../../../infra/local/vllm-sim/listing.ts';
import { renderMetrics, completionText, chatPrompt } from '../../../infra/local/vllm-sim/openai.ts';
import { selectLogLines } from '../../../infra/local/vllm-sim/kubelet.ts';
import { parseVllmActivity } from '../../../shared/domain/teardown-run.ts';
import { render } from '../../../shared/domain/render.ts';
import { DeployRequest } from '../../../shared/domain/deploy-request.ts';

const ok = (command: string[] | undefined, args: string[]) => {
  const r = parseServeArgs(command, args);
  assert.ok(r.ok, r.ok ? '' : r.stderr);
  return r.args;
};
const err = (command: string[] | undefined, args: string[]): string => {
  const r = parseServeArgs(command, args);
  assert.ok(!r.ok, 'expected an argparse error');
  return r.stderr;
};

test('today’s render (--model= in args, image entrypoint) parses', () => {
  const a = ok(undefined, [
    '--model=gs://b/models/m/v1',
    '--load-format=runai_streamer',
    '--tensor-parallel-size=2',
    '--model-loader-extra-config={"concurrency":16,"distributed":true}',
    '--port=8000',
    '--max-model-len=8k',
  ]);
  assert.equal(a.model, 'gs://b/models/m/v1');
  assert.equal(a.loadFormat, 'runai_streamer');
  assert.equal(a.tensorParallelSize, 2);
  assert.deepEqual(a.loaderExtraConfig, { concurrency: 16, distributed: true });
  assert.equal(a.port, 8000);
  assert.equal(a.maxModelLen, 8000);
  assert.deepEqual(a.servedModelNames, ['gs://b/models/m/v1']);
});

test('command vllm serve with the model as first positional parses (and wins over --model)', () => {
  const a = ok(['vllm', 'serve'], ['gs://b/models/m/v2', '--load-format', 'runai_streamer', '-tp', '4', '--served-model-name', 'm', 'alias']);
  assert.equal(a.model, 'gs://b/models/m/v2');
  assert.equal(a.tensorParallelSize, 4);
  assert.deepEqual(a.servedModelNames, ['m', 'alias']);
  assert.equal(ok(['vllm', 'serve'], ['gs://x/a', '--model=gs://x/b']).model, 'gs://x/a');
  assert.equal(ok(['vllm', 'serve'], ['-tp=2']).tensorParallelSize, 2);
  // CPython argparse _get_option_tuples glues a value only to a one-letter short option (-q, -O):
  // `-tp2` is no option at all.
  assert.match(err(['vllm', 'serve'], ['-tp2']), /unrecognized arguments: -tp2/);
  assert.equal(ok(['vllm', 'serve'], ['-qfp8']).values['--quantization'], 'fp8');
});

// cli_args.py make_arg_parser (both entrypoints use it) declares one optional positional, model_tag;
// only `vllm serve` turns it into the model, the api_server module reads --model.
test('the api_server module parses model_tag but serves --model; a second positional is unrecognized', () => {
  const api = ['python3', '-m', 'vllm.entrypoints.openai.api_server'];
  assert.equal(entrypointOf(api), 'api_server');
  assert.equal(ok(api, ['gs://b/m', '--model=gs://b/n']).model, 'gs://b/n');
  assert.match(err(api, ['gs://b/m', 'extra']), /unrecognized arguments: extra/);
  assert.equal(parseServeArgs(['/bin/sh', '-c'], []).ok, false);
});

test('unknown flags and bad values are argparse errors with exit code 2, in argparse’s and vLLM’s words', () => {
  const r = parseServeArgs(undefined, ['--model=gs://b/m', '--no-such-flag=1']);
  assert.ok(!r.ok);
  assert.equal(r.exitCode, 2);
  assert.equal(r.stderr, 'usage: vllm serve [model_tag] [options]\nvllm serve: error: unrecognized arguments: --no-such-flag=1\n');
  // A misspelled flag is unknown, not abbreviated (no option starts with it).
  assert.match(err(undefined, ['--tensor-paralel-size=2']), /unrecognized arguments: --tensor-paralel-size=2$/m);
  // Plain `type=int` / `type=float` (non-optional fields): argparse's own message.
  assert.match(err(undefined, ['--tensor-parallel-size=two']), /argument --tensor-parallel-size\/-tp: invalid int value: 'two'/);
  assert.match(err(undefined, ['--gpu-memory-utilization=lots']), /argument --gpu-memory-utilization: invalid float value: 'lots'/);
  // Optional fields go through vLLM's optional_type/parse_type (arg_utils.py): its ArgumentTypeError text.
  assert.match(err(undefined, ['--seed=x']), /argument --seed: Value x cannot be converted to <class 'int'>\./);
  assert.match(
    err(undefined, ['--max-model-len=8x']),
    /argument --max-model-len: Value 8x cannot be converted to <function human_readable_int at 0x[0-9a-f]+>\./,
  );
  assert.match(
    err(undefined, ['--max-model-len=1.5K']),
    /argument --max-model-len: Decimals are not allowed with binary suffixes like K\. Did you mean to use 1\.5k instead\?/,
  );
  // Choices: argparse _check_value, sorted Literal members (literal_to_kwargs).
  assert.match(err(undefined, ['--dtype=fp16']), /argument --dtype: invalid choice: 'fp16' \(choose from auto, bfloat16, float, float16, float32, half\)/);
  assert.match(err(undefined, ['--scheduling-policy', 'lifo']), /invalid choice: 'lifo' \(choose from fcfs, priority\)/);
  // JSON: `{…}` that is not JSON is refused by union_dict_and_str / parse_type(json.loads).
  assert.match(
    err(undefined, ['--model-loader-extra-config={bad}']),
    /argument --model-loader-extra-config: Value \{bad\} cannot be converted to <function loads at 0x[0-9a-f]+>\./,
  );
  assert.match(err(undefined, ['--port']), /argument --port: expected one argument/);
  assert.match(err(undefined, ['--enforce-eager=yes']), /argument --enforce-eager\/--no-enforce-eager: ignored explicit argument 'yes'/);
  assert.match(err(undefined, ['--served-model-name']), /argument --served-model-name: expected at least one argument/);
});

test('what argparse lets through and vLLM refuses later: any --load-format string, a non-JSON extra config', () => {
  // load_format: str | LoadFormats — `str` in the union, so no choices at parse time.
  assert.equal(ok(undefined, ['--load-format=streamer']).loadFormat, 'streamer');
  // union_dict_and_str keeps a non-`{…}` value as a string; LoadConfig's validation then fails (exit 1).
  const r = parseServeArgs(undefined, ['--model-loader-extra-config=concurrency=16']);
  assert.ok(!r.ok);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /validation error for LoadConfig\nmodel_loader_extra_config\n {2}Input should be a valid dictionary/);
});

test('the v0.11.2 table: flags from both sources, JSON keys passed one by one, deprecated flags still parse', () => {
  const a = ok(undefined, [
    '--model=gs://b/m',
    '--enable-auto-tool-choice',
    '--tool-call-parser=hermes',
    '--no-enable-log-requests',
    '--compilation-config.level=3',
    '--compilation-config.cudagraph_capture_sizes+=1,2',
    '--uvicorn-log-level=warning',
    '--collect-detailed-traces',
    'model,worker',
    '--guided-decoding-backend=xgrammar',
    '--kv-cache-memory-bytes=2G',
    '--allowed-origins=["https://a"]',
    '--middleware=a.b',
    '--middleware=c.d',
    '--hf-token',
  ]);
  assert.equal(a.values['--enable-auto-tool-choice'], true);
  assert.equal(a.values['--enable-log-requests'], false);
  assert.deepEqual(a.values['--compilation-config'], { level: 3, cudagraph_capture_sizes: ['1', '2'] });
  assert.deepEqual(a.values['--collect-detailed-traces'], ['model,worker']);
  assert.equal(a.values['--kv-cache-memory-bytes'], 2 * 2 ** 30);
  assert.deepEqual(a.values['--allowed-origins'], ['https://a']);
  assert.deepEqual(a.values['--middleware'], ['a.b', 'c.d']);
  assert.equal(a.values['--hf-token'], true);
  assert.match(err(undefined, ['--allowed-origins=*']), /argument --allowed-origins: invalid loads value: '\*'/);
  assert.match(err(undefined, ['--compilation-config={"level": 3']), /argument --compilation-config\/-O: Value|1 validation error for CompilationConfig/);
  assert.match(err(undefined, ['--collect-detailed-traces=gpu']), /invalid choice: 'gpu' \(choose from all, model, worker, None, model,worker,/);
  // An optional field takes 'None' (optional_type).
  assert.equal(ok(undefined, ['--max-model-len=None']).maxModelLen, null);
  // The one flag of the stored revision that no release has is not in the table.
  assert.match(err(undefined, ['--external_parameters={}']), /unrecognized arguments: --external-parameters=\{\}/);
});

test('--model-loader-extra-config keys against the Run:ai loader: concurrency, memory_limit (int), distributed (bool)', () => {
  assert.deepEqual(runaiExtraConfig({ concurrency: 16, memory_limit: 5368709120, distributed: true }), {
    applied: { concurrency: 16, memory_limit: 5368709120, distributed: true },
    ignored: [],
  });
  assert.deepEqual(runaiExtraConfig({ concurrency: '16', distributed: 1, chunk_size: 8 }), {
    applied: {},
    ignored: ['concurrency', 'distributed', 'chunk_size'],
  });
});

test('argparse conveniences: underscores, abbreviations, --no- booleans, human-readable ints', () => {
  assert.equal(ok(undefined, ['--max_model_len', '4K']).maxModelLen, 4096);
  assert.equal(ok(undefined, ['--tensor-par=2']).tensorParallelSize, 2);
  assert.match(err(undefined, ['--max=3']), /ambiguous option: --max could match/);
  assert.equal(ok(undefined, ['--no-enable-prefix-caching']).values['--enable-prefix-caching'], false);
  assert.equal(ok(undefined, ['--enforce-eager']).values['--enforce-eager'], true);
  assert.equal(humanReadableInt('1k'), 1000);
  assert.equal(humanReadableInt('1M'), 2 ** 20);
  assert.equal(humanReadableInt('1.5'), null);
});

test('--model-loader-extra-config: only int concurrency/memory_limit reach the streamer environment', () => {
  assert.deepEqual(streamerEnv({ concurrency: 32, memory_limit: 1024, distributed: true }, {}), {
    RUNAI_STREAMER_CONCURRENCY: '32',
    RUNAI_STREAMER_MEMORY_LIMIT: '1024',
  });
  assert.deepEqual(streamerEnv({ concurrency: '32' }, { RUNAI_STREAMER_CONCURRENCY: '4' }), { RUNAI_STREAMER_CONCURRENCY: '4' });
});

test('every flag ferry renders parses', () => {
  const request = DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: 'llama',
    version: 'v1',
    target: { cluster: 'local', namespace: 'default', name: 'llama' },
    accelerator: { type: 'nvidia-l4', count: 2 },
    streamer: { concurrency: 16, memoryLimit: 1_000_000 },
    vllmArgs: ['--max-model-len=4096', '--gpu-memory-utilization=0.9', '--enable-prefix-caching', '--served-model-name', 'llama'],
    requestedBy: { source: 'cli', principal: 'alice' },
  });
  const rendered = render({
    request,
    rolloutId: 'r-0001',
    bucket: 'ferry-models',
    checkpoint: { uri: 'gs://ferry-models/models/llama/v1', digest: 'sha256:' + '1'.repeat(64), tensorBytes: 1000, shards: 1 },
  });
  const c = rendered.deployment.spec!.template.spec!.containers[0]!;
  const a = ok(c.command, c.args ?? []);
  assert.equal(a.model, 'gs://ferry-models/models/llama/v1');
  assert.equal(a.loadFormat, 'runai_streamer');
  assert.equal(a.tensorParallelSize, 2);
  assert.equal(a.loaderExtraConfig['concurrency'], 16);
  assert.equal(a.port, 8000);
  assert.deepEqual(a.servedModelNames, ['llama']);
});

test('streamer listing: recursive up to 0.15.3, top level from 0.15.4, *.safetensors on the whole name', () => {
  const prefix = 'models/m/v1/';
  const names = [
    'models/m/v1/config.json',
    'models/m/v1/model-00001-of-00002.safetensors',
    'models/m/v1/model-00002-of-00002.safetensors',
    'models/m/v1/model.safetensors.index.json',
    'models/m/v1/original/consolidated.safetensors',
    'models/m/v1/dir.safetensors/',
    'models/m/v1/UPPER.SAFETENSORS',
    'models/m/v10/model.safetensors',
  ];
  assert.deepEqual(streamerListing(names, prefix, '0.15.0'), [
    'models/m/v1/model-00001-of-00002.safetensors',
    'models/m/v1/model-00002-of-00002.safetensors',
    'models/m/v1/original/consolidated.safetensors',
  ]);
  assert.deepEqual(streamerListing(names, prefix, '0.15.4'), ['models/m/v1/model-00001-of-00002.safetensors', 'models/m/v1/model-00002-of-00002.safetensors']);
  assert.equal(listsTopLevelOnly('0.15.3'), false);
  assert.equal(listsTopLevelOnly('0.15.4'), true);
  assert.equal(listsTopLevelOnly('0.16.0'), true);
  // The trailing slash keeps v10 out of v1.
  assert.deepEqual(parseGsPath('gs://b/models/m/v1'), { bucket: 'b', prefix: 'models/m/v1/' });
  assert.deepEqual(parseGsPath('gs://b/models/m/v1/'), { bucket: 'b', prefix: 'models/m/v1/' });
  assert.equal(parseGsPath('/local/dir'), null);
});

test('sizes print as humanize.naturalsize(binary=True)', () => {
  assert.equal(naturalsizeBinary(1), '1 Byte');
  assert.equal(naturalsizeBinary(1000), '1000 Bytes');
  assert.equal(naturalsizeBinary(3000), '2.9 KiB');
  assert.equal(naturalsizeBinary(3.9 * 2 ** 30), '3.9 GiB');
  assert.equal(naturalsizeBinary(1024 ** 2 - 1), '1.0 MiB'); // rounding reaches 1024: next unit
});

test('metrics: vLLM names, model_name label, counters with _total; ferry’s activity reader understands them', () => {
  const text = renderMetrics({
    modelName: 'gs://b/models/m/v1',
    running: 1,
    waiting: 0,
    kvCacheUsage: 0.25,
    promptTokens: 12,
    generationTokens: 32,
    success: { length: 2 },
    createdAt: 1700000000,
  });
  assert.match(text, /^# TYPE vllm:num_requests_running gauge$/m);
  assert.match(text, /^vllm:num_requests_running\{model_name="gs:\/\/b\/models\/m\/v1",engine="0"\} 1\.0$/m);
  assert.match(text, /^vllm:num_requests_waiting\{model_name="[^"]+",engine="0"\} 0\.0$/m);
  assert.match(text, /^vllm:kv_cache_usage_perc\{[^}]+\} 0\.25$/m);
  assert.match(text, /^vllm:prompt_tokens_total\{[^}]+\} 12\.0$/m);
  assert.match(text, /^vllm:generation_tokens_total\{[^}]+\} 32\.0$/m);
  assert.match(text, /^vllm:request_success_total\{model_name="[^"]+",engine="0",finished_reason="length"\} 2\.0$/m);
  assert.deepEqual(parseVllmActivity(text), { requests: 2, busy: true });
});

test('completion text is a pure function of the weights digest and the prompt', () => {
  const a = completionText('d1', 'Hello', 8);
  assert.equal(a, completionText('d1', 'Hello', 8));
  assert.notEqual(a, completionText('d2', 'Hello', 8));
  assert.notEqual(a, completionText('d1', 'Hello!', 8));
  assert.equal(a.trim().split(' ').length, 8);
  assert.match(chatPrompt([{ role: 'user', content: 'hi' }]), /<\|user\|>\nhi\n<\|assistant\|>/);
});

test('kubelet log options: tailLines, timestamps, limitBytes', () => {
  const at = new Date('2026-12-06T12:00:00.123Z');
  const lines = ['a', 'b', 'c'].map((line) => ({ at, line }));
  const q = (s: string) => new URLSearchParams(s);
  assert.equal(selectLogLines(lines, q('')), 'a\nb\nc\n');
  assert.equal(selectLogLines(lines, q('tailLines=1')), 'c\n');
  assert.equal(selectLogLines(lines, q('tailLines=1&timestamps=true')), '2026-12-06T12:00:00.123000000Z c\n');
  assert.equal(selectLogLines(lines, q('limitBytes=3')), 'a\nb');
});

test('every flag the local deploy policy admits is a flag of the v0.11.2 table, and its allowed values parse', async () => {
  const { readFileSync } = await import('node:fs');
  const policy = JSON.parse(readFileSync(new URL('../../../infra/local/policy.json', import.meta.url), 'utf8')) as {
    vllmFlags: Record<string, { values?: string[] }>;
  };
  const sample: Record<string, string | null> = {
    '--max-model-len': '4096',
    '--max-num-seqs': '16',
    '--gpu-memory-utilization': '0.85',
    '--enforce-eager': null,
    '--served-model-name': 'llama',
  };
  for (const [flag, rule] of Object.entries(policy.vllmFlags)) {
    const values = rule.values ?? [sample[flag] ?? null];
    for (const v of values) ok(['vllm', 'serve'], ['gs://b/m', ...(v === null ? [flag] : [`${flag}=${v}`])]);
  }
});

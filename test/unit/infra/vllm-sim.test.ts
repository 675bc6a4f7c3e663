/**
 * The serving stand-in's pure parts: `vllm serve` argument parsing (infra/local/vllm-sim/args.ts,
 * flag table from vLLM's arg_utils.py / config dataclasses — docs/UPSTREAM.md V13), the Run:ai
 * streamer's listing rules per version (V3), humanize's size format (V14) and vLLM's metric names (V15).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServeArgs, humanReadableInt, streamerEnv, entrypointOf } from '../../../infra/local/vllm-sim/args.ts';
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
  assert.equal(ok(['vllm', 'serve'], ['-tp2']).tensorParallelSize, 2);
});

test('the api_server module takes no positional model', () => {
  assert.equal(entrypointOf(['python3', '-m', 'vllm.entrypoints.openai.api_server']), 'api_server');
  assert.match(err(['python3', '-m', 'vllm.entrypoints.openai.api_server'], ['gs://b/m']), /unrecognized arguments: gs:\/\/b\/m/);
  assert.equal(parseServeArgs(['/bin/sh', '-c'], []).ok, false);
});

test('unknown flags and bad values are argparse errors with exit code 2', () => {
  const r = parseServeArgs(undefined, ['--model=gs://b/m', '--no-such-flag=1']);
  assert.ok(!r.ok);
  assert.equal(r.exitCode, 2);
  assert.equal(r.stderr, 'usage: vllm serve [model_tag] [options]\nvllm serve: error: unrecognized arguments: --no-such-flag=1\n');
  assert.match(err(undefined, ['--tensor-parallel-size=two']), /argument --tensor-parallel-size\/-tp: invalid int value: 'two'/);
  assert.match(err(undefined, ['--gpu-memory-utilization=lots']), /argument --gpu-memory-utilization: invalid float value: 'lots'/);
  assert.match(err(undefined, ['--load-format=streamer']), /argument --load-format: invalid choice: 'streamer' \(choose from 'auto', /);
  assert.match(err(undefined, ['--model-loader-extra-config={bad']), /argument --model-loader-extra-config: invalid loads value: '\{bad'/);
  assert.match(err(undefined, ['--max-model-len=8x']), /invalid human_readable_int value: '8x'/);
  assert.match(err(undefined, ['--port']), /argument --port: expected one argument/);
  assert.match(err(undefined, ['--enforce-eager=yes']), /ignored explicit argument 'yes'/);
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

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { validateCommand, parseGcsUrl } from '../../../shared/cli/commands/validate.ts';
import { FINDING_CODES } from '../../../shared/domain/findings.ts';
import { FIXTURES_DIR, materialiseCase } from '../../helpers/fixtures.ts';

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await validateCommand(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env });
  return { code, stdout, stderr };
}

const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

describe('ferry validate', () => {
  it('exits 0 with a VALID verdict line for a valid checkpoint (warnings allowed)', async () => {
    const r = await run([path.join(FIXTURES_DIR, 'llama-sharded')]);
    assert.equal(r.code, 0, r.stderr);
    const [first] = r.stdout.split('\n');
    assert.match(first!, /^VALID\s+.*llama-sharded\/\s+\(0 errors, 1 warning\)$/);
    assert.match(r.stdout, /6 shards, 30 tensors/);
    assert.match(r.stdout, /176,576/);
    assert.match(r.stdout, /LlamaForCausalLM \(llama\): 3 layers, hidden 64, 4 heads, 2 kv-heads/);
    assert.match(r.stdout, /\ntokenizer\.json\n {2}warning +TOKENIZER_MISSING /);
    assert.equal(r.stderr, '');
  });

  it('exits 1 with INVALID and the findings grouped by file', async () => {
    const c = materialiseCase('overlapping-offsets');
    cleanups.push(c.cleanup);
    const r = await run([c.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout.split('\n')[0]!, /^INVALID\s+.*\(2 errors, 1 warning\)$/);
    const block = r.stdout.split('\n\n').find((b) => b.startsWith('model-00003-of-00006.safetensors\n'));
    assert.ok(block, r.stdout);
    assert.match(block, /error +OFFSETS_NOT_CONTIGUOUS +model\.layers\.0\.mlp\.down_proj\.weight: data_offsets begin at 126, overlapping/);
  });

  it('--json prints one object with ok, errors, warnings, summary and io', async () => {
    const c = materialiseCase('missing-shard');
    cleanups.push(c.cleanup);
    const r = await run(['--json', c.dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    const j = JSON.parse(r.stdout) as {
      ok: boolean;
      errors: Array<Record<string, unknown>>;
      warnings: Array<Record<string, unknown>>;
      summary: Record<string, unknown>;
      io: { requests: number; bytesRead: number };
    };
    assert.equal(j.ok, false);
    assert.deepEqual(j.errors, [
      {
        code: 'SHARD_MISSING',
        file: 'model-00006-of-00006.safetensors',
        message: 'the index maps 6 tensors to this shard, but it is not in the checkpoint',
      },
    ]);
    for (const f of [...j.errors, ...j.warnings]) {
      assert.deepEqual(
        Object.keys(f).filter((k) => !['code', 'file', 'tensor', 'message'].includes(k)),
        [],
      );
      assert.ok(FINDING_CODES.includes(f['code'] as (typeof FINDING_CODES)[number]));
    }
    for (const k of ['shards', 'tensors', 'parameters', 'tensorBytes', 'dtypes', 'headerBytes', 'parametersByDtype', 'config']) {
      assert.ok(k in j.summary, k);
    }
    assert.equal(j.summary['shards'], 5);
    assert.equal(j.io.requests, 8);
    assert.ok(j.io.bytesRead > 0);
  });

  it('--json for a valid checkpoint has ok:true and the exact counts', async () => {
    const r = await run([path.join(FIXTURES_DIR, 'all-dtypes'), '--json']);
    assert.equal(r.code, 0);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.summary.tensors, 18);
    assert.equal(j.summary.parameters, 241);
    assert.equal(j.summary.tensorBytes, 754);
    assert.equal(j.summary.dtypes.length, 16);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [[], ['--nope', '/tmp'], ['/a', '/b'], ['--concurrency', '0', '/tmp'], ['s3://bucket/x'], ['https://example.com/x']]) {
      const r = await run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^ferry validate: /);
      assert.equal(r.stdout, '');
    }
  });

  it('exits 2 for a path that is not a directory', async () => {
    assert.equal((await run(['/definitely/not/here'])).code, 2);
    const r = await run([path.join(FIXTURES_DIR, 'expected.json')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not a directory/);
  });

  it('parses gs:// URLs strictly', async () => {
    assert.deepEqual(parseGcsUrl('gs://my-bucket/models/llama/v1'), { bucket: 'my-bucket', prefix: 'models/llama/v1' });
    assert.deepEqual(parseGcsUrl('gs://my-bucket'), { bucket: 'my-bucket', prefix: '' });
    assert.deepEqual(parseGcsUrl('gs://my-bucket/'), { bucket: 'my-bucket', prefix: '' });
    assert.deepEqual(parseGcsUrl('gs://a.b.c/x/'), { bucket: 'a.b.c', prefix: 'x/' });
    for (const bad of [
      'gs://',
      'gs:///x',
      'gs://UPPER/x',
      'gs://ab/x',
      'gs://-bucket/x',
      'gs://b_ucket-/x',
      'gs://bucket/a//b',
      'gs://bucket/../x',
      'gs:/bucket/x',
      'gs://192.168.0.1/x',
      `gs://${'a'.repeat(64)}/x`,
    ]) {
      assert.ok('error' in parseGcsUrl(bad), bad);
      const r = await run([bad]);
      assert.equal(r.code, 2, bad);
    }
  });

  it('exits 2 with a retryable storage error when the Storage endpoint is unreachable', async () => {
    const r = await run(['gs://ferry-nowhere/m', '--json'], { STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9', GOOGLE_CLOUD_PROJECT: 'demo-x' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /STORAGE_UNAVAILABLE/);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, false);
    assert.equal(j.error.code, 'STORAGE_UNAVAILABLE');
    assert.equal(j.error.retryable, true);
  });

  it('--help exits 0 with usage', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^ferry validate — .*\n\nUsage:\n {2}ferry validate </);
  });
});

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { planCommand, fmtBytes } from '../../../shared/cli/commands/plan.ts';
import { COMMANDS } from '../../../shared/cli/main.ts';
import { FIXTURES_DIR, materialiseCase } from '../../helpers/fixtures.ts';

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await planCommand(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {} });
  return { code, stdout, stderr };
}
const LLAMA = path.join(FIXTURES_DIR, 'llama-sharded');
const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

describe('ferry plan', () => {
  it('is registered', () => {
    assert.ok(COMMANDS['plan']);
    assert.match(COMMANDS['plan']!.usage, /ferry plan <model>@<version\|latest> \| <dir>/);
  });

  it('plans a local directory (validated from its headers first) and prints the table', async () => {
    const r = await run([LLAMA]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /KV cache {2}384 B per token = 2 × 3 layers × 2 KV heads × 16 head dim × 2 B/);
    assert.match(r.stdout, /budget {4}8 × 256 tokens = 2,048 tokens of KV cache per replica/);
    assert.match(r.stdout, /\n {2}ACCELERATOR +COUNT +TP +FITS +NEED\/DEVICE/);
    assert.match(r.stdout, /\n {2}nvidia-l4 +1 +1 +yes +2\.0 GiB +20\.2 GiB +0\.85 +g2-standard-8/);
    // 4 attention heads: the 8-GPU-only H200 cannot run it
    assert.match(r.stdout, /nvidia-h200-141gb +8 +8 +NO .*4 attention heads are not divisible by TP 8/);
    assert.match(r.stdout, /recommended: nvidia-l4 ×1 \(TP 1, g2-standard-8\) ~\$0\.85\/h/);
  });

  it('--json, budget flags, --family and --accelerator checks', async () => {
    const r = await run([LLAMA, '--json', '--context', '128', '--concurrency', '2', '--family', 'tpu', '--accelerator', 'tpu-v6e-slice', '--count', '4']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.source.kind, 'checkpoint');
    assert.deepEqual(j.plan.budget, { contextTokens: 128, concurrency: 2, gpuMemoryUtilization: 0.9, kvCacheDtype: 'auto' });
    assert.deepEqual(
      j.plan.rows.map((x: { accelerator: string }) => x.accelerator),
      ['tpu-v5-lite-podslice', 'tpu-v6e-slice'],
    );
    assert.equal(j.plan.recommended.accelerator, 'tpu-v5-lite-podslice');
    assert.equal(j.check.ok, true);
    assert.equal(j.check.row.topology, '2x2');
    const bad = await run([LLAMA, '--accelerator', 'nvidia-h200-141gb', '--count', '8']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /check: TENSOR_PARALLEL_INVALID: vLLM cannot run this model at tensor-parallel size 8/);
  });

  it('refuses an invalid checkpoint and bad usage', async () => {
    const c = materialiseCase('overlapping-offsets');
    cleanups.push(c.cleanup);
    const invalid = await run([c.dir]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /is INVALID \(2 errors, first: /);
    assert.equal((await run([])).code, 2);
    assert.equal((await run([LLAMA, '--context', '0'])).code, 2);
    assert.equal((await run([LLAMA, '--family', 'fpga'])).code, 2);
    assert.equal((await run([LLAMA, '--count', '2'])).code, 2);
    assert.match((await run([LLAMA, '--accelerator', 'nvidia-l4', '--count', '3'])).stderr, /nvidia-l4 nodes have 1, 2, 4, 8 GPUs/);
    assert.match((await run(['no-such-dir'])).stderr, /neither <model>@<version>, an existing directory nor gs:\/\/bucket\/prefix/);
  });

  it('formats bytes in binary units', () => {
    assert.deepEqual([fmtBytes(384), fmtBytes(1536), fmtBytes(20.25 * 1024 ** 3)], ['384 B', '1.5 KiB', '20.3 GiB']);
  });
});

/**
 * `ferry upload` refusals that happen before anything is sent (no bucket needed): a folder without
 * weights, a broken Hugging Face cache, the cache's repo folder instead of a snapshot, a bad
 * --progress. Each: one line with the reason code, what to do, exit 1 (2 for usage), no stack.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { uploadCommand } from '../../../shared/cli/commands/upload.ts';
import { makeHfCache } from '../../helpers/hf-cache.ts';

const LLAMA = path.join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const DEST = 'gs://ferry-unit-test-bucket/models/tiny/v1';
const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

async function run(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await uploadCommand(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {} });
  assert.doesNotMatch(stderr, /^\s+at .+[:(]\d+/m, 'no stack trace');
  return { code, stdout, stderr };
}

describe('ferry upload: refused before anything is sent', () => {
  it('a folder without a safetensors file: exit 1, NO_CHECKPOINT_FILES, what was expected', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'ferry-upload-cli-'));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    writeFileSync(path.join(d, 'config.json'), '{}');
    writeFileSync(path.join(d, 'README.md'), '# weights elsewhere');
    const r = await run(d, DEST, '--force');
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^ferry upload: no checkpoint file in .*\(it holds 2 file\(s\): README\.md, config\.json\); expected model\.safetensors, or sharded \*\.safetensors with model\.safetensors\.index\.json, beside config\.json \[NO_CHECKPOINT_FILES\]$/m,
    );
    assert.match(r.stderr, /next: .*snapshots\/<revision>/);
    assert.match(r.stderr, /Nothing was uploaded/);
    assert.equal(r.stdout, '');
  });

  it('a Hugging Face snapshot with a missing blob: exit 1, SYMLINK_BROKEN naming the file', async () => {
    const c = makeHfCache(LLAMA);
    cleanups.push(c.cleanup);
    unlinkSync(c.blobs.get('model-00002-of-00006.safetensors')!);
    const r = await run(c.snapshotDir, DEST);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /model-00002-of-00006\.safetensors -> \.\.\/\.\.\/blobs\/\w+: the target does not exist \[SYMLINK_BROKEN\]/);
    assert.match(r.stderr, /next: .*hf download/);
  });

  it('the models--org--name folder instead of a snapshot: exit 1, names the snapshot to upload', async () => {
    const c = makeHfCache(LLAMA);
    cleanups.push(c.cleanup);
    const r = await run(c.repoDir, DEST);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[HF_CACHE_NOT_A_SNAPSHOT\]/);
    assert.ok(r.stderr.includes(c.snapshotDir), r.stderr);
  });

  it('--progress takes auto, bar, lines or none', async () => {
    const r = await run(LLAMA, DEST, '--progress', 'fancy');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--progress: "fancy" is not one of auto, bar, lines, none/);
    assert.match(r.stderr, /Usage: ferry upload/);
  });
});

/**
 * uploadCheckpointFiles over a real listing (a Hugging Face cache snapshot and the plain fixture
 * folder) into an uploader that records what it was given: the blobs' bytes go up under the link
 * names, shards first, the index and config.json last; a folder without safetensors is refused.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listLocalFiles } from '../../../shared/adapters/local-dir.ts';
import { assertHasCheckpointFiles, uploadCheckpointFiles, type UploadProgress } from '../../../shared/app/upload-checkpoint.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import type { Uploader } from '../../../shared/ports/uploader.ts';
import { makeHfCache } from '../../helpers/hf-cache.ts';

const LLAMA = path.join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

/** Reads each file as the GCS uploader would and reports progress in two steps. */
function recordingUploader() {
  const objects = new Map<string, Buffer>();
  const order: string[] = [];
  const uploader: Uploader = {
    async upload(localPath, objectName, opts) {
      const bytes = readFileSync(localPath);
      opts?.onProgress?.(0);
      await new Promise((r) => setImmediate(r));
      opts?.onProgress?.(Math.floor(bytes.length / 2));
      opts?.onProgress?.(bytes.length);
      objects.set(objectName, bytes);
      order.push(objectName);
      return { size: bytes.length, generation: String(order.length) };
    },
  };
  return { uploader, objects, order };
}

describe('uploadCheckpointFiles', () => {
  it("uploads a Hugging Face snapshot: the blobs' bytes under the link names, index and config last", async () => {
    const c = makeHfCache(LLAMA);
    cleanups.push(c.cleanup);
    const files = await listLocalFiles(c.snapshotDir);
    const { uploader, objects, order } = recordingUploader();
    const done: UploadProgress[] = [];
    const bytes = new Map<string, number[]>();
    const started: string[] = [];
    const r = await uploadCheckpointFiles(files, 'models/tiny/v1/', uploader, {
      concurrency: 3,
      onFileStart: (f) => started.push(f),
      onFileBytes: (f, n) => bytes.set(f, [...(bytes.get(f) ?? []), n]),
      onProgress: (p) => done.push(p),
    });
    assert.deepEqual(r, { files: 9, bytes: files.reduce((a, f) => a + f.size, 0) });
    assert.deepEqual([...objects.keys()].sort(), files.map((f) => `models/tiny/v1/${f.name}`).sort());
    for (const f of files) assert.deepEqual(objects.get(`models/tiny/v1/${f.name}`), readFileSync(path.join(LLAMA, f.name)), f.name);
    assert.deepEqual(order.slice(-2), ['models/tiny/v1/model.safetensors.index.json', 'models/tiny/v1/config.json']);
    assert.equal(started.length, 9);
    assert.deepEqual(bytes.get('config.json'), [0, 359, 718]);
    assert.deepEqual(
      done.map((p) => p.doneFiles),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.equal(done.at(-1)!.doneBytes, r.bytes);
  });

  it('refuses a listing without a safetensors file, saying what was expected', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'ferry-no-weights-'));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    writeFileSync(path.join(d, 'config.json'), '{}');
    const check = (files: Array<{ name: string; path: string; size: number }>, mentions: RegExp) =>
      assert.throws(
        () => assertHasCheckpointFiles(files, d),
        (e: unknown) => {
          assert.ok(e instanceof FerryError);
          assert.equal(e.code, 'NO_CHECKPOINT_FILES');
          assert.match(e.message, /expected model\.safetensors, or sharded \*\.safetensors with model\.safetensors\.index\.json/);
          assert.match(e.message, mentions);
          assert.match(e.hint ?? '', /snapshots\/<revision>/);
          return true;
        },
      );
    check([], /it is empty/);
    check([{ name: 'config.json', path: path.join(d, 'config.json'), size: 2 }], /1 file\(s\): config\.json/);
    assert.doesNotThrow(() => assertHasCheckpointFiles([{ name: 'model.safetensors', path: '/x', size: 1 }], d));
  });
});

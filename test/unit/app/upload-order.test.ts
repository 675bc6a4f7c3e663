/**
 * uploadCheckpointFiles over its port (Uploader) without a bucket: what it uploads, in which order
 * (config.json last, the index just before it, the rest largest first), and the progress it
 * reports. Listing the folder (symlinks, hidden entries) is local-dir.ts's, tested there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uploadCheckpointFiles, type UploadProgress } from '../../../shared/app/upload-checkpoint.ts';
import type { SourceFile, Uploader } from '../../../shared/ports/uploader.ts';

const file = (name: string, size: number): SourceFile => ({ name, path: `/ckpt/${name}`, size });

test('uploads every listed file once, config.json last and the index before it, with progress', async () => {
  const listing = [
    file('config.json', 10),
    file('model.safetensors.index.json', 20),
    file('model-00001-of-00002.safetensors', 1000),
    file('model-00002-of-00002.safetensors', 3000),
    file('original/params.json', 5),
  ];
  const calls: Array<[string, string]> = [];
  const uploader: Uploader = {
    upload: async (localPath, objectName) => {
      calls.push([localPath, objectName]);
      return { size: listing.find((f) => f.path === localPath)!.size, generation: String(calls.length) };
    },
  };
  const progress: UploadProgress[] = [];
  const result = await uploadCheckpointFiles(listing, 'models/m/v1/', uploader, { concurrency: 1, onProgress: (p) => progress.push(p) });

  assert.deepEqual(calls, [
    ['/ckpt/model-00002-of-00002.safetensors', 'models/m/v1/model-00002-of-00002.safetensors'],
    ['/ckpt/model-00001-of-00002.safetensors', 'models/m/v1/model-00001-of-00002.safetensors'],
    ['/ckpt/original/params.json', 'models/m/v1/original/params.json'],
    ['/ckpt/model.safetensors.index.json', 'models/m/v1/model.safetensors.index.json'],
    ['/ckpt/config.json', 'models/m/v1/config.json'],
  ]);
  assert.deepEqual(result, { files: 5, bytes: 4035 });
  assert.deepEqual(
    progress.map((p) => [p.file, p.doneFiles, p.totalFiles, p.doneBytes, p.totalBytes]),
    [
      ['model-00002-of-00002.safetensors', 1, 5, 3000, 4035],
      ['model-00001-of-00002.safetensors', 2, 5, 4000, 4035],
      ['original/params.json', 3, 5, 4005, 4035],
      ['model.safetensors.index.json', 4, 5, 4025, 4035],
      ['config.json', 5, 5, 4035, 4035],
    ],
  );
});

test('with parallel uploads, config.json still starts only after every other file is done', async () => {
  const listing = [file('config.json', 1), ...Array.from({ length: 6 }, (_, i) => file(`s${i}.safetensors`, 100 + i))];
  let inFlight = 0;
  let done = 0;
  let configStartedAfter = -1;
  const uploader: Uploader = {
    upload: async (localPath) => {
      if (localPath.endsWith('config.json')) configStartedAfter = done;
      inFlight++;
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      done++;
      return { size: listing.find((f) => f.path === localPath)!.size, generation: '1' };
    },
  };
  await uploadCheckpointFiles(listing, 'p/', uploader, { concurrency: 3 });
  assert.equal(configStartedAfter, 6);
  assert.equal(inFlight, 0);
});

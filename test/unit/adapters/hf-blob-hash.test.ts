/**
 * Hugging Face blobs named by their sha256 are checked before an upload (checkHfBlobHashes): a
 * real cache folder (test/helpers/hf-cache.ts lays it out as huggingface_hub does) passes and its
 * files come back with `sha256`; a blob whose bytes were damaged stops it, naming the file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { checkHfBlobHashes, listLocalFiles } from '../../../shared/adapters/local-dir.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { makeHfCache } from '../../helpers/hf-cache.ts';
import { LLAMA_DIR } from '../../helpers/upload-version.ts';

const hf = makeHfCache(LLAMA_DIR);
after(() => hf.cleanup());

test('every blob named by a sha256 is hashed and matches; its file gets the sha256', async () => {
  const files = await listLocalFiles(hf.snapshotDir);
  let bytes = 0;
  const r = await checkHfBlobHashes(files, { onBytes: (n) => (bytes += n) });
  const shards = files.filter((f) => f.name.endsWith('.safetensors'));
  assert.equal(r.checked, shards.length, 'the safetensors blobs are named by sha256; the JSON ones by git sha1');
  assert.equal(bytes, r.bytes);
  for (const f of r.files) {
    if (f.name.endsWith('.safetensors')) assert.match(f.sha256 ?? '', /^[0-9a-f]{64}$/, f.name);
    else assert.equal(f.sha256, undefined, f.name);
  }
});

test('a damaged blob stops the upload with HF_BLOB_HASH_MISMATCH naming the file', async () => {
  const name = 'model-00003-of-00006.safetensors';
  const blob = hf.blobs.get(name)!;
  const bytes = readFileSync(blob);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
  writeFileSync(blob, bytes);
  await assert.rejects(checkHfBlobHashes(await listLocalFiles(hf.snapshotDir)), (e: FerryError) => {
    assert.equal(e.code, 'HF_BLOB_HASH_MISMATCH');
    assert.match(e.message, new RegExp(name.replace(/\./g, '\\.')));
    assert.match(e.hint, /^Download/);
    return true;
  });
});

/**
 * Which *.safetensors each pinned image streams from gs:// (shared/domain/streamer-listing.ts;
 * docs/UPSTREAM.md V3, V4, V12; docs/CONFORMANCE.md "vLLM and the Run:ai Model Streamer").
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DEFAULT_IMAGE, DEFAULT_TPU_IMAGE } from '../../../shared/domain/rendered-spec.ts';
import { IMAGE_VARIANTS, PINNED_STREAMERS, describeStreamer, streamedSafetensors } from '../../../shared/domain/streamer-listing.ts';

const NAMES = [
  'config.json',
  'model-00001-of-00002.safetensors',
  'model-00002-of-00002.safetensors',
  'model.safetensors.index.json',
  'original/model.safetensors',
  'a/b/c.safetensors',
  'UPPER.SAFETENSORS',
  'notes.safetensors.txt',
];

test('each variant names the image ferry renders by default, so a new pin must revisit its listing rule', () => {
  assert.deepEqual(IMAGE_VARIANTS, ['gpu', 'tpu']);
  assert.equal(PINNED_STREAMERS.gpu.image, DEFAULT_IMAGE);
  assert.equal(PINNED_STREAMERS.tpu.image, DEFAULT_TPU_IMAGE);
  // tpu-inference@v0.18.0:requirements.txt#L19 pins runai-model-streamer[s3,gcs]==0.15.4, the first
  // release with `delimiter='/'` (runai-model-streamer@0.15.4 files.py#L68-72).
  assert.equal(PINNED_STREAMERS.tpu.streamer, '0.15.4');
  assert.equal(PINNED_STREAMERS.tpu.listing, 'top-level');
  // vllm/vllm-openai:v0.11.2 predates 0.15.4; 0.14.0–0.15.3 call list_blobs(prefix=…) without a delimiter.
  assert.equal(PINNED_STREAMERS.gpu.listing, 'recursive');
  assert.match(describeStreamer('gpu'), /^vllm\/vllm-openai:v0\.11\.2 \(Run:ai streamer 0\.14\.0–0\.15\.3, lists sub-folders too\)$/);
  assert.match(describeStreamer('tpu'), /^vllm\/vllm-tpu:v0\.18\.0 \(Run:ai streamer 0\.15\.4, lists the top level only\)$/);
});

test('recursive listing (streamer ≤ 0.15.3) keeps nested *.safetensors; top-level listing (≥ 0.15.4) does not', () => {
  assert.deepEqual(streamedSafetensors(NAMES, 'recursive'), [
    'model-00001-of-00002.safetensors',
    'model-00002-of-00002.safetensors',
    'original/model.safetensors',
    'a/b/c.safetensors',
  ]);
  assert.deepEqual(streamedSafetensors(NAMES, 'top-level'), ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
});

// The streamer filters listed object names with Python's `fnmatch.fnmatch(path, "*.safetensors")`
// (runai-model-streamer@0.15.3 files.py#L72-76). Where python3 is installed, ask fnmatch itself
// which of NAMES it keeps, so the recursive rule cannot drift from upstream's matcher.
const python = spawnSync('python3', ['-c', 'print(1)'], { encoding: 'utf8' });
test('the recursive rule is what Python fnmatch("*.safetensors") keeps', { skip: python.status !== 0 ? 'python3 not installed' : false }, () => {
  const r = spawnSync(
    'python3',
    ['-c', 'import fnmatch, json, sys; print(json.dumps([p for p in json.load(sys.stdin) if fnmatch.fnmatch(p, "*.safetensors")]))'],
    { input: JSON.stringify(NAMES), encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(streamedSafetensors(NAMES, 'recursive'), JSON.parse(r.stdout) as string[]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseObjectPath, checkCompleteness, contentKey, maxGeneration, compareGenerations } from '../../../shared/domain/upload.ts';
import type { ObjectInfo } from '../../../shared/ports/object-store.ts';

const P = 'models/llama/v1/';
const obj = (name: string, generation = '1', size = 10): ObjectInfo => ({ name: P + name, size, generation });

test('parseObjectPath: checkpoint files under <prefix><model>/<version>/', () => {
  assert.deepEqual(parseObjectPath('models/llama/v1/config.json', 'models/'), {
    kind: 'checkpoint-file',
    model: 'llama',
    version: 'v1',
    file: 'config.json',
    prefix: 'models/llama/v1/',
  });
  const nested = parseObjectPath('models/llama/v1/original/params.json', 'models/');
  assert.equal(nested.kind, 'checkpoint-file');
  assert.equal(nested.kind === 'checkpoint-file' && nested.file, 'original/params.json');
  assert.equal(parseObjectPath('datasets/x/y/z', 'models/').kind, 'ignored');
  assert.deepEqual(parseObjectPath('models/llama/config.json', 'models/'), { kind: 'ignored', reason: 'NOT_A_VERSION_FILE' });
  assert.deepEqual(parseObjectPath('models/llama/v1/', 'models/'), { kind: 'ignored', reason: 'DIRECTORY_MARKER' });
  assert.equal(parseObjectPath('ckpt/m/v/config.json', 'ckpt/').kind, 'checkpoint-file', 'the prefix is configurable');
  assert.equal(parseObjectPath('m/v/config.json', '').kind, 'checkpoint-file', 'an empty prefix means the bucket root');
});

test('parseObjectPath: unsafe model and version names are rejected with a reason', () => {
  for (const [name, reason] of [
    ['models/../v1/config.json', 'INVALID_MODEL_NAME'],
    ['models/ll ama/v1/config.json', 'INVALID_MODEL_NAME'],
    ['models/.hidden/v1/config.json', 'INVALID_MODEL_NAME'],
    ['models/llama/latest/config.json', 'INVALID_VERSION_NAME'],
    ['models/llama/v1%2F/config.json', 'INVALID_VERSION_NAME'],
    [`models/${'a'.repeat(64)}/v1/config.json`, 'INVALID_MODEL_NAME'],
  ] as const) {
    const r = parseObjectPath(name, 'models/');
    assert.equal(r.kind, 'rejected', name);
    assert.equal(r.kind === 'rejected' && r.reason, reason, name);
    assert.ok(r.kind === 'rejected' && r.message.length > 10);
  }
});

test('checkCompleteness: single-file checkpoints need config.json and model.safetensors', () => {
  assert.deepEqual(checkCompleteness([obj('model.safetensors')], P), { complete: false, missing: ['config.json'] });
  const r = checkCompleteness([obj('config.json'), obj('model.safetensors')], P);
  assert.equal(r.complete, true);
  assert.equal(r.complete && r.layout, 'single');
});

test('checkCompleteness: sharded checkpoints need the index and every shard it names', () => {
  const listing = [obj('config.json'), obj('model.safetensors.index.json'), obj('model-00001-of-00002.safetensors')];
  assert.deepEqual(checkCompleteness(listing, P), { complete: false, needsIndex: true }, 'reads the index only when listed');
  const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  assert.deepEqual(checkCompleteness(listing, P, shards), { complete: false, missing: ['model-00002-of-00002.safetensors'] });
  const full = checkCompleteness([...listing, obj('model-00002-of-00002.safetensors')], P, shards);
  assert.equal(full.complete && full.layout, 'sharded');
  assert.equal(full.complete && full.files.length, 4);
  assert.equal(checkCompleteness(listing, P, 'unparseable').complete, true, 'a broken index is for the validator to report');
});

test('checkCompleteness: shards before their index name the index and the absent numbered shards', () => {
  const r = checkCompleteness([obj('model-00001-of-00003.safetensors'), obj('model-00003-of-00003.safetensors')], P);
  assert.deepEqual(r, {
    complete: false,
    missing: ['config.json', 'model.safetensors or model.safetensors.index.json', 'model-00002-of-00003.safetensors'],
  });
});

test('contentKey changes with any generation and ignores listing order', () => {
  const a = [obj('config.json', '5'), obj('model.safetensors', '7')];
  assert.equal(contentKey('m', 'v', a), contentKey('m', 'v', [...a].reverse()));
  assert.notEqual(contentKey('m', 'v', a), contentKey('m', 'v', [obj('config.json', '5'), obj('model.safetensors', '8')]));
  assert.notEqual(contentKey('m', 'v', a), contentKey('m', 'v2', a));
});

test('maxGeneration compares 16-digit GCS generations exactly', () => {
  const g1 = '1700000000000000001';
  const g2 = '1700000000000000002';
  assert.equal(maxGeneration([obj('a', g2), obj('b', g1)]), g2);
  assert.equal(compareGenerations(g1, g2), -1);
  assert.equal(compareGenerations(g2, g2), 0);
  assert.equal(maxGeneration([]), '0');
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONFIG_FILE, INDEX_FILE, normalizePrefix, relativeFiles, shardsToRead, type CheckpointFile } from '../../../shared/domain/checkpoint.ts';
import { checkShardNames, parseConfig, parseIndex, parseShardName, unsafeShardName } from '../../../shared/domain/checkpoint-files.ts';
import { evaluateCheckpoint, type ShardHeaderInput } from '../../../shared/domain/checkpoint-evaluation.ts';
import { FINDING_CODES, Finding, type FindingCode } from '../../../shared/domain/findings.ts';
import { parseShardHeader } from '../../../shared/domain/safetensors.ts';
import { needsMoreBytes } from '../../../shared/domain/safetensors-format.ts';
import { localDirObjectStore } from '../../../shared/adapters/local-dir.ts';
import { validateCheckpoint } from '../../../shared/app/validate-checkpoint.ts';
import { expectedCases, materialiseCase } from '../../helpers/fixtures.ts';

/** The code(s) a sensible validator reports for each named fault of the reference corpus. */
const EXPECTED_CODES: Record<string, FindingCode[]> = {
  'truncated-body': ['FILE_TRUNCATED'],
  'truncated-header': ['HEADER_BEYOND_FILE'],
  'header-len-beyond-file': ['HEADER_BEYOND_FILE'],
  'header-len-huge': ['HEADER_TOO_LARGE'],
  'tiny-file': ['HEADER_TOO_SMALL'],
  'header-not-json': ['HEADER_INVALID_JSON'],
  'header-not-object-start': ['HEADER_NOT_OBJECT', 'HEADER_INVALID_JSON'],
  'overlapping-offsets': ['OFFSETS_NOT_CONTIGUOUS'],
  'size-mismatch-dtype-shape': ['TENSOR_SIZE_MISMATCH'],
  'unknown-dtype': ['DTYPE_UNKNOWN'],
  'negative-dim': ['SHAPE_INVALID'],
  'trailing-bytes-after-last-tensor': ['TRAILING_BYTES'],
  'metadata-non-string': ['METADATA_INVALID'],
  'offset-past-end': ['TENSOR_SIZE_MISMATCH', 'FILE_TRUNCATED'],
  'missing-shard': ['SHARD_MISSING'],
  'index-names-unknown-tensor': ['INDEX_TENSOR_NOT_FOUND'],
  'tensor-missing-from-index': ['TENSOR_NOT_IN_INDEX'],
  'index-points-wrong-shard': ['INDEX_WRONG_SHARD'],
  'index-not-json': ['INDEX_INVALID_JSON'],
  'no-config': ['CONFIG_MISSING'],
  'duplicate-tensor-across-shards': ['TENSOR_IN_MULTIPLE_SHARDS'],
  'index-total-size-wrong': ['INDEX_TOTAL_SIZE_MISMATCH'],
};

describe('the reference corpus, through the whole validator (local directory)', () => {
  const cases = expectedCases();
  const cleanups: Array<() => void> = [];
  after(() => cleanups.forEach((c) => c()));

  it('covers every case of expected.json', () => {
    assert.ok(Object.keys(cases).length >= 25);
  });

  for (const [name, exp] of Object.entries(cases)) {
    it(`${name}: ${exp.valid ? 'valid' : `invalid (${exp.reason})`}`, async () => {
      const { dir, cleanup } = materialiseCase(name);
      cleanups.push(cleanup);
      const store = localDirObjectStore(dir);
      const report = await validateCheckpoint(store, '');

      for (const f of [...report.errors, ...report.warnings]) {
        Finding.parse(f);
        assert.ok(FINDING_CODES.includes(f.code));
        assert.ok(f.message.length > 10, 'a message in words');
      }
      assert.equal(report.ok, exp.valid, JSON.stringify(report.errors, null, 1));
      assert.equal(report.errors.length === 0, exp.valid);
      if (exp.files) assert.deepEqual(report.files.map((f) => f.name).sort(), [...exp.files].sort());

      if (exp.valid) {
        assert.equal(report.summary.tensors, exp.tensors);
        assert.equal(report.summary.parameters, exp.parameters);
        assert.equal(report.summary.tensorBytes, exp.tensor_bytes);
        assert.equal(
          Object.values(report.summary.parametersByDtype).reduce((a, b) => a + b, 0),
          exp.parameters,
        );
        assert.ok(report.summary.config !== null);
      } else {
        const want = EXPECTED_CODES[name];
        if (want) {
          assert.ok(
            report.errors.some((e) => want.includes(e.code)),
            `expected one of ${want.join('/')}, got ${report.errors.map((e) => e.code).join(', ')}`,
          );
        }
        // For file-layer faults the reference names the file; so must we.
        const refFile = exp.layer === 'file' ? /^([^:]+\.safetensors):/.exec(exp.reason)?.[1] : undefined;
        if (refFile)
          assert.ok(
            report.errors.some((e) => e.file === refFile),
            `an error about ${refFile}`,
          );
      }

      // I/O budget: one listing, the index and config read whole, at most two reads per shard
      // (one here: every header fits in the first 64 KiB), never more than 64 KiB per shard.
      const shards = report.summary.shards;
      const side = report.files.filter((f) => f.name === INDEX_FILE || f.name === CONFIG_FILE);
      assert.ok(report.io.requests <= 1 + side.length + shards, `requests ${report.io.requests}`);
      const sideBytes = side.reduce((s, f) => s + f.size, 0);
      assert.ok(report.io.bytesRead - sideBytes <= shards * 64 * 1024, `bytes ${report.io.bytesRead}`);
    });
  }
});

// The reference verdicts of expected.json are the safetensors library's and transformers' (each file
// loads; `from_pretrained` reads the shards the index names). ferry's verdict is about vLLM's Run:ai
// loader on gs://, which streams what the streamer lists (shared/domain/streamer-listing.ts). The two
// part ways on extra files: the reference data is not changed for that; this test shows the split.
describe('ferry (vLLM loader) vs the reference verdict on extra files', () => {
  it('the reference llama-sharded plus a stray top-level and a nested copy: reference-valid, refused by ferry', async () => {
    const base = expectedCases()['llama-sharded']!;
    assert.equal(base.valid, true, 'the reference loads the base checkpoint');
    const { dir: src } = materialiseCase('llama-sharded');
    const dir = mkdtempSync(path.join(tmpdir(), 'ferry-stray-'));
    try {
      cpSync(src, dir, { recursive: true });
      cpSync(path.join(src, 'model-00001-of-00006.safetensors'), path.join(dir, 'consolidated.safetensors'));
      mkdirSync(path.join(dir, 'original'));
      cpSync(path.join(src, 'model-00002-of-00006.safetensors'), path.join(dir, 'original', 'model.safetensors'));
      const report = await validateCheckpoint(localDirObjectStore(dir), '');
      assert.equal(report.ok, false);
      assert.deepEqual(report.errors.map((e) => [e.code, e.file]).sort(), [
        ['SAFETENSORS_IN_SUBFOLDER', 'original/model.safetensors'],
        ['SHARD_NOT_IN_INDEX', 'consolidated.safetensors'],
      ]);
      // The indexed shards themselves are still summarised as the reference counts them.
      assert.equal(report.summary.tensors, base.tensors);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ─────────────────────────── pure rules ───────────────────────────

const enc = new TextEncoder();

function shardBytes(tensors: Array<[string, string, number[]]>): Uint8Array {
  let at = 0;
  const entries = tensors.map(([name, dtype, shape]) => {
    const bytes = shape.reduce((p, d) => p * d, 1) * (dtype === 'F32' ? 4 : dtype === 'BF16' || dtype === 'F16' ? 2 : 1);
    const e = `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${at},${at + bytes}]}`;
    at += bytes;
    return e;
  });
  const h = enc.encode(`{${entries.join(',')}}`);
  const out = new Uint8Array(8 + h.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

function shard(file: string, tensors: Array<[string, string, number[]]>): ShardHeaderInput {
  const bytes = shardBytes(tensors);
  const header = parseShardHeader(bytes, bytes.length, file);
  if (needsMoreBytes(header)) throw new Error('unreachable');
  return { file, size: bytes.length, header };
}

const CONFIG = JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', num_hidden_layers: 2 });
const f = (name: string, size = 100): CheckpointFile => ({ name, size, generation: '1' });
const codesOf = (findings: Array<{ code: string; severity: string }>, severity = 'error') => findings.filter((x) => x.severity === severity).map((x) => x.code);

function twoShardCheckpoint(weightMap: Record<string, string>, extra: { total_size?: unknown; files?: CheckpointFile[] } = {}) {
  const s1 = shard('model-00001-of-00002.safetensors', [
    ['a', 'F32', [2]],
    ['b', 'F32', [3]],
  ]);
  const s2 = shard('model-00002-of-00002.safetensors', [['c', 'BF16', [4]]]);
  const index = parseIndex(
    JSON.stringify({ metadata: extra.total_size === undefined ? { total_size: 28 } : { total_size: extra.total_size }, weight_map: weightMap }),
  );
  const files = extra.files ?? [
    f(CONFIG_FILE),
    f(INDEX_FILE),
    f('tokenizer.json'),
    { name: s1.file, size: s1.size, generation: '1' },
    { name: s2.file, size: s2.size, generation: '1' },
  ];
  return { files, index, shards: [s1, s2], config: CONFIG };
}

const GOOD_MAP = {
  a: 'model-00001-of-00002.safetensors',
  b: 'model-00001-of-00002.safetensors',
  c: 'model-00002-of-00002.safetensors',
};

describe('evaluateCheckpoint', () => {
  it('accepts a consistent sharded checkpoint and summarises it', () => {
    const r = evaluateCheckpoint(twoShardCheckpoint(GOOD_MAP));
    assert.deepEqual(r.findings, []);
    assert.equal(r.ok, true);
    assert.deepEqual(
      { ...r.summary, config: undefined, headerBytes: undefined, shardBytes: undefined },
      {
        layout: 'sharded',
        shards: 2,
        tensors: 3,
        parameters: 9,
        parametersByDtype: { BF16: 4, F32: 5 },
        tensorBytes: 28,
        dtypes: ['BF16', 'F32'],
        config: undefined,
        headerBytes: undefined,
        shardBytes: undefined,
      },
    );
    assert.equal(r.summary.config?.numLayers, 2);
  });

  it('reports index faults with the tensor and the shards involved', () => {
    const wrong = evaluateCheckpoint(twoShardCheckpoint({ ...GOOD_MAP, c: 'model-00001-of-00002.safetensors' }));
    const w = wrong.findings.find((x) => x.code === 'INDEX_WRONG_SHARD')!;
    assert.equal(w.tensor, 'c');
    assert.match(w.message, /maps the tensor to model-00001-of-00002\.safetensors, but it is stored in model-00002-of-00002\.safetensors/);

    const unknown = evaluateCheckpoint(twoShardCheckpoint({ ...GOOD_MAP, z: 'model-00002-of-00002.safetensors' }));
    assert.deepEqual(codesOf(unknown.findings), ['INDEX_TENSOR_NOT_FOUND']);

    const { b: _b, ...withoutB } = GOOD_MAP;
    const missing = evaluateCheckpoint(twoShardCheckpoint(withoutB));
    assert.deepEqual(codesOf(missing.findings), ['TENSOR_NOT_IN_INDEX']);
    assert.equal(missing.findings[0]!.file, 'model-00001-of-00002.safetensors');
  });

  it('reports a shard the index names but the listing lacks', () => {
    const c = twoShardCheckpoint(GOOD_MAP);
    const r = evaluateCheckpoint({ ...c, files: c.files.filter((x) => x.name !== 'model-00002-of-00002.safetensors'), shards: c.shards.slice(0, 1) });
    assert.deepEqual(codesOf(r.findings), ['SHARD_MISSING']);
    assert.equal(r.findings[0]!.file, 'model-00002-of-00002.safetensors');
  });

  it('reports a tensor stored in two shards', () => {
    const c = twoShardCheckpoint(GOOD_MAP);
    const s2 = shard('model-00002-of-00002.safetensors', [
      ['c', 'BF16', [4]],
      ['a', 'F32', [2]],
    ]);
    const r = evaluateCheckpoint({ ...c, shards: [c.shards[0]!, s2], files: c.files.map((x) => (x.name === s2.file ? { ...x, size: s2.size } : x)) });
    const dup = r.findings.find((x) => x.code === 'TENSOR_IN_MULTIPLE_SHARDS')!;
    assert.equal(dup.tensor, 'a');
    assert.equal(dup.file, 'model-00002-of-00002.safetensors');
  });

  it('compares metadata.total_size with the tensor bytes (a warning when it is the file sizes)', () => {
    const bad = evaluateCheckpoint(twoShardCheckpoint(GOOD_MAP, { total_size: 999 }));
    const e = bad.findings.find((x) => x.code === 'INDEX_TOTAL_SIZE_MISMATCH')!;
    assert.equal(e.severity, 'error');
    assert.match(e.message, /total_size is 999.*28 bytes/);
    const c = twoShardCheckpoint(GOOD_MAP);
    const fileSizes = c.shards.reduce((s, x) => s + x.size, 0);
    const fs = evaluateCheckpoint(twoShardCheckpoint(GOOD_MAP, { total_size: fileSizes }));
    assert.equal(fs.ok, true);
    assert.equal(fs.findings.find((x) => x.code === 'INDEX_TOTAL_SIZE_MISMATCH')?.severity, 'warning');
    assert.match(fs.findings[0]!.message, /total_size/);
  });

  it('requires config.json with architectures and model_type, and warns without a tokenizer', () => {
    const c = twoShardCheckpoint(GOOD_MAP);
    const noTok = evaluateCheckpoint({ ...c, files: c.files.filter((x) => x.name !== 'tokenizer.json') });
    assert.equal(noTok.ok, true);
    assert.deepEqual(codesOf(noTok.findings, 'warning'), ['TOKENIZER_MISSING']);
    const noCfg = evaluateCheckpoint({ ...c, files: c.files.filter((x) => x.name !== CONFIG_FILE), config: undefined });
    assert.deepEqual(codesOf(noCfg.findings), ['CONFIG_MISSING']);
    for (const bad of ['[1]', '{"model_type":"llama"}', '{"architectures":[],"model_type":"x"}', '{"architectures":["X"]}', 'nope']) {
      const r = evaluateCheckpoint({ ...c, config: bad });
      assert.ok(codesOf(r.findings).includes('CONFIG_INVALID'), bad);
    }
  });

  it('names the missing layouts', () => {
    const none = evaluateCheckpoint({ files: [f(CONFIG_FILE)], shards: [], config: CONFIG });
    assert.ok(codesOf(none.findings).includes('WEIGHTS_MISSING'));
    const noIndex = evaluateCheckpoint({
      files: [f(CONFIG_FILE), f('model-00001-of-00002.safetensors'), f('model-00002-of-00002.safetensors')],
      shards: [],
      config: CONFIG,
    });
    assert.ok(codesOf(noIndex.findings).includes('INDEX_MISSING'));
  });

  // M6 (docs/UPSTREAM.md V1, V2): vLLM's Run:ai loader streams every *.safetensors the streamer lists
  // under a gs:// model (runai_streamer_loader.py `_prepare_weights`: `list_safetensors(path=…)`, no
  // index filter), so a top-level file the index does not name is loaded on top of the shards.
  it('refuses a top-level .safetensors the index does not name: vLLM streams it too', () => {
    const c = twoShardCheckpoint(GOOD_MAP);
    const r = evaluateCheckpoint({ ...c, files: [...c.files, f('consolidated.safetensors')] });
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.findings.map((x) => [x.code, x.severity, x.file]),
      [['SHARD_NOT_IN_INDEX', 'error', 'consolidated.safetensors']],
    );
    assert.match(r.findings[0]!.message, /delete consolidated\.safetensors or move it out of the checkpoint folder/);
  });

  it('without an index, a second top-level file beside model.safetensors stays a warning (vLLM loads both, as designed)', () => {
    const single = shard('model.safetensors', [['a', 'F32', [2]]]);
    const files = [f(CONFIG_FILE), f('tokenizer.json'), { name: 'model.safetensors', size: single.size, generation: '1' }, f('extra.safetensors')];
    const r = evaluateCheckpoint({ files, shards: [single], config: CONFIG });
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.findings.map((x) => [x.code, x.severity, x.file]),
      [['SHARD_NOT_IN_INDEX', 'warning', 'extra.safetensors']],
    );
  });

  // M7 (docs/UPSTREAM.md V3, V4; shared/domain/streamer-listing.ts): the GPU image's streamer
  // (0.14.0–0.15.3, runai-model-streamer@0.15.3 files.py#L60 `list_blobs(prefix=…)` without a
  // delimiter) lists sub-folders; the TPU image's (0.15.4, `delimiter='/'`) does not.
  it('refuses a nested .safetensors the index does not name, naming the image that would stream it', () => {
    const c = twoShardCheckpoint(GOOD_MAP);
    const r = evaluateCheckpoint({ ...c, files: [...c.files, f('original/model.safetensors'), f('original/params.json')] });
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.findings.map((x) => [x.code, x.severity, x.file]),
      [['SAFETENSORS_IN_SUBFOLDER', 'error', 'original/model.safetensors']],
    );
    const m = r.findings[0]!.message;
    assert.match(m, /vllm\/vllm-openai:v0\.11\.2 \(Run:ai streamer 0\.14\.0–0\.15\.3, lists sub-folders too\)/);
    assert.doesNotMatch(m, /vllm-tpu/, 'the TPU image lists the top level only');
    assert.match(m, /delete it or move it out of the checkpoint folder/);
  });

  it('refuses a shard the index names in a sub-folder: the TPU image never loads it', () => {
    const map = { ...GOOD_MAP, c: 'sub/model-00002-of-00002.safetensors' };
    const c = twoShardCheckpoint(map, {
      files: [f(CONFIG_FILE), f('tokenizer.json'), f(INDEX_FILE), f('model-00001-of-00002.safetensors'), f('sub/model-00002-of-00002.safetensors')],
    });
    const r = evaluateCheckpoint({ ...c, shards: [c.shards[0]!, { ...c.shards[1]!, file: 'sub/model-00002-of-00002.safetensors' }] });
    const nested = r.findings.filter((x) => x.code === 'SAFETENSORS_IN_SUBFOLDER');
    assert.deepEqual(
      nested.map((x) => [x.severity, x.file]),
      [['error', 'sub/model-00002-of-00002.safetensors']],
    );
    assert.match(nested[0]!.message, /vllm\/vllm-tpu:v0\.18\.0 \(Run:ai streamer 0\.15\.4, lists the top level only\) never loads; move it next to the index/);
    assert.equal(r.ok, false);
  });

  it('refuses nested .safetensors beside a single model.safetensors too', () => {
    const single = shard('model.safetensors', [['a', 'F32', [2]]]);
    const files = [f(CONFIG_FILE), f('tokenizer.json'), { name: 'model.safetensors', size: single.size, generation: '1' }, f('ckpt/step-100.safetensors')];
    const r = evaluateCheckpoint({ files, shards: [single], config: CONFIG });
    assert.deepEqual(
      r.findings.map((x) => [x.code, x.severity, x.file]),
      [['SAFETENSORS_IN_SUBFOLDER', 'error', 'ckpt/step-100.safetensors']],
    );
  });

  it('rejects a checkpoint without tensors', () => {
    const empty = shard('model.safetensors', []);
    const r = evaluateCheckpoint({
      files: [f(CONFIG_FILE), f('tokenizer.json'), { name: 'model.safetensors', size: empty.size, generation: '1' }],
      shards: [empty],
      config: CONFIG,
    });
    assert.ok(codesOf(r.findings).includes('NO_TENSORS'));
  });
});

describe('parseIndex', () => {
  it('returns the weight map and the distinct shard names', () => {
    const r = parseIndex(JSON.stringify({ metadata: { total_size: 10, total_parameters: 5 }, weight_map: GOOD_MAP }));
    assert.equal(r.ok, true);
    assert.deepEqual(r.shardNames, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    assert.equal(r.weightMap.get('c'), 'model-00002-of-00002.safetensors');
    assert.equal(r.totalSize, 10);
    assert.equal(r.totalParameters, 5);
  });

  it('rejects unsafe shard names and never resolves them', () => {
    for (const bad of [
      '../model.safetensors',
      '/abs/model.safetensors',
      'gs://other/model.safetensors',
      'https://x/y.safetensors',
      'a/../../b.safetensors',
      'C:\\x.safetensors',
      'a//b.safetensors',
    ]) {
      const r = parseIndex(JSON.stringify({ weight_map: { w: bad } }));
      assert.ok(codesOf(r.findings).includes('SHARD_NAME_UNSAFE'), bad);
      assert.deepEqual(r.shardNames, []);
      assert.deepEqual(r.unsafeShardNames, [bad]);
    }
    assert.equal(unsafeShardName('sub/model-00001-of-00002.safetensors'), undefined);
  });

  it('rejects malformed indexes with codes', () => {
    assert.deepEqual(codesOf(parseIndex('{"weight_map": ').findings), ['INDEX_INVALID_JSON']);
    assert.deepEqual(codesOf(parseIndex(new Uint8Array([0x7b, 0xff, 0x7d])).findings), ['INDEX_INVALID_JSON']);
    assert.deepEqual(codesOf(parseIndex('[]').findings), ['INDEX_INVALID']);
    assert.deepEqual(codesOf(parseIndex('{}').findings), ['INDEX_INVALID']);
    assert.deepEqual(codesOf(parseIndex('{"weight_map":{}}').findings), ['INDEX_INVALID']);
    assert.deepEqual(codesOf(parseIndex('{"weight_map":{"a":1}}').findings), ['INDEX_INVALID']);
    assert.deepEqual(codesOf(parseIndex('{"weight_map":{"a":"model.bin"}}').findings), ['INDEX_INVALID']);
  });
});

describe('shard names', () => {
  it('parses -NNNNN-of-MMMMM names', () => {
    assert.deepEqual(parseShardName('model-00002-of-00005.safetensors'), { prefix: 'model-', shard: 2, total: 5 });
    assert.equal(parseShardName('model.safetensors'), undefined);
  });

  it('checks that the names agree', () => {
    const names = (n: number, of: number) =>
      Array.from({ length: n }, (_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(of).padStart(5, '0')}.safetensors`);
    assert.deepEqual(checkShardNames(names(3, 3)), []);
    assert.deepEqual(checkShardNames(['a.safetensors', 'b.safetensors']), []);
    const short = checkShardNames(names(2, 3));
    assert.deepEqual(codesOf(short), ['SHARD_NAMES_INCONSISTENT']);
    assert.match(short[0]!.message, /3 shards.*00003/);
    assert.ok(checkShardNames([...names(2, 2), 'model-00001-of-00003.safetensors']).length > 0);
    assert.ok(checkShardNames(['model-00001-of-00001.safetensors', 'other.safetensors']).length > 0);
    assert.ok(checkShardNames(['model-00000-of-00001.safetensors', 'model-00001-of-00001.safetensors']).length > 0);
  });
});

describe('listing helpers', () => {
  it('normalises prefixes and makes names relative', () => {
    assert.equal(normalizePrefix(''), '');
    assert.equal(normalizePrefix('a/b'), 'a/b/');
    assert.equal(normalizePrefix('/a/b/'), 'a/b/');
    const files = relativeFiles(
      [
        { name: 'm/v1/config.json', size: 1, generation: '7' },
        { name: 'm/v1/', size: 0, generation: '1' },
        { name: 'm/v10/config.json', size: 1, generation: '1' },
        { name: 'm/v1/original/params.json', size: 1, generation: '1' },
      ],
      'm/v1',
    );
    assert.deepEqual(
      files.map((x) => x.name),
      ['config.json', 'original/params.json'],
    );
  });

  it('reads the index-referenced shards that exist, or model.safetensors', () => {
    const c = twoShardCheckpoint(GOOD_MAP);
    assert.deepEqual(
      shardsToRead(c.files, c.index).map((x) => x.name),
      ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'],
    );
    assert.deepEqual(
      shardsToRead([f('model.safetensors'), f('extra.safetensors')]).map((x) => x.name),
      ['model.safetensors'],
    );
  });
});

describe('parseConfig', () => {
  it('summarises sizes, including nested text_config and NaN values Python writes', () => {
    const r = parseConfig(
      '{"architectures":["LlavaForConditionalGeneration"],"model_type":"llava","x":NaN,' +
        '"text_config":{"num_hidden_layers":32,"hidden_size":4096,"num_attention_heads":32,"num_key_value_heads":8,"torch_dtype":"bfloat16"},' +
        '"quantization_config":{"quant_method":"awq"}}',
    );
    assert.deepEqual(r.findings, []);
    assert.equal(r.config?.numLayers, 32);
    assert.equal(r.config?.numKvHeads, 8);
    assert.equal(r.config?.torchDtype, 'bfloat16');
    assert.equal(r.config?.quantization, 'awq');
  });
});

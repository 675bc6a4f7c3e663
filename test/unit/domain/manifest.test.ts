/** The manifest's rules (shared/domain/manifest.ts): strict parsing, the comparison, the gate, content diffs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MANIFEST_FILE,
  UPLOAD_MARKER,
  awaitedManifest,
  buildManifest,
  compareWithManifest,
  contentIsSame,
  describeContentDiff,
  diffContent,
  hfBlobSha256,
  parseManifest,
} from '../../../shared/domain/manifest.ts';

const m = buildManifest({
  files: [
    { name: 'model.safetensors', size: 100, crc32c: 'AAAAAA==', sha256: 'a'.repeat(64) },
    { name: 'config.json', size: 10, crc32c: 'BBBBBB==' },
  ],
  toolVersion: '0.1.0',
  uploader: 'ana',
  createdAt: new Date('2026-12-06T12:00:00Z'),
});

test('a built manifest parses back, sorted by name', () => {
  const p = parseManifest(JSON.stringify(m));
  assert.ok(p.ok);
  assert.deepEqual(
    p.manifest.files.map((f) => f.name),
    ['config.json', 'model.safetensors'],
  );
  assert.equal(p.manifest.tool.version, '0.1.0');
  assert.equal(p.manifest.uploader, 'ana');
});

test('parsing is strict: not JSON, unknown keys, bad CRC or sha256, duplicates, the manifest itself', () => {
  const bad = (x: unknown) => {
    const p = parseManifest(typeof x === 'string' ? x : JSON.stringify(x));
    assert.equal(p.ok, false, JSON.stringify(x));
    return p.ok ? '' : p.message;
  };
  assert.match(bad('{'), /not JSON/);
  assert.match(bad({ ...m, extra: 1 }), /extra|Unrecognized/i);
  assert.match(bad({ ...m, apiVersion: 'v2' }), /apiVersion/);
  assert.match(bad({ ...m, files: [{ name: 'a', size: 1, crc32c: 'not-base64' }] }), /files\.0\.crc32c/);
  assert.match(bad({ ...m, files: [{ name: 'a', size: 1, crc32c: 'AAAAAA==', sha256: 'ABC' }] }), /sha256/);
  assert.match(bad({ ...m, files: [{ name: 'a', size: -1, crc32c: 'AAAAAA==' }] }), /size/);
  assert.match(bad({ ...m, files: [m.files[0], m.files[0]] }), /twice/);
  assert.match(bad({ ...m, files: [{ name: MANIFEST_FILE, size: 1, crc32c: 'AAAAAA==' }] }), /itself/);
});

test('the listing against the manifest: one error per file, naming it', () => {
  const ok = compareWithManifest(
    [
      { name: 'config.json', size: 10, crc32c: 'BBBBBB==' },
      { name: 'model.safetensors', size: 100, crc32c: 'AAAAAA==' },
      { name: MANIFEST_FILE, size: 500, crc32c: 'CCCCCC==' },
    ],
    m,
  );
  assert.deepEqual(ok, []);
  // Same size, one byte changed: the CRC32C differs.
  const f = compareWithManifest(
    [
      { name: 'config.json', size: 10, crc32c: 'BBBBBB==' },
      { name: 'model.safetensors', size: 100, crc32c: 'DDDDDD==' },
    ],
    m,
  );
  assert.deepEqual(
    f.map((x) => [x.code, x.file, x.severity]),
    [['MANIFEST_MISMATCH', 'model.safetensors', 'error']],
  );
  assert.match(f[0]!.message, /same size/);
  // A size difference; an added file; a deleted file.
  const g = compareWithManifest(
    [
      { name: 'config.json', size: 11 },
      { name: 'extra.safetensors', size: 5 },
    ],
    m,
  );
  assert.deepEqual(
    g.map((x) => [x.code, x.file]),
    [
      ['MANIFEST_MISMATCH', 'config.json'],
      ['NOT_IN_MANIFEST', 'extra.safetensors'],
      ['MANIFEST_FILE_MISSING', 'model.safetensors'],
    ],
  );
  // Local files have no CRC32C: only sizes are compared.
  assert.deepEqual(
    compareWithManifest(
      [
        { name: 'config.json', size: 10 },
        { name: 'model.safetensors', size: 100 },
      ],
      m,
    ),
    [],
  );
});

test('the gate waits for the manifest only when ferry upload marked the objects', () => {
  const marked = { metadata: { [UPLOAD_MARKER.key]: UPLOAD_MARKER.value } };
  const p = 'models/m/v1/';
  const plain = [
    { name: p + 'config.json', size: 1, generation: '1' },
    { name: p + 'model.safetensors', size: 1, generation: '2' },
  ];
  assert.equal(awaitedManifest(plain, p), undefined, 'another tool: no manifest expected');
  const ferry = plain.map((o) => ({ ...o, ...marked }));
  assert.equal(awaitedManifest(ferry, p), MANIFEST_FILE);
  assert.equal(awaitedManifest([...ferry, { name: p + MANIFEST_FILE, size: 1, generation: '3', ...marked }], p), undefined);
  assert.equal(awaitedManifest([{ ...plain[0]!, metadata: { [UPLOAD_MARKER.key]: 'other' } }], p), undefined);
});

test('Hugging Face blob names: 64 hex is a sha256, 40 hex (git sha1) and others are not', () => {
  assert.equal(hfBlobSha256('a'.repeat(64)), 'a'.repeat(64));
  assert.equal(hfBlobSha256('a'.repeat(40)), undefined);
  assert.equal(hfBlobSha256('A'.repeat(64)), undefined);
  assert.equal(hfBlobSha256('a'.repeat(64) + '.incomplete'), undefined);
});

test('content = the set of (object, generation): overwritten, added and deleted files are named', () => {
  const p = 'models/m/v1/';
  const validated = [
    { name: 'a', generation: '1' },
    { name: 'b', generation: '2' },
    { name: 'c', generation: '3' },
  ];
  const same = diffContent(
    validated,
    validated.map((f) => ({ name: p + f.name, size: 1, generation: f.generation })),
    p,
  );
  assert.ok(contentIsSame(same));
  const d = diffContent(
    validated,
    [
      { name: p + 'a', size: 1, generation: '1' },
      { name: p + 'b', size: 1, generation: '9' },
      { name: p + 'd', size: 1, generation: '4' },
    ],
    p,
  );
  assert.deepEqual(d, { changed: ['b'], added: ['d'], removed: ['c'] });
  assert.equal(contentIsSame(d), false);
  assert.equal(describeContentDiff(d), 'overwritten: b; added: d; deleted: c');
});

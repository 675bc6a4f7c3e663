/**
 * Listing a checkpoint folder on disk: a Hugging Face cache snapshot (symlinks into ../../blobs/)
 * lists its files under the link names with the blobs' sizes, and validates as the plain folder
 * does; links that are broken, point at a directory, leave the cache (or the folder), or point at
 * something that is not a file are refused with their own codes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listLocalFiles, localDirObjectStore, hfCacheRepoRoot } from '../../../shared/adapters/local-dir.ts';
import { validateCheckpoint } from '../../../shared/app/validate-checkpoint.ts';
import { FerryError } from '../../../shared/domain/errors.ts';
import { makeHfCache } from '../../helpers/hf-cache.ts';

const LLAMA = path.join(import.meta.dirname, '..', '..', 'fixtures', 'checkpoints', 'llama-sharded');
const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

function cache() {
  const c = makeHfCache(LLAMA);
  cleanups.push(c.cleanup);
  return c;
}
function tempDir() {
  const d = mkdtempSync(path.join(tmpdir(), 'ferry-local-dir-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
const refused =
  (code: string, ...mentions: RegExp[]) =>
  (e: unknown) => {
    assert.ok(e instanceof FerryError, String(e));
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.match(e.message, m);
    assert.ok(e.hint && e.hint.length > 20, 'says what to do');
    return true;
  };
/** A unix socket file: something that is neither a file nor a folder. */
async function socketAt(p: string): Promise<Server> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(p, r));
  cleanups.push(() => s.close());
  return s;
}

describe('listLocalFiles: a Hugging Face cache snapshot', () => {
  it('lists every link under its own name, with the size and path of the blob it points to', async () => {
    const c = cache();
    const files = await listLocalFiles(c.snapshotDir);
    const plain = await listLocalFiles(LLAMA);
    assert.deepEqual(
      files.map((f) => [f.name, f.size]),
      plain.map((f) => [f.name, f.size]),
    );
    assert.equal(files.length, 9);
    for (const f of files) {
      assert.equal(f.path, c.blobs.get(f.name), f.name);
      assert.equal(f.linkTarget, f.path);
      assert.ok(f.path.startsWith(c.blobsDir + path.sep));
      assert.deepEqual(readFileSync(f.path), readFileSync(path.join(LLAMA, f.name)));
    }
    assert.ok(plain.every((f) => f.linkTarget === undefined));
  });

  it('validates as the same checkpoint as the plain folder (the object store lists through it)', async () => {
    const c = cache();
    const report = await validateCheckpoint(localDirObjectStore(c.snapshotDir), '');
    assert.equal(report.ok, true, JSON.stringify(report.errors));
    assert.equal(report.summary.tensors, 30);
    assert.equal(report.summary.parameters, 176576);
  });

  it('follows links in sub-folders and chains of links inside the cache', async () => {
    const c = cache();
    mkdirSync(path.join(c.snapshotDir, 'original'));
    symlinkSync('../../../blobs/' + path.basename(c.blobs.get('config.json')!), path.join(c.snapshotDir, 'original', 'params.json'));
    symlinkSync('config.json', path.join(c.snapshotDir, 'config-alias.json'));
    const files = await listLocalFiles(c.snapshotDir);
    const byName = new Map(files.map((f) => [f.name, f]));
    assert.equal(byName.get('original/params.json')?.path, c.blobs.get('config.json'));
    assert.equal(byName.get('config-alias.json')?.path, c.blobs.get('config.json'));
  });

  it('finds the cache root when the snapshot is reached through a symlink of its own', async () => {
    const c = cache();
    const d = tempDir();
    symlinkSync(c.snapshotDir, path.join(d, 'model'));
    const files = await listLocalFiles(path.join(d, 'model'));
    assert.equal(files.length, 9);
    assert.equal(hfCacheRepoRoot(c.snapshotDir), c.repoDir);
    assert.equal(hfCacheRepoRoot(LLAMA), undefined);
  });

  it('refuses a broken link (a pruned blob), naming it', async () => {
    const c = cache();
    unlinkSync(c.blobs.get('model-00003-of-00006.safetensors')!);
    await assert.rejects(
      listLocalFiles(c.snapshotDir),
      refused('SYMLINK_BROKEN', /model-00003-of-00006\.safetensors -> \.\.\/\.\.\/blobs\/[0-9a-f]{64}/, /does not exist/),
    );
  });

  it('refuses a loop of links as broken', async () => {
    const c = cache();
    symlinkSync('b.json', path.join(c.snapshotDir, 'a.json'));
    symlinkSync('a.json', path.join(c.snapshotDir, 'b.json'));
    await assert.rejects(listLocalFiles(c.snapshotDir), refused('SYMLINK_BROKEN', /a loop/, /2 entries/));
  });

  it('refuses a link to a directory', async () => {
    const c = cache();
    symlinkSync('../../blobs', path.join(c.snapshotDir, 'weights'));
    await assert.rejects(listLocalFiles(c.snapshotDir), refused('SYMLINK_TO_DIRECTORY', /weights ->/));
  });

  it('refuses a link that resolves outside the models--org--name folder', async () => {
    const c = cache();
    writeFileSync(path.join(c.cacheDir, 'secret.txt'), 'not part of the model');
    symlinkSync('../../../secret.txt', path.join(c.snapshotDir, 'notes.txt'));
    await assert.rejects(listLocalFiles(c.snapshotDir), refused('SYMLINK_OUTSIDE_ROOT', /notes\.txt ->/, /outside/));
  });

  it('refuses a link to something that is not a regular file', async () => {
    const c = cache();
    await socketAt(path.join(c.blobsDir, 'sock'));
    symlinkSync('../../blobs/sock', path.join(c.snapshotDir, 'tokenizer.json'));
    await assert.rejects(listLocalFiles(c.snapshotDir), refused('SYMLINK_NOT_A_FILE', /tokenizer\.json ->/));
  });

  it('refuses the models--org--name folder itself, naming its snapshots', async () => {
    const c = cache();
    await assert.rejects(listLocalFiles(c.repoDir), refused('HF_CACHE_NOT_A_SNAPSHOT', new RegExp(c.revision)));
  });
});

describe('listLocalFiles: a plain folder', () => {
  it('follows a link to a file inside the folder, refuses one leaving it', async () => {
    const outside = tempDir();
    writeFileSync(path.join(outside, 'config.json'), '{}');
    const d = tempDir();
    mkdirSync(path.join(d, 'store'));
    writeFileSync(path.join(d, 'store', 'w.bin'), Buffer.alloc(10));
    symlinkSync('store/w.bin', path.join(d, 'model.safetensors'));
    assert.deepEqual(
      (await listLocalFiles(d)).map((f) => [f.name, f.size]),
      [
        ['model.safetensors', 10],
        ['store/w.bin', 10],
      ],
    );
    symlinkSync(path.join(outside, 'config.json'), path.join(d, 'config.json'));
    await assert.rejects(listLocalFiles(d), refused('SYMLINK_OUTSIDE_ROOT', /config\.json ->/));
  });

  it('skips hidden entries (.git, the .cache/huggingface of `hf download --local-dir`)', async () => {
    const d = tempDir();
    mkdirSync(path.join(d, '.cache', 'huggingface'), { recursive: true });
    writeFileSync(path.join(d, '.cache', 'huggingface', 'x.metadata'), 'x');
    writeFileSync(path.join(d, '.hidden'), 'x');
    symlinkSync('/nonexistent', path.join(d, '.dangling'));
    writeFileSync(path.join(d, 'config.json'), '{}');
    assert.deepEqual(
      (await listLocalFiles(d)).map((f) => f.name),
      ['config.json'],
    );
  });

  it('refuses an entry that is neither a file, a folder nor a link', async () => {
    const d = tempDir();
    await socketAt(path.join(d, 'sock'));
    await assert.rejects(listLocalFiles(d), refused('NOT_A_REGULAR_FILE', /sock/));
  });

  it("reports every problem, at most five by name, under the first one's code", async () => {
    const d = tempDir();
    for (let i = 0; i < 7; i++) symlinkSync(`missing-${i}`, path.join(d, `l${i}`));
    await assert.rejects(listLocalFiles(d), (e: unknown) => {
      assert.ok(e instanceof FerryError);
      assert.equal(e.code, 'SYMLINK_BROKEN');
      assert.match(e.message, /7 entries/);
      assert.match(e.message, /and 2 more/);
      assert.equal((e.details?.['problems'] as unknown[]).length, 7);
      return true;
    });
  });

  it('a missing folder is OBJECT_NOT_FOUND, a file is NOT_A_DIRECTORY', async () => {
    await assert.rejects(listLocalFiles('/nonexistent/ferry'), (e: unknown) => e instanceof FerryError && e.code === 'OBJECT_NOT_FOUND');
    const f = path.join(LLAMA, 'config.json');
    assert.ok(statSync(f).isFile());
    await assert.rejects(listLocalFiles(f), (e: unknown) => e instanceof FerryError && e.code === 'NOT_A_DIRECTORY');
  });
});

import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { EXIT, emit, parseCommand, type CliIo } from '../io.ts';
import { parseGsUri } from '../deps.ts';
import { formatFailure } from '../failure.ts';
import { progressRenderer, resolveProgressMode, formatBytes, formatRate, type ProgressChoice } from '../progress.ts';
import { validateCheckpoint } from '../../app/validate-checkpoint.ts';
import { bucketUploader, checkHfBlobs, localCheckpoint, localCheckpointFiles, type LocalFile } from '../../composition/cli.ts';
import { storageSettings, uploaderName } from '../settings.ts';
import { FERRY_VERSION } from '../version.ts';
import { assertHasCheckpointFiles, uploadCheckpointFiles } from '../../app/upload-checkpoint.ts';
import { isFerryError } from '../../domain/errors.ts';

/** What the folder is, not a failure to read it: exit 1 ("ran, and the answer is no"). */
const REFUSALS = new Set([
  'NO_CHECKPOINT_FILES',
  'HF_CACHE_NOT_A_SNAPSHOT',
  'SYMLINK_BROKEN',
  'SYMLINK_TO_DIRECTORY',
  'SYMLINK_OUTSIDE_ROOT',
  'SYMLINK_NOT_A_FILE',
  'NOT_A_REGULAR_FILE',
  'HF_BLOB_HASH_MISMATCH',
]);

/**
 * `ferry upload <dir> gs://…`: lists the folder (a Hugging Face cache snapshot's symlinks are
 * followed to their blobs), refuses a folder without safetensors, validates locally, then uploads
 * with progress on stderr. Exit codes: 0 uploaded, 1 refused (nothing uploaded), 2 usage or I/O error.
 */
export async function uploadCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('upload', args, io);
  if (typeof p === 'number') return p;
  const json = p.output !== 'text';
  const [dirArg, uri] = p.positional as [string, string];
  const dir = resolve(dirArg);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    io.stderr(`ferry upload: ${dirArg} is not a directory\n`);
    return EXIT.usage;
  }
  const { bucket, prefix } = parseGsUri(uri);
  const concurrency = p.flags['concurrency'] as number;
  const progressChoice = p.flags['progress'] as ProgressChoice;

  // What would be uploaded: a link that is broken, leaves the folder or points at a directory, or
  // a folder with no weights at all, is refused here, before anything is read or sent.
  let files: LocalFile[];
  try {
    files = await localCheckpointFiles(dir);
    assertHasCheckpointFiles(files, dirArg);
  } catch (e) {
    if (!isFerryError(e) || !REFUSALS.has(e.code)) throw e;
    io.stderr(formatFailure('upload', { code: e.code, message: e.message, hint: e.hint }));
    io.stderr('Nothing was uploaded.\n');
    return EXIT.failed;
  }

  // Validate locally first: a broken checkpoint is cheaper to catch before it is in the bucket.
  const report = await validateCheckpoint(await localCheckpoint(dir), '');
  if (!report.ok) {
    io.stderr(`ferry upload: ${dirArg} is not a valid checkpoint (${report.errors.length} error(s)):\n`);
    for (const f of report.errors.slice(0, 20)) io.stderr(`  ${f.code}  ${f.file}${f.tensor ? ` [${f.tensor}]` : ''}: ${f.message}\n`);
    if (!p.flags['force']) {
      io.stderr('Nothing was uploaded. Fix the checkpoint, or pass --force to upload it anyway (ferry will mark the version invalid and never deploy it).\n');
      return EXIT.failed;
    }
    io.stderr('--force: uploading anyway.\n');
  }

  const linked = files.filter((f) => f.linkTarget).length;
  const mode = resolveProgressMode(progressChoice, { isTTY: process.stderr.isTTY === true, term: io.env['TERM'], json });

  // A Hugging Face blob named by its sha256 must hash to it: a damaged download is not uploaded.
  try {
    const hf = await checkHfBlobs(files);
    files = hf.files;
    if (hf.checked && mode !== 'none')
      io.stderr(`checked the sha256 of ${hf.checked} Hugging Face blob(s) (${formatBytes(hf.bytes)}): all match their names\n`);
  } catch (e) {
    if (!isFerryError(e) || !REFUSALS.has(e.code)) throw e;
    io.stderr(formatFailure('upload', { code: e.code, message: e.message, hint: e.hint }));
    io.stderr('Nothing was uploaded.\n');
    return EXIT.failed;
  }
  if (mode !== 'none') {
    io.stderr(
      `uploading ${files.length} files (${formatBytes(files.reduce((a, f) => a + f.size, 0))}${linked ? `, ${linked} through symlinks` : ''}) to gs://${bucket}/${prefix}\n`,
    );
  }
  const progress = progressRenderer({ mode, files, write: io.stderr, now: () => performance.now(), columns: process.stderr.columns ?? 80 });
  const started = performance.now();
  let result: { files: number; bytes: number; manifest?: { generation: string; files: number } };
  try {
    result = await uploadCheckpointFiles(files, prefix, await bucketUploader(bucket, storageSettings(io.env)), {
      concurrency,
      onFileStart: (f) => progress.start(f),
      onFileBytes: (f, sent) => progress.bytes(f, sent),
      onProgress: (pr) => progress.done(pr.file),
      // ferry.manifest.json last (shared/domain/manifest.ts): validation compares the bucket with it.
      manifest: { toolVersion: FERRY_VERSION, uploader: uploaderName(io.env), now: () => new Date() },
    });
  } finally {
    progress.finish();
  }
  const seconds = (performance.now() - started) / 1000;
  if (json) {
    emit(io, p.output, { uri: `gs://${bucket}/${prefix}`, files: result.files, bytes: result.bytes, seconds, locallyValid: report.ok }, { compact: true });
  } else {
    const rate = seconds > 0 ? `, ${formatRate(result.bytes / seconds)}` : '';
    io.stdout(`uploaded ${result.files} files (${result.bytes.toLocaleString('en-US')} bytes) to gs://${bucket}/${prefix} in ${seconds.toFixed(1)} s${rate}\n`);
    io.stdout('ferry validates it when the upload completes; follow it with: ferry status\n');
  }
  return EXIT.ok;
}

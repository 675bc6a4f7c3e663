import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { EXIT, parseFlags, type CliIo } from '../io.ts';
import { parseGsUri } from '../deps.ts';
import { formatFailure } from '../failure.ts';
import { PROGRESS_CHOICES, progressRenderer, resolveProgressMode, formatBytes, formatRate, type ProgressChoice } from '../progress.ts';
import { validateCheckpoint } from '../../app/validate-checkpoint.ts';
import { listLocalFiles, localDirObjectStore, type LocalFile } from '../../adapters/local-dir.ts';
import { storageClient } from '../../adapters/gcs.ts';
import { gcsUploader } from '../../adapters/gcs-upload.ts';
import { assertHasCheckpointFiles, uploadCheckpointFiles } from '../../app/upload-checkpoint.ts';
import { isFerryError } from '../../domain/errors.ts';

/** What the folder is, not a failure to read it: exit 1 ("ran, and the answer is no"). */
const REFUSALS = new Set(['NO_CHECKPOINT_FILES', 'HF_CACHE_NOT_A_SNAPSHOT', 'SYMLINK_BROKEN', 'SYMLINK_TO_DIRECTORY', 'SYMLINK_OUTSIDE_ROOT', 'SYMLINK_NOT_A_FILE', 'NOT_A_REGULAR_FILE']);

const USAGE = 'Usage: ferry upload <dir> gs://bucket/models/<model>/<version> [--force] [--concurrency N] [--progress auto|bar|lines|none] [--json]';

/**
 * `ferry upload <dir> gs://…`: lists the folder (a Hugging Face cache snapshot's symlinks are
 * followed to their blobs), refuses a folder without safetensors, validates locally, then uploads
 * with progress on stderr. Exit codes: 0 uploaded, 1 refused (nothing uploaded), 2 usage or I/O error.
 */
export async function uploadCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, { strings: ['concurrency', 'progress'], booleans: ['force', 'json'] });
  if ('error' in p || p.positional.length !== 2) {
    io.stderr(`ferry upload: ${'error' in p ? p.error : 'needs a directory and a gs:// destination'}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const [dirArg, uri] = p.positional as [string, string];
  const dir = resolve(dirArg);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    io.stderr(`ferry upload: ${dirArg} is not a directory\n`);
    return EXIT.usage;
  }
  const { bucket, prefix } = parseGsUri(uri);
  const concurrency = Number(p.flags['concurrency'] ?? 8);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    io.stderr('ferry upload: --concurrency must be an integer from 1 to 64\n');
    return EXIT.usage;
  }
  const progressChoice = String(p.flags['progress'] ?? 'auto');
  if (!(PROGRESS_CHOICES as readonly string[]).includes(progressChoice)) {
    io.stderr(`ferry upload: --progress must be one of ${PROGRESS_CHOICES.join(', ')} (got ${JSON.stringify(progressChoice)})\n${USAGE}\n`);
    return EXIT.usage;
  }
  const json = p.flags['json'] === true;

  // What would be uploaded: a link that is broken, leaves the folder or points at a directory, or
  // a folder with no weights at all, is refused here, before anything is read or sent.
  let files: LocalFile[];
  try {
    files = await listLocalFiles(dir);
    assertHasCheckpointFiles(files, dirArg);
  } catch (e) {
    if (!isFerryError(e) || !REFUSALS.has(e.code)) throw e;
    io.stderr(formatFailure('upload', { code: e.code, message: e.message, hint: e.hint }));
    io.stderr('Nothing was uploaded.\n');
    return EXIT.failed;
  }

  // Validate locally first: a broken checkpoint is cheaper to catch before it is in the bucket.
  const report = await validateCheckpoint(localDirObjectStore(dir), '');
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
  const mode = resolveProgressMode(progressChoice as ProgressChoice, { isTTY: process.stderr.isTTY === true, term: io.env['TERM'], json });
  if (mode !== 'none') {
    io.stderr(`uploading ${files.length} files (${formatBytes(files.reduce((a, f) => a + f.size, 0))}${linked ? `, ${linked} through symlinks` : ''}) to gs://${bucket}/${prefix}\n`);
  }
  const progress = progressRenderer({ mode, files, write: io.stderr, now: () => performance.now(), columns: process.stderr.columns ?? 80 });
  const started = performance.now();
  let result: { files: number; bytes: number };
  try {
    result = await uploadCheckpointFiles(files, prefix, gcsUploader(bucket, storageClient(io.env)), {
      concurrency,
      onFileStart: (f) => progress.start(f),
      onFileBytes: (f, sent) => progress.bytes(f, sent),
      onProgress: (pr) => progress.done(pr.file),
    });
  } finally {
    progress.finish();
  }
  const seconds = (performance.now() - started) / 1000;
  if (json) {
    io.stdout(JSON.stringify({ uri: `gs://${bucket}/${prefix}`, files: result.files, bytes: result.bytes, seconds, locallyValid: report.ok }) + '\n');
  } else {
    const rate = seconds > 0 ? `, ${formatRate(result.bytes / seconds)}` : '';
    io.stdout(`uploaded ${result.files} files (${result.bytes.toLocaleString('en-US')} bytes) to gs://${bucket}/${prefix} in ${seconds.toFixed(1)} s${rate}\n`);
    io.stdout('ferry validates it when the upload completes; follow it with: ferry status\n');
  }
  return EXIT.ok;
}

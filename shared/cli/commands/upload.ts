import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { EXIT, parseFlags, type CliIo } from '../io.ts';
import { parseGsUri } from '../deps.ts';
import { validateCheckpoint } from '../../app/validate-checkpoint.ts';
import { localDirObjectStore } from '../../adapters/local-dir.ts';
import { storageClient } from '../../adapters/gcs.ts';
import { gcsUploader } from '../../adapters/gcs-upload.ts';
import { localFiles } from '../../adapters/local-files.ts';
import { uploadCheckpointDir } from '../../app/upload-checkpoint.ts';

const USAGE = 'Usage: ferry upload <dir> gs://bucket/models/<model>/<version> [--force] [--concurrency N] [--json]';

export async function uploadCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, { strings: ['concurrency'], booleans: ['force', 'json'] });
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
  const started = Date.now();
  const result = await uploadCheckpointDir(dir, prefix, { files: localFiles(), uploader: gcsUploader(bucket, storageClient(io.env)) }, {
    concurrency,
    onProgress: (pr) => {
      if (!p.flags['json']) {
        const pct = pr.totalBytes ? Math.round((100 * pr.doneBytes) / pr.totalBytes) : 100;
        io.stderr(`  [${String(pr.doneFiles).padStart(String(pr.totalFiles).length)}/${pr.totalFiles}] ${pct.toString().padStart(3)}%  ${pr.file} (${pr.bytes.toLocaleString('en-US')} B)\n`);
      }
    },
  });
  const seconds = (Date.now() - started) / 1000;
  if (p.flags['json']) {
    io.stdout(JSON.stringify({ uri: `gs://${bucket}/${prefix}`, files: result.files, bytes: result.bytes, seconds, locallyValid: report.ok }) + '\n');
  } else {
    io.stdout(`uploaded ${result.files} files (${result.bytes.toLocaleString('en-US')} bytes) to gs://${bucket}/${prefix} in ${seconds.toFixed(1)} s\n`);
    io.stdout('ferry validates it when the upload completes; follow it with: ferry status\n');
  }
  return EXIT.ok;
}

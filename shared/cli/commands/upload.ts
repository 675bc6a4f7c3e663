import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { EXIT, emit, parseCommand, type CliIo } from '../io.ts';
import { parseGsUri } from '../deps.ts';
import { validateCheckpoint } from '../../app/validate-checkpoint.ts';
import { localDirObjectStore } from '../../adapters/local-dir.ts';
import { storageClient } from '../../adapters/gcs.ts';
import { gcsUploader } from '../../adapters/gcs-upload.ts';
import { uploadCheckpointDir } from '../../app/upload-checkpoint.ts';

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
  const result = await uploadCheckpointDir(dir, prefix, gcsUploader(bucket, storageClient(io.env)), {
    concurrency,
    onProgress: (pr) => {
      if (!json) {
        const pct = pr.totalBytes ? Math.round((100 * pr.doneBytes) / pr.totalBytes) : 100;
        io.stderr(`  [${String(pr.doneFiles).padStart(String(pr.totalFiles).length)}/${pr.totalFiles}] ${pct.toString().padStart(3)}%  ${pr.file} (${pr.bytes.toLocaleString('en-US')} B)\n`);
      }
    },
  });
  const seconds = (Date.now() - started) / 1000;
  if (json) {
    emit(io, p.output, { uri: `gs://${bucket}/${prefix}`, files: result.files, bytes: result.bytes, seconds, locallyValid: report.ok }, { compact: true });
  } else {
    io.stdout(`uploaded ${result.files} files (${result.bytes.toLocaleString('en-US')} bytes) to gs://${bucket}/${prefix} in ${seconds.toFixed(1)} s\n`);
    io.stdout('ferry validates it when the upload completes; follow it with: ferry status\n');
  }
  return EXIT.ok;
}

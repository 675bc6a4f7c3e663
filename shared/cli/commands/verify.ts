/**
 * `ferry verify <dir | gs://bucket/prefix> [--full]` (issue #20): are the bytes the bytes uploaded?
 * Without --full: the listing against `ferry.manifest.json` (sizes, CRC32Cs). With --full: every
 * byte read and hashed (CRC32C and sha256), compared with GCS's stored CRC32C, the manifest and the
 * sha256 a Hugging Face blob is named by. Exit codes as validate: 0 verified, 1 a mismatch,
 * 2 usage or I/O error.
 */
import { basename, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { asFerryError } from '../../domain/errors.ts';
import { hfBlobSha256 } from '../../domain/manifest.ts';
import type { ObjectStore } from '../../ports/object-store.ts';
import { bucketObjects, localCheckpoint, localCheckpointFiles } from '../../composition/cli.ts';
import { verifyCheckpoint, type VerifyProgress, type VerifyReport } from '../../app/verify-checkpoint.ts';
import { EXIT, emit, parseCommand, type CliIo } from '../io.ts';
import { storageSettings } from '../settings.ts';
import { parseGcsUrl } from './validate.ts';
import { formatBytes, formatDuration, formatRate, resolveProgressMode, type ProgressChoice } from '../progress.ts';

export async function verifyCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('verify', args, io);
  if (typeof p === 'number') return p;
  const target = p.positional[0]!;
  const full = p.flags['full'] === true;
  const concurrency = p.flags['concurrency'] as number;
  const json = p.output !== 'text';

  let store: ObjectStore;
  let prefix = '';
  let expectedSha256: Map<string, string> | undefined;
  try {
    if (target.startsWith('gs:')) {
      const url = parseGcsUrl(target);
      if ('error' in url) {
        io.stderr(`ferry verify: ${url.error}\n`);
        return EXIT.usage;
      }
      store = await bucketObjects(url.bucket, storageSettings(io.env));
      prefix = url.prefix;
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      io.stderr(`ferry verify: "${target}": only local directories and gs://bucket/prefix are supported\n`);
      return EXIT.usage;
    } else {
      const st = await stat(target).catch(() => undefined);
      if (!st?.isDirectory()) {
        io.stderr(`ferry verify: ${target} ${st ? 'is not a directory' : 'does not exist'}\n`);
        return EXIT.usage;
      }
      const dir = resolve(target);
      store = await localCheckpoint(dir);
      // A Hugging Face snapshot: each link to blobs/<sha256> says what its bytes must hash to.
      expectedSha256 = new Map();
      for (const f of await localCheckpointFiles(dir)) {
        const sha = f.linkTarget ? hfBlobSha256(basename(f.linkTarget)) : undefined;
        if (sha) expectedSha256.set(f.name, sha);
      }
    }
  } catch (e) {
    return ioFailure(io, e, json, p.output);
  }

  const mode = resolveProgressMode(p.flags['progress'] as ProgressChoice, { isTTY: process.stderr.isTTY === true, term: io.env['TERM'], json });
  const meter = progressLine(mode, io, () => performance.now());
  let report: VerifyReport;
  try {
    report = await verifyCheckpoint(store, prefix, {
      full,
      concurrency,
      ...(expectedSha256 ? { expectedSha256 } : {}),
      ...(full && mode !== 'none' ? { onProgress: meter.update } : {}),
    });
  } catch (e) {
    meter.finish();
    return ioFailure(io, e, json, p.output);
  }
  meter.finish();

  if (json) emit(io, p.output, report, { compact: true });
  else io.stdout(humanVerify(report));
  return report.ok ? EXIT.ok : EXIT.failed;
}

function ioFailure(io: CliIo, e: unknown, json: boolean, output: Parameters<typeof emit>[1]): number {
  const err = asFerryError(e, 'STORAGE_ERROR');
  io.stderr(`ferry verify: ${err.code}: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}\n`);
  if (json) emit(io, output, { ok: false, error: err.toJSON() }, { compact: true });
  return EXIT.usage;
}

/** Bytes, rate and ETA on stderr: a line at most every 2 s (or one line redrawn on a terminal). */
export function progressLine(mode: 'bar' | 'lines' | 'none', io: Pick<CliIo, 'stderr'>, now: () => number) {
  const started = now();
  let last = -Infinity;
  let shown: VerifyProgress | undefined;
  const text = (p: VerifyProgress) => {
    const secs = (now() - started) / 1000;
    const rate = secs > 0 ? p.doneBytes / secs : undefined;
    const eta = rate ? (p.totalBytes - p.doneBytes) / rate : undefined;
    const pct = p.totalBytes ? Math.floor((100 * p.doneBytes) / p.totalBytes) : 100;
    return `verify: ${formatBytes(p.doneBytes)} / ${formatBytes(p.totalBytes)} (${pct}%), ${formatRate(rate)}, ETA ${formatDuration(eta)}, ${p.doneFiles}/${p.totalFiles} files`;
  };
  return {
    update: (p: VerifyProgress) => {
      shown = p;
      if (mode === 'none') return;
      const t = now();
      if (t - last < (mode === 'bar' ? 200 : 2000) && p.doneBytes < p.totalBytes) return;
      last = t;
      io.stderr(mode === 'bar' ? `\r${text(p)}\x1b[K` : `${text(p)}\n`);
    },
    finish: () => {
      if (mode === 'bar' && shown) io.stderr('\n');
    },
  };
}

export function humanVerify(r: VerifyReport): string {
  const lines: string[] = [];
  const what = r.full ? 'every byte read' : 'listing only (pass --full to read every byte)';
  lines.push(`${r.ok ? 'VERIFIED' : 'MISMATCH'}  ${r.location}  (${r.files.length} files, ${what})`);
  lines.push(`  manifest    ${r.manifest === 'present' ? 'ferry.manifest.json compared' : r.manifest === 'absent' ? 'no manifest' : 'invalid'}`);
  lines.push(`  io          ${r.requests} requests, ${r.bytesRead.toLocaleString('en-US')} bytes read`);
  if (r.full) {
    for (const f of r.files) {
      lines.push(`  ${f.crc32c ?? '?'}  ${f.sha256 ?? ''}  ${f.name}${f.comparedWith.length ? `  (= ${f.comparedWith.join(', ')})` : ''}`);
    }
  }
  for (const e of r.errors) lines.push(`  error  ${e.code}  ${e.message}`);
  return lines.join('\n') + '\n';
}

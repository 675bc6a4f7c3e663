/**
 * `ferry validate <dir | gs://bucket/prefix> [--json]`
 *
 * Validates a checkpoint from its safetensors headers, index and config. Exit codes: 0 valid
 * (warnings allowed), 1 invalid, 2 usage or I/O error.
 */
import { stat } from 'node:fs/promises';
import { asFerryError } from '../../domain/errors.ts';
import type { Finding } from '../../domain/findings.ts';
import type { ObjectStore } from '../../ports/object-store.ts';
import { bucketObjects, localCheckpoint } from '../../composition/cli.ts';
import { storageSettings } from '../settings.ts';
import { validateCheckpoint, type ValidationReport } from '../../app/validate-checkpoint.ts';
import { emit, parseCommand } from '../io.ts';

export interface CommandIo {
  stdout(s: string): void;
  stderr(s: string): void;
  env: Record<string, string | undefined>;
}

export const EXIT_VALID = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE_OR_IO = 2;

export type Target = { kind: 'local'; dir: string } | { kind: 'gcs'; bucket: string; prefix: string };

/** Parses a `gs://bucket/prefix` URL strictly; returns an error message when it is not one. */
export function parseGcsUrl(url: string): { bucket: string; prefix: string } | { error: string } {
  const m = /^gs:\/\/([^/]*)(?:\/(.*))?$/s.exec(url);
  if (!m) return { error: `"${url}" is not a gs://bucket/prefix URL` };
  const bucket = m[1]!;
  const prefix = m[2] ?? '';
  if (bucket === '') return { error: `"${url}" has no bucket name` };
  const bucketOk =
    /^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(bucket) &&
    bucket.length >= 3 &&
    (bucket.includes('.') ? bucket.length <= 222 && bucket.split('.').every((c) => c.length > 0 && c.length <= 63) : bucket.length <= 63) &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(bucket) &&
    !bucket.startsWith('goog');
  if (!bucketOk) {
    return { error: `"${bucket}" is not a valid bucket name (3–63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit)` };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(prefix)) return { error: 'the prefix contains control characters' };
  const segments = prefix.replace(/\/$/, '').split('/');
  if (prefix !== '' && segments.some((s) => s === '' || s === '.' || s === '..')) {
    return { error: `the prefix "${prefix}" has an empty, '.' or '..' path segment` };
  }
  return { bucket, prefix };
}

export async function validateCommand(args: string[], io: CommandIo): Promise<number> {
  const p = parseCommand('validate', args, io);
  if (typeof p === 'number') return p;
  const parsed = { target: p.positional[0]!, output: p.output, concurrency: p.flags['concurrency'] as number };

  let store: ObjectStore;
  let prefix: string;
  if (parsed.target.startsWith('gs:')) {
    const url = parseGcsUrl(parsed.target);
    if ('error' in url) {
      io.stderr(`ferry validate: ${url.error}\n`);
      return EXIT_USAGE_OR_IO;
    }
    store = await bucketObjects(url.bucket, storageSettings(io.env));
    prefix = url.prefix;
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(parsed.target)) {
    io.stderr(`ferry validate: "${parsed.target}": only local directories and gs://bucket/prefix are supported\n`);
    return EXIT_USAGE_OR_IO;
  } else {
    const st = await stat(parsed.target).catch(() => undefined);
    if (!st?.isDirectory()) {
      io.stderr(`ferry validate: ${parsed.target} ${st ? 'is not a directory' : 'does not exist'}\n`);
      return EXIT_USAGE_OR_IO;
    }
    store = await localCheckpoint(parsed.target);
    prefix = '';
  }

  let report: ValidationReport;
  try {
    report = await validateCheckpoint(store, prefix, { concurrency: parsed.concurrency });
  } catch (e) {
    const err = asFerryError(e, 'STORAGE_ERROR');
    io.stderr(`ferry validate: ${err.code}: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}\n`);
    if (parsed.output !== 'text') emit(io, parsed.output, { ok: false, error: err.toJSON() }, { compact: true });
    return EXIT_USAGE_OR_IO;
  }

  if (parsed.output === 'text') io.stdout(humanReport(report));
  else emit(io, parsed.output, jsonReport(report), { compact: true });
  return report.ok ? EXIT_VALID : EXIT_INVALID;
}

/** The `--json` object: {ok, errors, warnings, summary, io} plus where it was and what it saw. */
export function jsonReport(r: ValidationReport): Record<string, unknown> {
  const strip = (f: Finding) => ({ code: f.code, file: f.file, ...(f.tensor !== undefined ? { tensor: f.tensor } : {}), message: f.message });
  return {
    ok: r.ok,
    location: r.location,
    errors: r.errors.map(strip),
    warnings: r.warnings.map(strip),
    summary: r.summary,
    io: r.io,
    files: r.files,
  };
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const plural = (n: number, word: string): string => `${fmt(n)} ${word}${n === 1 ? '' : 's'}`;

export function humanReport(r: ValidationReport): string {
  const lines: string[] = [];
  const counts = `${plural(r.errors.length, 'error')}, ${plural(r.warnings.length, 'warning')}`;
  lines.push(r.ok ? `VALID    ${r.location}  (${counts})` : `INVALID  ${r.location}  (${counts})`);
  lines.push('');
  const s = r.summary;
  lines.push(`  layout      ${s.layout}, ${plural(s.shards, 'shard')}, ${plural(s.tensors, 'tensor')}`);
  const byDtype = Object.entries(s.parametersByDtype)
    .map(([d, n]) => `${d} ${fmt(n)}`)
    .join(', ');
  lines.push(`  parameters  ${fmt(s.parameters)}${byDtype ? ` (${byDtype})` : ''}`);
  lines.push(`  bytes       ${fmt(s.tensorBytes)} of tensors, ${fmt(s.headerBytes)} of headers, ${fmt(s.shardBytes)} in shard files`);
  if (s.config) {
    const c = s.config;
    const dims = [
      c.numLayers !== null ? `${c.numLayers} layers` : null,
      c.hiddenSize !== null ? `hidden ${c.hiddenSize}` : null,
      c.numHeads !== null ? `${c.numHeads} heads` : null,
      c.numKvHeads !== null ? `${c.numKvHeads} kv-heads` : null,
      c.torchDtype,
      c.quantization ? `quantization ${c.quantization}` : null,
    ].filter((x) => x !== null);
    lines.push(`  config      ${c.architectures.join(', ') || '?'} (${c.modelType ?? '?'})${dims.length ? `: ${dims.join(', ')}` : ''}`);
  }
  lines.push(`  io          ${plural(r.io.requests, 'request')}, ${fmt(r.io.bytesRead)} bytes read`);

  const all = [...r.errors, ...r.warnings];
  if (all.length > 0) {
    const byFile = new Map<string, Finding[]>();
    for (const f of all) {
      const list = byFile.get(f.file);
      if (list) list.push(f);
      else byFile.set(f.file, [f]);
    }
    for (const [file, findings] of byFile) {
      lines.push('', file || '(checkpoint)');
      for (const f of findings) {
        lines.push(`  ${f.severity.padEnd(7)}  ${f.code}  ${f.tensor !== undefined ? `${f.tensor}: ` : ''}${f.message}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * The deploy request a `deploy` or `render` command line describes: `-f FILE` (or `-f -` for
 * stdin) gives any field of the request, then `<model>@<version>` and the flags given on the
 * command line override it. The result is checked by the caller with the same zod schema the
 * deploy function uses (domain/deploy-request.ts parseDeployRequest).
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { API_VERSION, MAX_REQUEST_BYTES, parseDeployRequest, type DeployRequest } from '../domain/deploy-request.ts';
import { EXIT, usageError, type CliIo } from './io.ts';
import type { Parsed } from './spec.ts';

export function cliPrincipal(): string {
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function readRequestFile(name: string, file: string, io: CliIo): Promise<Record<string, unknown> | number> {
  let text: string;
  try {
    if (file === '-') {
      if (!io.readStdin) return usageError(name, '-f -: there is no standard input to read', io);
      text = await io.readStdin();
    } else {
      text = await readFile(file, 'utf8');
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    io.stderr(
      `ferry ${name}: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : e instanceof Error ? e.message : String(e)}\n`,
    );
    return EXIT.usage;
  }
  if (Buffer.byteLength(text) > MAX_REQUEST_BYTES) {
    io.stderr(`ferry ${name}: ${file} is ${Buffer.byteLength(text)} bytes; a deploy request is at most ${MAX_REQUEST_BYTES}\n`);
    return EXIT.usage;
  }
  let value: unknown;
  try {
    value = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (e) {
    io.stderr(`ferry ${name}: ${file === '-' ? 'standard input' : file} is not JSON: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
  if (!isObject(value)) {
    io.stderr(`ferry ${name}: ${file === '-' ? 'standard input' : file} must hold one JSON object (a deploy request; see ferry schema deploy-request)\n`);
    return EXIT.usage;
  }
  return value;
}

/**
 * The request input: file fields, overridden by the positional `<model>@<version>` and by each flag
 * given (not by defaults). requestedBy is always this CLI's user: the CLI is who publishes it.
 */
export async function requestInput(name: string, p: Parsed, io: CliIo): Promise<Record<string, unknown> | number> {
  const file = p.flags['filename'] as string | undefined;
  const base = file !== undefined ? await readRequestFile(name, file, io) : {};
  if (typeof base === 'number') return base;
  const r: Record<string, unknown> = { apiVersion: API_VERSION, ...base };
  const at = p.positional[0];
  if (at !== undefined) {
    const m = /^([^@]+)@([^@]+)$/.exec(at);
    if (!m) return usageError(name, `write the model as <model>@<version> (or <model>@latest), got ${JSON.stringify(at)}`, io);
    r['model'] = m[1];
    r['version'] = m[2];
  } else if (file === undefined) {
    return usageError(name, 'give <model>@<version>, or a request file with -f', io);
  }
  const given = (k: string) => p.given.has(k);
  const target = isObject(r['target']) ? { ...r['target'] } : {};
  for (const k of ['cluster', 'namespace', 'name']) if (given(k)) target[k] = p.flags[k];
  const missing = ['cluster', 'namespace', 'name'].filter((k) => target[k] === undefined);
  if (missing.length) return usageError(name, `missing ${missing.map((k) => `--${k}`).join(', ')}${file !== undefined ? ` (not in ${file} either)` : ''}`, io);
  r['target'] = target;

  const fileAcc = isObject(r['accelerator']) ? r['accelerator'] : undefined;
  if (given('accelerator')) {
    // A new type: the file's count and topology belonged to the old one.
    r['accelerator'] = { type: p.flags['accelerator'], count: p.flags['gpus'] };
  } else if (given('gpus')) {
    if (!fileAcc) return usageError(name, '--gpus goes with --accelerator (without both, ferry sizes the model)', io);
    const { topology: _t, ...rest } = fileAcc;
    r['accelerator'] = { ...rest, count: p.flags['gpus'] };
  }
  if (given('replicas')) r['replicas'] = p.flags['replicas'];
  if (given('image')) r['image'] = p.flags['image'];
  if (given('tp')) r['tensorParallelSize'] = p.flags['tp'];
  if (given('progress-deadline')) r['progressDeadlineSeconds'] = p.flags['progress-deadline'];
  if (given('cache')) r['cache'] = { ...(isObject(r['cache']) ? r['cache'] : {}), mode: p.flags['cache'] };
  if (given('vllm-arg')) r['vllmArgs'] = p.flags['vllm-arg'];
  if (given('idempotency-key')) r['idempotencyKey'] = p.flags['idempotency-key'];
  r['requestedBy'] = { source: 'cli', principal: cliPrincipal() };
  return r;
}

/** requestInput, checked with the deploy function's schema; on error, every issue on its own line. */
export async function deployRequestFrom(name: string, p: Parsed, io: CliIo): Promise<DeployRequest | number> {
  const input = await requestInput(name, p, io);
  if (typeof input === 'number') return input;
  return checkRequest(name, input, io);
}

export function checkRequest(name: string, input: unknown, io: CliIo): DeployRequest | number {
  const checked = parseDeployRequest(JSON.stringify(input));
  if (checked.ok) return checked.request;
  const issues = checked.issues ?? [];
  io.stderr(`ferry ${name}: invalid deploy request (${checked.reason}): ${issues.length > 1 ? `${issues.length} problems` : checked.message}\n`);
  if (issues.length > 1) for (const i of issues) io.stderr(`  ${i.path}: ${i.message}\n`);
  io.stderr('  The schema: ferry schema deploy-request\n');
  return EXIT.usage;
}

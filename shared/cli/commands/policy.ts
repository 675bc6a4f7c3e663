/**
 * `ferry policy show | set -f FILE [--dry-run] | history`: the deploy policy (shared/domain/policy.ts)
 * in Firestore. `set` parses the document strictly (every problem named by its path), prints the
 * diff against the current version and stores it as the next version, with an audit record, only
 * if nobody changed it in between. Who may run `set` against production is Firestore IAM
 * (infra/firestore.tf); the functions only read the policy.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { EXIT, emit, parseCommand, usageError, type CliIo } from '../io.ts';
import { cliState } from '../deps.ts';
import { didYouMean } from '../spec.ts';
import { parsePolicy, policyDiff, type PolicyDoc } from '../../domain/policy.ts';

/** A policy is a few KiB; anything near this is a mistake (a wrong file). */
const MAX_POLICY_BYTES = 256 * 1024;

async function readPolicyFile(file: string, io: CliIo): Promise<unknown | number> {
  let text: string;
  try {
    if (file === '-') {
      if (!io.readStdin) return usageError('policy', '-f -: there is no standard input to read', io);
      text = await io.readStdin();
    } else text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    io.stderr(
      `ferry policy: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : e instanceof Error ? e.message : String(e)}\n`,
    );
    return EXIT.usage;
  }
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    io.stderr(`ferry policy: ${file} is ${Buffer.byteLength(text)} bytes; a policy is at most ${MAX_POLICY_BYTES}\n`);
    return EXIT.usage;
  }
  try {
    return JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text) as unknown;
  } catch (e) {
    io.stderr(`ferry policy: ${file} is not JSON: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
}

/** Who the audit record names: FERRY_ACTOR when set (CI), else the local user and host. */
export const actor = (env: Record<string, string | undefined>): string =>
  env['FERRY_ACTOR'] ?? `cli:${env['USER'] ?? env['USERNAME'] ?? 'unknown'}@${hostname()}`;

export async function policyCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('policy', args, io);
  if (typeof p === 'number') return p;
  const what = p.positional[0]!;
  if (!['show', 'set', 'history'].includes(what)) {
    return usageError('policy', `no subcommand ${JSON.stringify(what)}: show, set or history${didYouMean(what, ['show', 'set', 'history'])}`, io);
  }
  const file = p.flags['filename'] as string | undefined;
  if (what === 'set' && file === undefined) return usageError('policy', 'set needs the document: -f policy.json', io);
  if (what !== 'set' && file !== undefined) return usageError('policy', `-f is for set, not ${what}`, io);

  // Read and check the file before touching any backend: a bad document needs no stack.
  let next: PolicyDoc | undefined;
  if (what === 'set') {
    const raw = await readPolicyFile(file!, io);
    if (typeof raw === 'number') return raw;
    const parsed = parsePolicy(raw);
    if (!parsed.ok) {
      io.stderr(`ferry policy: ${file} is not a valid policy (${parsed.issues.length} problem${parsed.issues.length === 1 ? '' : 's'}):\n`);
      for (const i of parsed.issues) io.stderr(`  ${i.path}: ${i.message}\n`);
      io.stderr('Fix them and run `ferry policy set -f` again (docs/policy.md describes every field).\n');
      return EXIT.failed;
    }
    next = parsed.policy;
  }

  const { policy: store } = await cliState(io.env);
  const stored = await store.current();

  if (what === 'history') {
    const records = await store.history(Number(p.flags['limit'] ?? 10));
    if (p.output !== 'text') emit(io, p.output, records);
    else if (records.length === 0) io.stdout('no policy has been set yet\n');
    else for (const r of records) io.stdout(`v${r.version}  ${r.at}  ${r.by}  ${r.diff.length} changed line(s)\n`);
    return EXIT.ok;
  }

  if (what === 'show') {
    if (!stored) {
      io.stderr(
        'ferry policy: no deploy policy is set, so every deploy is refused (POLICY_MISSING).\nSet one with `ferry policy set -f policy.json` (docs/policy.md has a starting point).\n',
      );
      return EXIT.failed;
    }
    const parsed = parsePolicy(stored.policy);
    if (p.output !== 'text')
      emit(io, p.output, { version: stored.version, updatedAt: stored.updatedAt, updatedBy: stored.updatedBy, valid: parsed.ok, policy: stored.policy });
    else {
      io.stdout(`# version ${stored.version}, set ${stored.updatedAt} by ${stored.updatedBy}\n${JSON.stringify(stored.policy, null, 2)}\n`);
      if (!parsed.ok)
        io.stderr(
          `ferry policy: the stored policy is invalid, so every deploy is refused (POLICY_INVALID):\n${parsed.issues.map((i) => `  ${i.path}: ${i.message}\n`).join('')}`,
        );
    }
    return parsed.ok ? EXIT.ok : EXIT.failed;
  }

  // set
  const before = stored ? parsePolicy(stored.policy) : null;
  const diff = policyDiff(before?.ok ? before.policy : null, next!);
  const dryRun = p.flags['dry-run'] === true;
  if (stored && before?.ok && diff.length === 0) {
    if (p.output !== 'text') emit(io, p.output, { changed: false, version: stored.version, diff });
    else io.stdout(`no change: the policy is already this document (version ${stored.version})\n`);
    return EXIT.ok;
  }
  if (p.output === 'text') io.stdout(`${diff.join('\n')}\n`);
  if (dryRun) {
    if (p.output !== 'text') emit(io, p.output, { changed: true, dryRun: true, fromVersion: stored?.version ?? null, diff });
    else io.stdout(`dry run: would store this as version ${(stored?.version ?? 0) + 1}; nothing written\n`);
    return EXIT.ok;
  }
  const by = actor(io.env);
  const r = await store.replace({ policy: next!, expectedVersion: stored?.version ?? null, by, now: new Date(), diff });
  if (!r.ok) {
    io.stderr(
      `ferry policy: someone else changed the policy meanwhile (now version ${r.currentVersion ?? 'none'}); nothing written.\nRun \`ferry policy show\`, merge, and set it again.\n`,
    );
    return EXIT.failed;
  }
  if (p.output !== 'text') emit(io, p.output, { changed: true, version: r.version, by, diff });
  else io.stdout(`stored as version ${r.version} (audit record by ${by})\n`);
  return EXIT.ok;
}

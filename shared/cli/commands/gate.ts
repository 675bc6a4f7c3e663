/**
 * `ferry gate show <model> | set <model> -f FILE [--dry-run] | clear <model>`: a model's default
 * promotion gate (shared/domain/gate.ts, docs/gate.md), the golden prompts every rollout of the
 * model must answer right when its deploy request carries no gate of its own. `set` checks the file
 * strictly (every problem named by its path) before any backend is asked, then stores it in
 * Firestore (models/{model}/settings/gate) and prints what was stored. Anyone who can run the CLI
 * with write access to ferry's Firestore database may set a gate.
 */
import { readFile } from 'node:fs/promises';
import { EXIT, emit, parseCommand, usageError, type CliIo } from '../io.ts';
import { cliState } from '../deps.ts';
import { didYouMean } from '../spec.ts';
import { actor } from './policy.ts';
import { ModelName } from '../../domain/names.ts';
import { describeGateLines, parseGate, type Gate } from '../../domain/gate.ts';
import type { StoredGate } from '../../ports/gate-store.ts';

/** A gate file is at most a few KiB; the gate itself is capped at 48 KiB serialized. */
const MAX_GATE_FILE_BYTES = 64 * 1024;
const SUBCOMMANDS = ['show', 'set', 'clear'];

/** A gate file (`-` for stdin) as JSON, or the exit code after saying what is wrong. `name`: the command. */
export async function readGateFile(file: string, io: CliIo, name = 'gate'): Promise<unknown | number> {
  let text: string;
  try {
    if (file === '-') {
      if (!io.readStdin) return usageError(name, `${name === 'gate' ? '-f' : '--gate'} -: there is no standard input to read`, io);
      text = await io.readStdin();
    } else text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    io.stderr(
      `ferry ${name}: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : e instanceof Error ? e.message : String(e)}\n`,
    );
    return EXIT.usage;
  }
  if (Buffer.byteLength(text) > MAX_GATE_FILE_BYTES) {
    io.stderr(`ferry ${name}: ${file} is ${Buffer.byteLength(text)} bytes; a gate file is at most ${MAX_GATE_FILE_BYTES}\n`);
    return EXIT.failed;
  }
  try {
    return JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text) as unknown;
  } catch (e) {
    io.stderr(`ferry ${name}: ${file} is not JSON: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
}

/** The gate in `raw`, or EXIT.failed after naming every problem (INVALID_GATE). */
export function checkedGate(raw: unknown, file: string, io: CliIo, name = 'gate'): Gate | number {
  const parsed = parseGate(raw);
  if (parsed.ok) return parsed.gate;
  io.stderr(`ferry ${name}: ${file} is not a valid gate (INVALID_GATE, ${parsed.issues.length} problem${parsed.issues.length === 1 ? '' : 's'}):\n`);
  for (const i of parsed.issues) io.stderr(`  ${i.path}: ${i.message}\n`);
  io.stderr(`Fix them and run \`ferry ${name}\` again (docs/gate.md lists every rule and cap).\n`);
  return EXIT.failed;
}

const showText = (s: StoredGate): string =>
  `default gate of ${s.model} (revision ${s.revision}, set ${s.updatedAt} by ${s.updatedBy})\n${describeGateLines(s.gate).join('\n')}\n`;

export async function gateCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('gate', args, io);
  if (typeof p === 'number') return p;
  const what = p.positional[0]!;
  if (!SUBCOMMANDS.includes(what)) return usageError('gate', `no subcommand ${JSON.stringify(what)}: show, set or clear${didYouMean(what, SUBCOMMANDS)}`, io);
  const model = ModelName.safeParse(p.positional[1]);
  if (!model.success) return usageError('gate', model.error.issues[0]!.message, io);
  const file = p.flags['filename'] as string | undefined;
  const dryRun = p.flags['dry-run'] === true;
  if (what === 'set' && file === undefined) return usageError('gate', 'set needs the gate: -f gate.json (or -f - for stdin)', io);
  if (what !== 'set' && file !== undefined) return usageError('gate', `-f is for set, not ${what}`, io);
  if (what !== 'set' && dryRun) return usageError('gate', `--dry-run is for set, not ${what}`, io);

  // Read and check the file before touching any backend: a bad gate needs no stack.
  let next: Gate | undefined;
  if (what === 'set') {
    const raw = await readGateFile(file!, io);
    if (typeof raw === 'number') return raw;
    const parsed = checkedGate(raw, file!, io);
    if (typeof parsed === 'number') return parsed;
    next = parsed;
    if (dryRun) {
      if (p.output !== 'text') emit(io, p.output, { model: model.data, dryRun: true, gate: next });
      else io.stdout(`${file} is a valid gate; nothing stored (dry run)\n${describeGateLines(next).join('\n')}\n`);
      return EXIT.ok;
    }
  }

  const { gates, state } = await cliState(io.env);

  if (what === 'show') {
    const stored = await gates.get(model.data);
    if (p.output !== 'text') emit(io, p.output, stored ?? { model: model.data, gate: null });
    else if (!stored)
      io.stdout(
        `${model.data} has no default gate: its rollouts are gated only when the deploy request carries one.\nSet one with \`ferry gate set ${model.data} -f gate.json\` (docs/gate.md).\n`,
      );
    else io.stdout(showText(stored));
    return EXIT.ok;
  }

  if (what === 'clear') {
    const removed = await gates.delete(model.data);
    if (p.output !== 'text') emit(io, p.output, { model: model.data, removed });
    else io.stdout(removed ? `removed the default gate of ${model.data}\n` : `${model.data} had no default gate; nothing to remove\n`);
    return EXIT.ok;
  }

  // set
  const stored = await gates.set(model.data, next!, actor(io.env), new Date());
  if (p.output !== 'text') emit(io, p.output, stored);
  else io.stdout(`stored: ${showText(stored)}`);
  if (!(await state.getModel(model.data)))
    io.stderr(`ferry gate: note: no version of ${model.data} has been uploaded yet; the gate applies to its rollouts once there are some\n`);
  return EXIT.ok;
}

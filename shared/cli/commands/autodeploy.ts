import { EXIT, emit, parseCommand, usageError, type CliIo } from '../io.ts';
import { cliState } from '../deps.ts';
import { AutodeployTarget } from '../../domain/version.ts';
import { ModelName, Target, targetKey } from '../../domain/names.ts';
import { describeIssues } from '../../domain/events.ts';
import { checkedGate, readGateFile } from './gate.ts';

/** The flag that set a field of the target, for error messages. */
const FLAG_OF: Readonly<Record<string, string>> = { accelerator: '--accelerator', 'accelerator.type': '--accelerator', 'accelerator.count': '--gpus' };

/**
 * `ferry autodeploy <model> --cluster C --namespace NS --name D [--accelerator T [--gpus N]] [--replicas N]`
 * (also `--remove`, `--list`). When a version of <model> becomes valid, ferry publishes one deploy
 * request per target (requestedBy: upload); without --accelerator it is sized from the checkpoint
 * exactly as `ferry deploy` is. Invalid versions are never deployed.
 */
export async function autodeployCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('autodeploy', args, io);
  if (typeof p === 'number') return p;
  const model = ModelName.safeParse(p.positional[0]);
  if (!model.success) return usageError('autodeploy', model.error.issues[0]!.message, io);
  if (p.flags['list'] && p.flags['remove']) return usageError('autodeploy', '--list and --remove do not go together', io);
  if (p.given.has('gpus') && !p.given.has('accelerator'))
    return usageError('autodeploy', '--gpus goes with --accelerator (without both, ferry sizes each version)', io);

  if (p.given.has('gate') && (p.flags['list'] || p.flags['remove']))
    return usageError('autodeploy', '--gate goes with setting a target, not --list or --remove', io);
  // The gate file is checked before any backend is asked, as `ferry gate set` does.
  let gate: unknown;
  if (p.flags['gate'] !== undefined) {
    const file = p.flags['gate'] as string;
    const raw = await readGateFile(file, io, 'autodeploy');
    if (typeof raw === 'number') return raw;
    const checked = checkedGate(raw, file, io, 'autodeploy');
    if (typeof checked === 'number') return checked;
    gate = checked;
  }

  let target: AutodeployTarget | undefined;
  if (!p.flags['list']) {
    const where = { cluster: p.flags['cluster'], namespace: p.flags['namespace'], name: p.flags['name'] };
    const raw: Record<string, unknown> = p.flags['remove']
      ? where
      : {
          ...where,
          ...(p.flags['replicas'] !== undefined ? { replicas: p.flags['replicas'] } : {}),
          ...(p.flags['accelerator'] !== undefined ? { accelerator: { type: p.flags['accelerator'], count: p.flags['gpus'] } } : {}),
          ...(gate !== undefined ? { gate } : {}),
        };
    const parsed = p.flags['remove'] ? Target.safeParse(raw) : AutodeployTarget.safeParse(raw);
    if (!parsed.success) {
      const issues = describeIssues(parsed.error).map((i) => (i.path === '(root)' ? i.message : `${FLAG_OF[i.path] ?? `--${i.path}`}: ${i.message}`));
      return usageError('autodeploy', issues.join('; '), io);
    }
    target = parsed.data;
  }

  const { state } = await cliState(io.env);
  const current = (await state.getModel(model.data))?.autodeploy.targets ?? [];
  const show = (targets: readonly AutodeployTarget[]) =>
    targets
      .map(
        (t) =>
          `${model.data} → ${t.cluster}/${t.namespace}/${t.name}${t.replicas !== undefined ? ` replicas=${t.replicas}` : ''} ${t.accelerator ? `${t.accelerator.type} ×${t.accelerator.count}` : 'accelerator sized from each checkpoint'}${t.gate ? `, gated (${t.gate.prompts.length} prompt${t.gate.prompts.length === 1 ? '' : 's'})` : ''}\n`,
      )
      .join('');
  if (!target) {
    if (p.output !== 'text') emit(io, p.output, { model: model.data, targets: current });
    else io.stdout(current.length ? show(current) : `${model.data}: no autodeploy targets\n`);
    return EXIT.ok;
  }
  const key = targetKey(target);
  const others = current.filter((t) => targetKey(t) !== key);
  const next = p.flags['remove'] ? others : [...others, target];
  if (p.flags['remove'] && next.length === current.length) {
    io.stderr(`ferry autodeploy: ${model.data} has no autodeploy target ${target.cluster}/${target.namespace}/${target.name}\n`);
    return EXIT.failed;
  }
  const saved = await state.setAutodeploy(model.data, next, new Date());
  if (p.output !== 'text') emit(io, p.output, { model: model.data, targets: saved.autodeploy.targets });
  else {
    io.stdout(
      `${model.data}: ${p.flags['remove'] ? 'removed' : 'set'} autodeploy → ${target.cluster}/${target.namespace}/${target.name} (${saved.autodeploy.targets.length} target(s))\n`,
    );
    if (!p.flags['remove']) io.stdout(show([target]));
  }
  return EXIT.ok;
}

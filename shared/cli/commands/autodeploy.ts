import { EXIT, parseFlags, type CliIo } from '../io.ts';
import { cliState } from '../deps.ts';
import { AutodeployTarget } from '../../domain/version.ts';
import { ModelName, targetKey } from '../../domain/names.ts';
import { describeIssues } from '../../domain/events.ts';

const USAGE = `Usage:
  ferry autodeploy <model> --cluster <c> --namespace <ns> --name <deployment> --accelerator TYPE [--gpus N] [--replicas N]
  ferry autodeploy <model> --remove --cluster <c> --namespace <ns> --name <deployment>
  ferry autodeploy <model> --list [--json]
When a version of <model> becomes valid, ferry publishes one deploy request per target
(requestedBy: upload). Invalid versions are never deployed.`;

export async function autodeployCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, { strings: ['cluster', 'namespace', 'name', 'replicas', 'accelerator', 'gpus'], booleans: ['remove', 'list', 'json'] });
  if ('error' in p || p.positional.length !== 1) {
    io.stderr(`ferry autodeploy: ${'error' in p ? p.error : 'give exactly one model'}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const model = ModelName.safeParse(p.positional[0]);
  if (!model.success) {
    io.stderr(`ferry autodeploy: ${model.error.issues[0]!.message}\n`);
    return EXIT.usage;
  }
  const { state } = await cliState(io.env);
  const current = (await state.getModel(model.data))?.autodeploy.targets ?? [];
  if (p.flags['list']) {
    if (p.flags['json']) io.stdout(JSON.stringify({ model: model.data, targets: current }, null, 2) + '\n');
    else if (!current.length) io.stdout(`${model.data}: no autodeploy targets\n`);
    else for (const t of current) io.stdout(`${model.data} → ${t.cluster}/${t.namespace}/${t.name}${t.replicas !== undefined ? ` replicas=${t.replicas}` : ''}\n`);
    return EXIT.ok;
  }
  const raw: Record<string, unknown> = { cluster: p.flags['cluster'], namespace: p.flags['namespace'], name: p.flags['name'] };
  if (p.flags['replicas'] !== undefined) raw['replicas'] = Number(p.flags['replicas']);
  raw['accelerator'] = { type: p.flags['accelerator'], count: Number(p.flags['gpus'] ?? 1) };
  const target = AutodeployTarget.safeParse(raw);
  if (!target.success) {
    io.stderr(`ferry autodeploy: invalid target:\n${describeIssues(target.error).map((i) => `  ${i.path}: ${i.message}`).join('\n')}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const key = targetKey(target.data);
  const others = current.filter((t) => targetKey(t) !== key);
  const next = p.flags['remove'] ? others : [...others, target.data];
  if (p.flags['remove'] && next.length === current.length) {
    io.stderr(`ferry autodeploy: ${model.data} has no autodeploy target ${target.data.cluster}/${target.data.namespace}/${target.data.name}\n`);
    return EXIT.failed;
  }
  const saved = await state.setAutodeploy(model.data, next, new Date());
  if (p.flags['json']) io.stdout(JSON.stringify({ model: model.data, targets: saved.autodeploy.targets }, null, 2) + '\n');
  else io.stdout(`${model.data}: ${p.flags['remove'] ? 'removed' : 'set'} autodeploy → ${target.data.cluster}/${target.data.namespace}/${target.data.name} (${saved.autodeploy.targets.length} target(s))\n`);
  return EXIT.ok;
}

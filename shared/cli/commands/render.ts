/**
 * `ferry render <model>@<version> --cluster … --namespace … --name … [-o yaml|json]` (or `-f
 * request.json`): every object a deploy of that request would apply, in apply order, without
 * publishing, creating or changing anything (app/preview-deploy.ts: the deploy path's own
 * resolve → size → plan caches → render). -o yaml is a multi-document stream `kubectl apply -f -`
 * takes; -o json is a v1 List, as `kubectl get -o json` prints several objects.
 */
import { EXIT, parseCommand, type CliIo } from '../io.ts';
import { targetKey } from '../../domain/names.ts';
import type { KubeObject } from '../../domain/render.ts';
import { cliState } from '../deps.ts';
import { deployRequestFrom } from '../request.ts';
import { toYamlStream } from '../yaml.ts';
import { table } from './status.ts';

export async function renderCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('render', args, io);
  if (typeof p === 'number') return p;
  const request = await deployRequestFrom('render', p, io);
  if (typeof request === 'number') return request;

  const { settings } = await cliState(io.env);
  const [{ previewDeploy }, { previewDeps }, { cliLogger }] = await Promise.all([
    import('../../app/preview-deploy.ts'),
    import('../../composition/cli.ts'),
    import('../../composition/logging.ts'),
  ]);
  // Caches are planned only when the request asks for one (the planner reads the bucket and cluster).
  const deps = await previewDeps(settings, { caches: request.cache.mode !== 'off', logger: cliLogger((line) => io.stderr(line + '\n')) });
  const preview = await previewDeploy(request, deps);
  if (!preview.ok) {
    io.stderr(`ferry render: a deploy of this request would be rejected (${preview.reason}): ${preview.message}\n`);
    return EXIT.failed;
  }
  for (const w of preview.warnings) io.stderr(`ferry render: note: ${w}\n`);
  if (p.output === 'yaml') io.stdout(toYamlStream(preview.objects));
  else if (p.output === 'json') io.stdout(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: preview.objects }, null, 2) + '\n');
  else io.stdout(summary(preview.request, preview.objects, preview.recommended));
  return EXIT.ok;
}

function summary(request: import('../../domain/deploy-request.ts').DeployRequest, objects: KubeObject[], recommended: boolean): string {
  const acc = request.accelerator;
  const lines: string[] = [];
  lines.push(
    `${request.model}@${request.version} → ${targetKey(request.target)}: ${acc ? `${acc.type} ×${acc.count}${recommended ? ' (chosen by ferry from the checkpoint)' : ''}` : 'no accelerator'}`,
    '',
  );
  table(
    { stdout: (s) => lines.push(s.replace(/\n$/, '')), stderr: () => undefined, env: {} },
    ['KIND', 'NAME', 'API VERSION'],
    objects.map((o) => [o.kind, o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name, o.apiVersion]),
  );
  lines.push('', 'Print the manifests with -o yaml (a stream kubectl apply -f - takes) or -o json.');
  return lines.join('\n') + '\n';
}

/**
 * A local Kubernetes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and simulated
 * GKE GPU nodes) for poking at by hand:
 *
 *   ./node_modules/.bin/node infra/local/kube-cli.ts [--dir .ferry/kube-dev] [--ready-delay-ms 1500]
 *
 * Prints the environment to use it (KUBECONFIG=… for user `ferry`, FERRY_KUBE_ADMIN_KUBECONFIG=…
 * for the admin) and stays up until Ctrl-C / SIGTERM, which stop everything it started.
 */
import { resolve, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { startKube, kubeBinariesPresent } from './kube.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const log = (m: string): void => void process.stderr.write(`[kube] ${m}\n`);

if (!kubeBinariesPresent()) {
  log('Kubernetes binaries are missing: building them once (bash infra/local/build-kubernetes.sh)…');
  const r = spawnSync('bash', [join(REPO_ROOT, 'infra/local/build-kubernetes.sh')], { stdio: 'inherit' });
  if (r.status !== 0) {
    log('the build failed (see above)');
    process.exit(1);
  }
}

const dir = resolve(arg('--dir') ?? join(REPO_ROOT, '.ferry', 'kube-dev'));
const delay = arg('--ready-delay-ms');
const kube = await startKube({ dir, log, simulator: delay ? { podReadyDelayMs: Number(delay) } : {} });

process.stdout.write(
  [
    `export KUBECONFIG=${kube.kubeconfig}`,
    `export FERRY_KUBE_ADMIN_KUBECONFIG=${kube.adminKubeconfig}`,
    `# server ${kube.server}; logs in ${kube.logDir}`,
    `# nodes: ${kube.nodes.map((n) => `${n.name} (${n.gpus}x ${n.accelerator}, ${n.zone})`).join(', ')}`,
    '# Ctrl-C stops everything.',
    '',
  ].join('\n'),
);

let stopping = false;
const shutdown = (sig: string): void => {
  if (stopping) return;
  stopping = true;
  log(`${sig}: stopping…`);
  kube.stop().then(
    () => process.exit(0),
    (e: unknown) => {
      log(`stop failed: ${String(e)}`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGHUP', () => shutdown('SIGHUP'));

/**
 * `ferry` — the command line. Each command is its own module, imported only when used, so
 * `ferry --help` stays instant. Variables not set in the environment come from .ferry/local.env
 * (written by `npm start`), so the CLI talks to the local stack without any setup.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readLocalEnv, mergeEnv, exportSdkEnv } from '../config.ts';
import { EXIT, type CliIo, type Command } from './io.ts';
import { describeFailure, formatFailure } from './failure.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface CommandEntry {
  summary: string;
  usage: string;
  load: () => Promise<Command>;
}

export const COMMANDS: Record<string, CommandEntry> = {
  validate: {
    summary: 'validate a checkpoint by reading only its safetensors headers',
    usage: 'ferry validate <dir | gs://bucket/prefix> [--json]',
    load: async () => (await import('./commands/validate.ts')).validateCommand,
  },
  upload: {
    summary: 'upload a checkpoint directory (validated locally first; index and config.json last)',
    usage: 'ferry upload <dir> gs://bucket/models/<model>/<version> [--force] [--concurrency N] [--json]',
    load: async () => (await import('./commands/upload.ts')).uploadCommand,
  },
  plan: {
    summary: 'size a checkpoint for serving: GPUs/TPU chips and tensor-parallel size per accelerator, and the cheapest',
    usage: 'ferry plan <model>@<version|latest> | <dir> | gs://bucket/prefix [--json] [--context N] [--concurrency N] [--family gpu|tpu] [--accelerator T [--count N]]',
    load: async () => (await import('./commands/plan.ts')).planCommand,
  },
  status: {
    summary: 'models, versions (and their validation) and rollouts',
    usage: 'ferry status [<model>] [--json]',
    load: async () => (await import('./commands/status.ts')).statusCommand,
  },
  deploy: {
    summary: 'publish a deploy request; --wait follows the rollout to its end',
    usage: 'ferry deploy <model>@<version|latest> --cluster <c> --namespace <ns> --name <d> [--accelerator T [--gpus N]] [--wait] [--json]',
    load: async () => (await import('./commands/deploy.ts')).deployCommand,
  },
  rollback: {
    summary: 'roll a target back to its previous good version',
    usage: 'ferry rollback --cluster <c> --namespace <ns> --name <deployment> [--wait] [--json]',
    load: async () => (await import('./commands/rollback.ts')).rollbackCommand,
  },
  autodeploy: {
    summary: 'deploy every newly valid version of a model to a target',
    usage: 'ferry autodeploy <model> --cluster <c> --namespace <ns> --name <deployment> [--replicas N] | --remove … | --list',
    load: async () => (await import('./commands/autodeploy.ts')).autodeployCommand,
  },
  caches: {
    summary: 'Anywhere Caches: state, TTL, who created them, which targets rely on them, last use',
    usage: 'ferry caches [--bucket B] [--no-live] [--json]',
    load: async () => (await import('./commands/caches.ts')).cachesCommand,
  },
  teardown: {
    summary: 'plan (and without --dry-run, carry out) the teardown of idle caches and managed clusters',
    usage: 'ferry teardown [--dry-run] [--json]',
    load: async () => (await import('./commands/teardown.ts')).teardownCommand,
  },
  // --- hook (w3-domain, issue #15): Firestore key migrations; the command lives in commands/migrate.ts.
  migrate: {
    summary: 'move Firestore documents stored under an older key spelling to the current one (idempotent)',
    usage: 'ferry migrate [--dry-run] [--json]',
    load: async () => (await import('./commands/migrate.ts')).migrateCommand,
  },
  // --- end hook
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'ferry — get a model from a bucket onto GPUs',
    '',
    'Usage: ferry <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `ferry <command> --help` for a command\'s options. Locally, `npm start` brings up the stack and',
    'writes .ferry/local.env, which ferry reads for any variable not set in the environment.',
  ].join('\n');
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(help() + '\n');
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version') {
    io.stdout('ferry 0.1.0\n');
    return EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr(`ferry: unknown command "${name}"\n\n${help()}\n`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`Usage: ${entry.usage}\n`);
    return EXIT.ok;
  }
  // The SDKs read emulator hosts, project and credentials from process.env, not from io.env.
  exportSdkEnv(io.env);
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (e) {
    const f = describeFailure(e);
    io.stderr(formatFailure(name, f));
    if (io.env['FERRY_DEBUG'] === '1' && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    // 2, as for a usage error: the command could not run (1 is kept for "ran, and the answer is no").
    return EXIT.usage;
  }
}

/**
 * Errors an SDK raises outside the awaited call (google-gax creates its gRPC stub in the
 * background, and a missing credential rejects there) would otherwise end the process with Node's
 * stack trace. They end it with ferry's one-line message instead.
 */
function installProcessHandlers(command: string | undefined, debug: boolean): void {
  const fail = (e: unknown) => {
    process.stderr.write(formatFailure(command, describeFailure(e)));
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(EXIT.usage);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  // gcp-metadata warns when it probes for a GCE metadata server off Google Cloud: noise for a CLI.
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name === 'MetadataLookupWarning' && !debug) return;
    process.stderr.write(`ferry: warning: ${w.message}\n`);
  });
}

const isEntry = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
const viaLauncher = process.argv[1]?.endsWith('ferry.mjs') || process.argv[1]?.endsWith('/ferry');
if (isEntry || viaLauncher) {
  let env: Record<string, string | undefined>;
  try {
    env = mergeEnv(process.env, readLocalEnv(process.env['FERRY_ROOT'] ?? process.cwd()) ?? readLocalEnv(ROOT));
  } catch (e) {
    process.stderr.write(`ferry: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(EXIT.usage);
  }
  installProcessHandlers(process.argv[2], env['FERRY_DEBUG'] === '1');
  const code = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env,
  });
  process.exitCode = code;
}

/**
 * `ferry` — the command line. Each command is its own module, imported only when used, so
 * `ferry --help` stays instant. Variables not set in the environment come from .ferry/local.env
 * (written by `npm start`), so the CLI talks to the local stack without any setup.
 */
import { FERRY_VERSION } from './version.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliEnv, exportForSdks } from './settings.ts';
import { EXIT, parseCommand, usageError, type CliIo, type Command } from './io.ts';
import { SPECS, SPEC_BY_NAME } from './specs.ts';
import { bashCompletion, didYouMean, helpText, overviewText, zshCompletion } from './spec.ts';
import { reportFailure } from './failure.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface CommandEntry {
  summary: string;
  usage: string;
  load: () => Promise<Command>;
}

const LOADERS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./commands/validate.ts')).validateCommand,
  upload: async () => (await import('./commands/upload.ts')).uploadCommand,
  verify: async () => (await import('./commands/verify.ts')).verifyCommand,
  plan: async () => (await import('./commands/plan.ts')).planCommand,
  status: async () => (await import('./commands/status.ts')).statusCommand,
  deploy: async () => (await import('./commands/deploy.ts')).deployCommand,
  render: async () => (await import('./commands/render.ts')).renderCommand,
  rollback: async () => (await import('./commands/rollback.ts')).rollbackCommand,
  autodeploy: async () => (await import('./commands/autodeploy.ts')).autodeployCommand,
  caches: async () => (await import('./commands/caches.ts')).cachesCommand,
  teardown: async () => (await import('./commands/teardown.ts')).teardownCommand,
  schema: async () => (await import('./commands/schema.ts')).schemaCommand,
  migrate: async () => (await import('./commands/migrate.ts')).migrateCommand,
  policy: async () => (await import('./commands/policy.ts')).policyCommand,
  gate: async () => (await import('./commands/gate.ts')).gateCommand,
  completion: async () => completionCommand,
  help: async () => helpCommand,
};

/** Every command, from its spec (shared/cli/specs.ts). */
export const COMMANDS: Record<string, CommandEntry> = Object.fromEntries(
  SPECS.map((s) => {
    const load = LOADERS[s.name];
    if (!load) throw new Error(`command ${s.name} has a spec but no implementation`);
    return [s.name, { summary: s.summary, usage: `ferry ${s.synopsis[0]}`, load }];
  }),
);

const unknownCommand = (name: string): string =>
  `ferry: unknown command "${name}"${didYouMean(
    name,
    SPECS.map((s) => s.name),
  )}\nRun \`ferry --help\` for the list of commands.\n`;

async function helpCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('help', args, io);
  if (typeof p === 'number') return p;
  const name = p.positional[0];
  if (name === undefined) {
    io.stdout(overviewText(SPECS));
    return EXIT.ok;
  }
  const spec = SPEC_BY_NAME.get(name);
  if (!spec) {
    io.stderr(unknownCommand(name));
    return EXIT.usage;
  }
  io.stdout(helpText(spec));
  return EXIT.ok;
}

async function completionCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('completion', args, io);
  if (typeof p === 'number') return p;
  const shell = p.positional[0];
  if (shell === 'bash') io.stdout(bashCompletion(SPECS));
  else if (shell === 'zsh') io.stdout(zshCompletion(SPECS));
  else return usageError('completion', `no completion for ${JSON.stringify(shell)}: bash or zsh${didYouMean(shell ?? '', ['bash', 'zsh'])}`, io);
  return EXIT.ok;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    io.stdout(overviewText(SPECS));
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version') {
    io.stdout(`ferry ${FERRY_VERSION}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr(unknownCommand(name));
    return EXIT.usage;
  }
  // Help never needs a backend, nor loading the command.
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(helpText(SPEC_BY_NAME.get(name)!));
    return EXIT.ok;
  }
  // The SDKs read emulator hosts, project and credentials from process.env, not from io.env.
  exportForSdks(io.env);
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (e) {
    reportFailure(io.stderr, name, e);
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
    // The same cause often surfaces twice (the awaited call and the SDK's background stub): said once.
    reportFailure((s) => process.stderr.write(s), command, e);
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
    env = cliEnv(ROOT);
  } catch (e) {
    process.stderr.write(`ferry: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(EXIT.usage);
  }
  installProcessHandlers(process.argv[2], env['FERRY_DEBUG'] === '1');
  const code = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
    ask: async (question) => {
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
  });
  process.exitCode = code;
}

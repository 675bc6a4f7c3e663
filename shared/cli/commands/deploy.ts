import { randomUUID } from 'node:crypto';
import { gateLines } from './status.ts';
import { EXIT, emit, parseCommand, type CliIo } from '../io.ts';
import type { OutputFormat } from '../spec.ts';
import type { Settings } from '../../config.ts';
import type { DeployRequest, DeployRequestInput } from '../../domain/deploy-request.ts';
import { targetKey } from '../../domain/names.ts';
import { followRollout, type FollowEvent } from '../../app/follow-rollout.ts';
import { checkRequest, deployRequestFrom } from '../request.ts';
import { emulatorsAnswer } from '../deps.ts';
import { cliSettings } from '../settings.ts';

/**
 * `ferry deploy <model>@<version> --cluster … --namespace … --name … [flags]` or `ferry deploy -f
 * request.json`: publishes a deploy request (checked with the deploy function's own schema first);
 * with --wait, follows the rollout as it happens (a Firestore listener) and exits 0 only if it succeeded.
 */
export async function deployCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('deploy', args, io);
  if (typeof p === 'number') return p;
  const request = await deployRequestFrom('deploy', p, io);
  if (typeof request === 'number') return request;
  return publish(request, { wait: p.flags['wait'] === true, timeoutSeconds: p.flags['timeout'] as number, output: p.output }, io, 'deploy');
}

export interface FollowFlags {
  wait: boolean;
  timeoutSeconds: number;
  output: OutputFormat;
}

/** Validates locally (same schema as the function), publishes, and with --wait follows the rollout. */
export async function publishAndFollow(input: DeployRequestInput, flags: FollowFlags, io: CliIo, name = 'deploy'): Promise<number> {
  const request = checkRequest(name, input, io);
  if (typeof request === 'number') return request;
  return publish(request, flags, io, name);
}

async function publish(request: DeployRequest, flags: FollowFlags, io: CliIo, name: string): Promise<number> {
  const settings = cliSettings(io.env);
  await emulatorsAnswer(io.env, flags.wait ? ['PUBSUB_EMULATOR_HOST', 'FIRESTORE_EMULATOR_HOST'] : ['PUBSUB_EMULATOR_HOST']);
  const publisher = await (await import('../../composition/cli.ts')).deployPublisher(settings);
  let messageId: string;
  try {
    messageId = await publisher.publish(request, { source: 'cli', requestId: randomUUID() });
  } finally {
    await publisher.close();
  }
  const what = `${request.model}@${request.version} → ${targetKey(request.target)}`;
  if (!flags.wait) {
    if (flags.output !== 'text') emit(io, flags.output, { messageId, target: request.target, model: request.model, version: request.version });
    else io.stdout(`deploy request ${messageId} published to ${publisher.topic}: ${what}\nfollow it with: ferry status ${request.model}\n`);
    return EXIT.ok;
  }
  // Progress goes to stdout as text; with -o json|yaml stdout holds only the final document.
  const progress = flags.output === 'text' ? io.stdout : io.stderr;
  progress(`deploy request ${messageId} published: ${what}\n`);
  return follow(messageId, settings, flags, io, progress, name);
}

export function describeEvent(e: FollowEvent): string {
  if (e.kind === 'admitted') {
    const how =
      e.outcome === 'start'
        ? 'started'
        : e.outcome === 'queued'
          ? 'queued behind the active rollout'
          : `a duplicate (${e.outcome.replace(/^duplicate-/, '')}) of this rollout`;
    return `rollout ${e.rolloutId}: ${how}\n`;
  }
  if (e.kind === 'detail') return `rollout ${e.rollout.id}: ${e.rollout.phase}: ${e.detail.message || e.detail.reason}\n`;
  return `rollout ${e.rollout.id}: ${e.entry.phase} (${e.entry.reason})${e.entry.message ? ` ${e.entry.message}` : ''}\n`;
}

async function follow(messageId: string, settings: Settings, flags: FollowFlags, io: CliIo, progress: (s: string) => void, name: string): Promise<number> {
  // On a Firestore client of its own, closed at the end (composition/cli.ts rolloutFollower).
  const follower = await (await import('../../composition/cli.ts')).rolloutFollower(settings);
  try {
    const result = await followRollout(follower.watch, messageId, {
      timeoutMs: flags.timeoutSeconds * 1000,
      onEvent: (e) => progress(describeEvent(e)),
    });
    switch (result.kind) {
      case 'rejected': {
        const r = result.rejected;
        if (flags.output !== 'text') emit(io, flags.output, { messageId, rejected: r });
        io.stderr(`ferry ${name}: the deploy request was rejected (${r.reason}): ${r.message}\n`);
        for (const i of r.issues) io.stderr(`  ${i.path}: ${i.message}\n`);
        return EXIT.failed;
      }
      case 'no-rollout':
        io.stderr(`ferry ${name}: the request was a duplicate (${result.outcome}) of one that started no rollout; see ferry status\n`);
        return EXIT.failed;
      case 'timeout':
        io.stderr(
          `ferry ${name}: gave up waiting after ${flags.timeoutSeconds} s${result.rollout ? ` (rollout ${result.rollout.id} is ${result.rollout.phase})` : ' (the request was not handled yet: is the deploy function running?)'}; the rollout goes on — see ferry status\n`,
        );
        return EXIT.failed;
      case 'finished': {
        const r = result.rollout;
        if (flags.output !== 'text') {
          emit(io, flags.output, {
            id: r.id,
            phase: r.phase,
            reason: r.reason,
            message: r.message,
            model: r.model,
            version: r.version,
            target: r.target,
            history: r.history,
            verification: r.verification,
            messageId,
          });
        } else {
          io.stdout(`rollout ${r.id} ${r.phase}: ${r.message}\n`);
          for (const line of gateLines(r.verification, r.phase)) io.stdout(`  ${line}\n`);
        }
        return r.phase === 'succeeded' ? EXIT.ok : EXIT.failed;
      }
    }
  } finally {
    await follower.close();
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { EXIT, parseFlags, type CliIo } from '../io.ts';
import { parseConfig, BaseConfig, DeployConfig } from '../../config.ts';
import { parseDeployRequest, type DeployRequest, type DeployRequestInput } from '../../domain/deploy-request.ts';
import { targetKey } from '../../domain/names.ts';
import type { Publisher } from '../../ports/publisher.ts';
import { isTerminalPhase, type Rollout } from '../../domain/rollout.ts';

const USAGE = `Usage: ferry deploy <model>@<version|latest> --cluster <c> --namespace <ns> --name <deployment>
         [--accelerator TYPE [--gpus N]] [--replicas N] [--image I] [--progress-deadline S]
         [--tp N] [--idempotency-key K] [--wait] [--timeout S] [--json]
Publishes a deploy request (apiVersion ferry/v1) on the deploy topic. Without --accelerator, ferry
picks the cheapest one that fits the checkpoint (see ferry plan). With --wait, follows the rollout
until it ends and exits 0 only if it succeeded.`;

export async function deployCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, {
    strings: ['cluster', 'namespace', 'name', 'accelerator', 'gpus', 'replicas', 'image', 'progress-deadline', 'tp', 'idempotency-key', 'timeout'],
    booleans: ['wait', 'json'],
  });
  if ('error' in p || p.positional.length !== 1) {
    io.stderr(`ferry deploy: ${'error' in p ? p.error : 'give exactly one <model>@<version>'}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const m = /^([^@]+)@([^@]+)$/.exec(p.positional[0]!);
  if (!m) {
    io.stderr(`ferry deploy: write the model as <model>@<version> (or <model>@latest)\n${USAGE}\n`);
    return EXIT.usage;
  }
  const int = (k: string) => (p.flags[k] === undefined ? undefined : Number(p.flags[k]));
  if (p.flags['gpus'] !== undefined && p.flags['accelerator'] === undefined) {
    io.stderr(`ferry deploy: --gpus goes with --accelerator (without both, ferry sizes the model)\n${USAGE}\n`);
    return EXIT.usage;
  }
  const input: DeployRequestInput = {
    apiVersion: 'ferry/v1',
    model: m[1]!,
    version: m[2]!,
    target: { cluster: String(p.flags['cluster'] ?? ''), namespace: String(p.flags['namespace'] ?? ''), name: String(p.flags['name'] ?? '') },
    ...(p.flags['accelerator'] !== undefined ? { accelerator: { type: p.flags['accelerator'] as never, count: int('gpus') ?? 1 } } : {}),
    ...(int('replicas') !== undefined ? { replicas: int('replicas')! } : {}),
    ...(p.flags['image'] ? { image: String(p.flags['image']) } : {}),
    ...(int('progress-deadline') !== undefined ? { progressDeadlineSeconds: int('progress-deadline')! } : {}),
    ...(int('tp') !== undefined ? { tensorParallelSize: int('tp')! } : {}),
    ...(p.flags['idempotency-key'] ? { idempotencyKey: String(p.flags['idempotency-key']) } : {}),
    requestedBy: { source: 'cli', principal: safePrincipal() },
  };
  return publishAndFollow(input, p.flags, io);
}

function safePrincipal(): string {
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

/** Validates locally (same schema as the function), publishes, and with --wait follows the rollout. */
export async function publishAndFollow(input: DeployRequestInput, flags: Record<string, string | boolean>, io: CliIo): Promise<number> {
  const checked = parseDeployRequest(JSON.stringify(input));
  if (!checked.ok) {
    io.stderr(`ferry: invalid deploy request (${checked.reason}): ${checked.message}\n`);
    for (const i of checked.issues ?? []) io.stderr(`  ${i.path}: ${i.message}\n`);
    return EXIT.usage;
  }
  const base = parseConfig(BaseConfig, io.env);
  const cfg = parseConfig(DeployConfig, io.env);
  const { PubSubPublisher, newPubsubClient } = await import('../../adapters/pubsub.ts');
  const client = newPubsubClient(base.GOOGLE_CLOUD_PROJECT);
  try {
    return await publishWith(new PubSubPublisher(client), checked.request, cfg.FERRY_DEPLOY_TOPIC, base.GOOGLE_CLOUD_PROJECT, flags, io);
  } finally {
    await client.close();
  }
}

async function publishWith(
  publisher: Publisher,
  request: DeployRequest,
  topic: string,
  project: string,
  flags: Record<string, string | boolean>,
  io: CliIo,
): Promise<number> {
  const messageId = await publisher.publishJson(topic, request, { source: 'cli', requestId: randomUUID() });
  if (!flags['wait']) {
    if (flags['json']) io.stdout(JSON.stringify({ messageId, target: request.target, model: request.model, version: request.version }) + '\n');
    else io.stdout(`deploy request ${messageId} published to ${topic}: ${request.model}@${request.version} → ${targetKey(request.target)}\nfollow it with: ferry status ${request.model}\n`);
    return EXIT.ok;
  }
  const { FirestoreRolloutState } = await import('../../adapters/firestore-rollouts.ts');
  const { firestoreClient } = await import('../../adapters/firestore.ts');
  const rollouts = new FirestoreRolloutState(firestoreClient(project));
  const timeoutMs = Number(flags['timeout'] ?? 1800) * 1000;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let rollout: Rollout | undefined;
  // The rollout id derives from the message id and the broker's publish time, so find the rollout
  // through the request record (a duplicate request points at the rollout it duplicates).
  for (;;) {
    const id = await rollouts.rolloutIdForMessage(messageId);
    rollout = id ? await rollouts.getRollout(id) : undefined;
    const rejected = rollout ? undefined : (await rollouts.listRejected(request.model, 200)).find((r) => r.messageId === messageId);
    if (rejected) {
      if (flags['json']) io.stdout(JSON.stringify({ messageId, rejected }) + '\n');
      else io.stderr(`deploy request rejected (${rejected.reason}): ${rejected.message}\n`);
      return EXIT.failed;
    }
    if (rollout) {
      const line = `${rollout.phase} (${rollout.reason}) ${rollout.detail?.message ?? rollout.message}`;
      if (line !== last && !flags['json']) io.stderr(`  rollout ${rollout.id}: ${line}\n`);
      last = line;
      if (isTerminalPhase(rollout.phase)) break;
    }
    if (Date.now() > deadline) {
      io.stderr(`ferry deploy: gave up waiting after ${timeoutMs / 1000} s (the rollout goes on; see ferry status)\n`);
      return EXIT.failed;
    }
    await sleep(500);
  }
  if (flags['json']) {
    io.stdout(JSON.stringify({ id: rollout.id, phase: rollout.phase, reason: rollout.reason, message: rollout.message, model: rollout.model, version: rollout.version, target: rollout.target, history: rollout.history, messageId }, null, 2) + '\n');
  } else {
    io.stdout(`rollout ${rollout.id} ${rollout.phase}: ${rollout.message}\n`);
  }
  return rollout.phase === 'succeeded' ? EXIT.ok : EXIT.failed;
}


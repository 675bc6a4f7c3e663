/**
 * The pieces of a running local stack, as watch-pieces.ts watches them. Restarted when they die, as
 * nothing is lost: the functions host (events it missed are redelivered by the event delivery and
 * Pub/Sub push), kube-controller-manager and kube-scheduler (no state of their own: they re-list the
 * apiserver; also restarted when their /healthz stops answering) and kube-apiserver (its state is in
 * etcd, whose data directory is on disk). Every other piece holds state a restart would lose or
 * silently fork — the emulators keep their data in memory, the Storage emulator's event queue lives
 * in the firebase process, the node simulator's pods and serving containers, the GKE and Storage
 * Control servers live in the stack's own process; etcd is the cluster's only copy — so its death
 * stops the stack with a message naming it. docs/reliability.md "What the stack restarts".
 */
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { portOpen, type ManagedProcess } from './proc.ts';
import type { Piece } from './watch-pieces.ts';
import type { EmulatorStack } from './emulators.ts';
import type { KubeStack } from './kube.ts';

export interface StackPiecesInput {
  dir: string;
  host: () => ManagedProcess | undefined;
  restartHost: () => Promise<void>;
  emulators: EmulatorStack;
  kube: KubeStack;
  storageControlEndpoint: string;
  gkeEndpoint: string;
}

const RESTART = 'The stack has stopped: start it again with `npm start`.';

const portOf = (url: string): number => Number(new URL(url.includes('://') ? url : `http://${url}`).port);

/** True when a simulated node's Ready heartbeat is under `maxAgeMs` old (the simulator beats every 10 s). */
export async function simulatorBeating(adminKubeconfig: string, maxAgeMs = 60_000): Promise<boolean> {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const nodes = await kc.makeApiClient(CoreV1Api).listNode();
  return nodes.items.some((n) =>
    n.status?.conditions?.some(
      (c) => c.type === 'Ready' && c.status === 'True' && c.lastHeartbeatTime && Date.now() - new Date(c.lastHeartbeatTime).getTime() < maxAgeMs,
    ),
  );
}

/** How often a restartable component's /healthz is asked; three failures in a row (30 s) restart it. */
export const KUBE_HEALTH_EVERY_MS = 10_000;

/** The control plane's processes: each restartable one with its restart and, when it has one, its /healthz probe. */
export function kubePieces(kube: Pick<KubeStack, 'components'>): Piece[] {
  return kube.components.map((c) => ({
    name: c.name,
    process: c.process,
    ...(c.restart ? { restart: c.restart } : {}),
    ...(c.healthy ? { probe: c.healthy, probeEveryMs: KUBE_HEALTH_EVERY_MS } : {}),
    advice: c.restart
      ? `It died repeatedly: see ${c.process().logFile}, then start the stack again (\`npm start\`).`
      : `See ${c.process().logFile}. ${RESTART}`,
  }));
}

export function stackPieces(i: StackPiecesInput): Piece[] {
  const em = i.emulators;
  const emLogs = join(i.dir, 'emulators');
  const pieces: Piece[] = [
    {
      name: 'the functions host',
      process: i.host,
      restart: i.restartHost,
      advice: `It died repeatedly: see ${join(i.dir, 'logs', 'functions.log')}, then start the stack again (\`npm start\`).`,
    },
    {
      name: 'the firebase emulators process (Storage emulator and event delivery)',
      process: () => em.firebase,
      advice: `Its objects and queued events were in its memory. See ${em.logFile}. ${RESTART}`,
    },
    { name: 'the Firestore emulator', probe: () => portOpen(em.ports.firestore), advice: `See the logs in ${emLogs}. ${RESTART}` },
    { name: 'the Pub/Sub emulator', probe: () => portOpen(em.ports.pubsub), advice: `See the logs in ${emLogs}. ${RESTART}` },
    { name: 'the Storage emulator', probe: () => portOpen(em.ports.storage), advice: `See ${em.logFile}. ${RESTART}` },
  ];
  if (em.eventDeliveryUrl) {
    const port = portOf(em.eventDeliveryUrl);
    pieces.push({ name: 'the storage event delivery', probe: () => portOpen(port), advice: `See ${em.logFile}. ${RESTART}` });
  }
  pieces.push(...kubePieces(i.kube));
  pieces.push(
    {
      name: 'the node simulator',
      probe: () => simulatorBeating(i.kube.adminKubeconfig),
      probeEveryMs: 15_000,
      advice: `No simulated node sent a heartbeat for a minute; look for "[node-simulator]" lines above. ${RESTART}`,
    },
    { name: 'the GKE server', probe: () => portOpen(portOf(i.gkeEndpoint)), advice: RESTART },
    { name: 'the Storage Control server', probe: () => portOpen(portOf(i.storageControlEndpoint)), advice: RESTART },
  );
  return pieces;
}

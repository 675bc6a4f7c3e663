/**
 * The pieces of a running local stack, as watch-pieces.ts watches them. Only the functions host is
 * restarted: it keeps no state (events it missed are redelivered by the event delivery and Pub/Sub
 * push). Every other piece holds state a restart would lose or silently fork — the emulators keep
 * their data in memory, the Storage emulator's event queue lives in the firebase process, etcd and
 * the apiserver hold the cluster, the node simulator, GKE and Storage Control servers live in the
 * stack's own process — so its death stops the stack with a message naming it.
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
  for (const p of i.kube.processes) {
    pieces.push({ name: p.name, process: () => p, advice: `See ${p.logFile}. ${RESTART}` });
  }
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

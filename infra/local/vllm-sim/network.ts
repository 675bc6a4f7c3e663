/**
 * Pod IPs the Kubernetes API server will proxy to. kube-apiserver refuses to proxy to loopback and
 * link-local addresses (kubernetes@v1.20.2:pkg/proxy/util/utils.go `isProxyableIP`: IsLoopback,
 * IsLinkLocalUnicast, IsLinkLocalMulticast, IsInterfaceLocalMulticast → "address not allowed";
 * used by the pod and service proxy's ResourceLocation), so 127.0.0.x pods cannot be reached the
 * way ferry reaches them on GKE. Instead the simulated pods get 10.4.<node>.<n> addresses (each
 * node's podCIDR) and the whole 10.4.0.0/16 is routed to the loopback interface as *local*
 * ("AnyIP": `ip route replace local 10.4.0.0/16 dev lo`), so any address in it can be bound and
 * reached on this host without adding one address per pod. Needs root (CAP_NET_ADMIN) and iproute2;
 * without them serving is disabled with a message saying so. The route is left in place at stop:
 * other local stacks on the same host may use it, and it only covers 10.4.0.0/16.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

export const POD_NETWORK = '10.4.0.0/16';
/** The simulated nodes' InternalIPs (10.128.0.10 + i): their kubelet log endpoints listen there. */
export const NODE_NETWORK = '10.128.0.0/24';

/** Routes `cidr` to lo as local addresses; returns an error message when it cannot. */
export function ensureLocalRoute(cidr: string): string | null {
  const r = spawnSync('ip', ['route', 'replace', 'local', cidr, 'dev', 'lo', 'table', 'local'], { encoding: 'utf8' });
  if (r.error) return `cannot run \`ip\` (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): install iproute2`;
  if (r.status !== 0) return `\`ip route replace local ${cidr} dev lo table local\` failed: ${(r.stderr || r.stdout).trim()} (needs root / CAP_NET_ADMIN)`;
  return null;
}

/** The pod and node networks; the first error, or null. */
export const ensurePodNetwork = (): string | null => ensureLocalRoute(POD_NETWORK) ?? ensureLocalRoute(NODE_NETWORK);

/** True when ip:port can be bound now. */
export function canBind(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, ip, () => s.close(() => resolve(true)));
  });
}

/**
 * A free pod IP on node `nodeIndex` for a server on `port`: 10.4.<node>.<n>, n from `start`, skipping
 * addresses in use here (`taken`) or bound by another stack on this host.
 */
export async function allocatePodIp(nodeIndex: number, port: number, taken: ReadonlySet<string>, start = 2): Promise<string | null> {
  for (let k = 0; k < 253; k++) {
    const n = ((start - 2 + k) % 253) + 2;
    const ip = `10.4.${nodeIndex}.${n}`;
    if (taken.has(ip)) continue;
    if (await canBind(ip, port)) return ip;
  }
  return null;
}

/**
 * The local stack's GKE cluster directory fake, served over loopback HTTP: one FakeClusterDirectory
 * (infra/local/cluster-directory-fake.ts) shared by every process of the stack — the functions
 * host, the `ferry` CLI and the tests — through HttpClusterDirectory
 * (shared/adapters/cluster-directory-http.ts). A fake is allowed only where no emulator exists, and
 * none exists for GKE's cluster API. Requests are parsed with zod; a bad one gets 400
 * CLUSTER_INVALID naming what is wrong.
 *
 * Alone: ./node_modules/.bin/node infra/local/cluster-directory-server.ts [--port N] [--project P]
 */
import type { IncomingMessage } from 'node:http';
import { startLoopbackServer, runAlone, bodyText, type JsonAnswer } from './loopback-server.ts';
import { z } from 'zod';
import { FakeClusterDirectory, type FakeClusterDirectoryOptions, type SeedCluster } from './cluster-directory-fake.ts';
import { PoolAutoscaling } from '../../shared/domain/teardown-inventory.ts';
import { CLUSTER_DIRECTORY_ERROR_CODES, type ClusterDirectory, type ClusterDirectoryErrorCode } from '../../shared/ports/cluster-directory.ts';
import { FerryError } from '../../shared/domain/errors.ts';

export interface ClusterDirectoryServer {
  /** `127.0.0.1:PORT` (the value of FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST). */
  host: string;
  fake: FakeClusterDirectory;
  stop(): Promise<void>;
}

const STATUS: Record<ClusterDirectoryErrorCode, number> = {
  CLUSTER_NOT_FOUND: 404,
  CLUSTER_CONFLICT: 409,
  CLUSTER_FORBIDDEN: 403,
  CLUSTER_INVALID: 400,
  CLUSTER_UNAVAILABLE: 503,
};

const PORT_METHODS = ['list', 'get', 'setNodePoolSize', 'setNodePoolAutoscaling', 'deleteCluster', 'getOperation'] as const satisfies ReadonlyArray<
  keyof ClusterDirectory
>;
const Name = z.strictObject({ name: z.string().min(1) });
const Labels = z.record(z.string().min(1), z.string());
const Bodies = {
  list: z.strictObject({ filter: z.strictObject({ label: z.strictObject({ key: z.string().min(1), value: z.string() }).optional() }).optional() }),
  get: Name,
  setNodePoolSize: z.strictObject({ nodePool: z.string().min(1), nodeCount: z.number() }),
  setNodePoolAutoscaling: z.strictObject({ nodePool: z.string().min(1), bounds: PoolAutoscaling }),
  deleteCluster: Name,
  getOperation: Name,
  seed: z.strictObject({
    location: z.string().regex(/^[a-z]+-[a-z]+[0-9]+(-[a-z])?$/, 'a GKE region or zone'),
    name: z.string().regex(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/, 'a GKE cluster name'),
    labels: Labels.optional(),
    nodePools: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          nodeCount: z.int().min(0),
          zones: z.array(z.string().min(1)).optional(),
          autoscaling: z
            .strictObject({
              minNodeCount: z.int().min(0),
              maxNodeCount: z.int().min(0),
              limits: PoolAutoscaling.shape.limits.optional(),
              locationPolicy: PoolAutoscaling.shape.locationPolicy.optional(),
            })
            .nullable(),
        }),
      )
      .optional(),
    createTime: z.iso.datetime().optional(),
  }),
  setLabels: z.strictObject({ name: z.string().min(1), labels: Labels }),
  fail: z.strictObject({ method: z.enum(PORT_METHODS), code: z.enum(CLUSTER_DIRECTORY_ERROR_CODES) }),
};

const invalid = (message: string): FerryError => new FerryError('CLUSTER_INVALID', message);

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) throw invalid(`${what}: ${z.prettifyError(r.error)}`);
  return r.data;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await bodyText(req);
  if (!text) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid('the body must be JSON');
  }
}

async function dispatch(fake: FakeClusterDirectory, path: string, body: unknown): Promise<unknown> {
  switch (path) {
    case '/v1/list':
      return fake.list(parse(Bodies.list, body, 'list').filter);
    case '/v1/get':
      return fake.get(parse(Bodies.get, body, 'get').name);
    case '/v1/setNodePoolSize': {
      const b = parse(Bodies.setNodePoolSize, body, 'setNodePoolSize');
      return fake.setNodePoolSize(b.nodePool, b.nodeCount);
    }
    case '/v1/setNodePoolAutoscaling': {
      const b = parse(Bodies.setNodePoolAutoscaling, body, 'setNodePoolAutoscaling');
      return fake.setNodePoolAutoscaling(b.nodePool, b.bounds);
    }
    case '/v1/deleteCluster':
      return fake.deleteCluster(parse(Bodies.deleteCluster, body, 'deleteCluster').name);
    case '/v1/getOperation':
      return fake.getOperation(parse(Bodies.getOperation, body, 'getOperation').name);
    case '/fake/seed': {
      const b = parse(Bodies.seed, body, 'seed');
      const seed: SeedCluster = {
        location: b.location,
        name: b.name,
        ...(b.labels ? { labels: b.labels } : {}),
        ...(b.nodePools ? { nodePools: b.nodePools } : {}),
        ...(b.createTime ? { createTime: b.createTime } : {}),
      };
      return fake.seed(seed);
    }
    case '/fake/setLabels': {
      const b = parse(Bodies.setLabels, body, 'setLabels');
      fake.setLabels(b.name, b.labels);
      return null;
    }
    case '/fake/fail': {
      const b = parse(Bodies.fail, body, 'fail');
      fake.failNext(b.method, b.code);
      return null;
    }
    default:
      throw new FerryError('CLUSTER_NOT_FOUND', `no such endpoint ${path}`);
  }
}

export async function startClusterDirectoryServer(
  opts: FakeClusterDirectoryOptions & { port?: number; seed?: SeedCluster[] } = {},
): Promise<ClusterDirectoryServer> {
  const fake = new FakeClusterDirectory(opts);
  for (const c of opts.seed ?? []) fake.seed(c);
  const server = await startLoopbackServer(opts.port ?? 0, async (req): Promise<JsonAnswer> => {
    try {
      if (req.method !== 'POST') throw invalid('use POST');
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      return { status: 200, payload: { result: (await dispatch(fake, path, await readJson(req))) ?? null } };
    } catch (e) {
      const code: ClusterDirectoryErrorCode =
        e instanceof FerryError && (CLUSTER_DIRECTORY_ERROR_CODES as readonly string[]).includes(e.code)
          ? (e.code as ClusterDirectoryErrorCode)
          : 'CLUSTER_UNAVAILABLE';
      return { status: STATUS[code], payload: { error: { code, message: e instanceof Error ? e.message : String(e) } } };
    }
  });
  return { ...server, fake };
}

await runAlone(
  import.meta.url,
  (arg) => startClusterDirectoryServer({ port: Number(arg('--port') ?? 0), project: arg('--project') ?? 'demo-ferry' }),
  (host) => `GKE cluster directory fake on ${host} (FERRY_CLUSTER_DIRECTORY_EMULATOR_HOST=${host})`,
);

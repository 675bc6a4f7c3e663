/**
 * The ClusterDirectory contract: what the adapter of the port (GKE through
 * `@google-cloud/container`) must do, against GKE or the local GKE REST server
 * (infra/local/gke-server.ts), as one ordered suite. Register it with a
 * subject factory, or `{skip: reason}` when the subject is not available (GKE without credentials):
 * every test is then reported as skipped, never as passed.
 *
 * Against GKE it resizes a node pool of a disposable cluster to 0 and back (billed while nodes
 * run) and, only with `allowDelete`, deletes the cluster. Use a cluster made for it, with that one
 * node pool only: GKE reports no per-pool size, so "the pool is at 0" is read from the cluster's
 * currentNodeCount.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterDirectory, GkeOperation } from '../../shared/ports/cluster-directory.ts';
import { nodePoolName } from '../../shared/ports/cluster-directory.ts';
import { MANAGED_LABEL_KEY, MANAGED_LABEL_VALUE } from '../../shared/domain/teardown-inventory.ts';

export interface ClusterContractSubject {
  directory: ClusterDirectory;
  /** A cluster labelled managed-by=ferry, RUNNING, with `pool` (fixed size, > 0 nodes). */
  cluster: string;
  pool: string;
  /** The size (nodes per zone) to restore the pool to at the end. */
  poolSize: number;
  /** Polls until done (a fake moves its clock between polls instead of sleeping). */
  eventually<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean): Promise<T>;
  /** Fakes only: relabel a cluster (not part of the port); the fingerprint test is skipped without it. */
  setLabels?: ((name: string, labels: Record<string, string>) => Promise<void> | void) | undefined;
  /** Fakes only: tests that need to hold an operation in flight are skipped without it. */
  advance?: ((ms: number) => void) | undefined;
  /** The project's number, when known: GKE accepts `projects/<number>/…` for the same cluster. */
  projectNumber?: string | undefined;
  /** Run the deleteCluster test (the cluster is gone afterwards). */
  allowDelete: boolean;
  timeoutMs?: number;
  cleanup?: () => Promise<void>;
}

export type ClusterSubjectSource = { skip: string } | { make: () => Promise<ClusterContractSubject> };

async function rejectsWith(p: Promise<unknown>, code: string, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { code?: unknown }).code, code, `${what}: expected ${code}, got ${String((e as Error)?.message ?? e)}`);
    return true;
  });
}

export function clusterDirectoryContract(label: string, source: ClusterSubjectSource): void {
  describe(`ClusterDirectory contract: ${label}`, () => {
    let subject: ClusterContractSubject | undefined;
    const get = async (): Promise<ClusterContractSubject> => {
      if ('skip' in source) throw new Error('unreachable');
      subject ??= await source.make();
      return subject;
    };
    after(async () => subject?.cleanup?.());
    const t = (name: string, fn: (s: ClusterContractSubject, skip: (why: string) => void) => Promise<void>): void => {
      test(name, { timeout: 30 * 60_000 }, async (ctx) => {
        if ('skip' in source) return ctx.skip(source.skip);
        await fn(await get(), (why) => ctx.skip(why));
      });
    };
    const done = (s: ClusterContractSubject, op: GkeOperation): Promise<GkeOperation> =>
      s.eventually(
        `operation ${op.name}`,
        () => s.directory.getOperation(op.name),
        (o) => o.status === 'DONE',
      );

    t('lists the managed cluster with labels, fingerprint, status and node pools', async (s) => {
      const all = await s.directory.list({ label: { key: MANAGED_LABEL_KEY, value: MANAGED_LABEL_VALUE } });
      const c = all.find((x) => x.name === s.cluster);
      assert.ok(c, `${s.cluster} in ${all.map((x) => x.name).join(', ')}`);
      assert.equal(c.labels[MANAGED_LABEL_KEY], MANAGED_LABEL_VALUE);
      assert.ok(c.labelFingerprint.length > 0);
      assert.equal(c.status, 'RUNNING');
      assert.ok(c.nodePools.some((p) => p.name === s.pool));
      for (const x of all) assert.equal(x.labels[MANAGED_LABEL_KEY], MANAGED_LABEL_VALUE, 'the label filter holds');
    });

    t('get: a project spelled by its number reaches the same cluster, named as asked', async (s, skip) => {
      if (!s.projectNumber) return skip('the project number is not known for this subject');
      const byNumber = s.cluster.replace(/^projects\/[^/]+\//, `projects/${s.projectNumber}/`);
      const c = await s.directory.get(byNumber);
      assert.ok(c, `${byNumber} found`);
      assert.equal(c.name, byNumber);
      assert.ok(c.nodePools.some((p) => p.name === s.pool));
    });

    t('get: the same cluster; a missing one is null', async (s) => {
      const c = await s.directory.get(s.cluster);
      assert.ok(c);
      assert.equal(c.name, s.cluster);
      const missing = s.cluster.replace(/[^/]+$/, 'ferry-contract-no-such-cluster');
      assert.equal(await s.directory.get(missing), null);
    });

    t('errors: unknown node pool and unknown operation are CLUSTER_NOT_FOUND', async (s) => {
      await rejectsWith(s.directory.setNodePoolSize(nodePoolName(s.cluster, 'no-such-pool'), 0), 'CLUSTER_NOT_FOUND', 'setNodePoolSize');
      const loc = s.cluster.split('/')[3];
      await rejectsWith(
        s.directory.getOperation(`${s.cluster.split('/').slice(0, 2).join('/')}/locations/${loc}/operations/operation-no-such-op`),
        'CLUSTER_NOT_FOUND',
        'getOperation',
      );
    });

    t('setNodePoolSize to 0: an operation polled to DONE, then the pool is at 0; and back', async (s) => {
      const op = await s.directory.setNodePoolSize(nodePoolName(s.cluster, s.pool), 0);
      assert.match(op.name, /^projects\/[^/]+\/locations\/[^/]+\/operations\/.+/);
      assert.ok(['PENDING', 'RUNNING', 'DONE'].includes(op.status), op.status);
      const fin = await done(s, op);
      assert.equal(fin.error, null);
      const c = await s.eventually(
        'cluster settles',
        () => s.directory.get(s.cluster),
        (x) => x?.status === 'RUNNING',
      );
      assert.equal(c?.nodePools.find((p) => p.name === s.pool)?.nodeCount, 0);
      const back = await done(s, await s.directory.setNodePoolSize(nodePoolName(s.cluster, s.pool), s.poolSize));
      assert.equal(back.error, null);
      // SetNodePoolSize.node_count is per zone (cluster_service.proto #L473-475, docs/UPSTREAM.md G7):
      // every zone of the pool gets poolSize nodes.
      const up = await s.eventually(
        'the pool is back, per zone',
        () => s.directory.get(s.cluster),
        (x) => x?.status === 'RUNNING' && x.nodePools.find((p) => p.name === s.pool)?.nodesPerZone === s.poolSize,
      );
      const p = up?.nodePools.find((x) => x.name === s.pool);
      assert.ok(p && p.zones.length >= 1);
      assert.equal(p.nodeCount, s.poolSize * p.zones.length, `${s.poolSize} in each of ${p.zones.join(', ')}`);
    });

    t('an operation in flight: the cluster is not RUNNING and a second operation is CLUSTER_CONFLICT', async (s, skip) => {
      if (!s.advance) return skip('needs a controllable clock');
      const op = await s.directory.setNodePoolSize(nodePoolName(s.cluster, s.pool), 1);
      assert.notEqual((await s.directory.get(s.cluster))?.status, 'RUNNING');
      await rejectsWith(s.directory.setNodePoolSize(nodePoolName(s.cluster, s.pool), 2), 'CLUSTER_CONFLICT', 'second operation');
      await done(s, op);
      await done(s, await s.directory.setNodePoolSize(nodePoolName(s.cluster, s.pool), s.poolSize));
    });

    t('the label fingerprint changes with the labels', async (s, skip) => {
      if (!s.setLabels) return skip('needs a label hook (GKE: setLabels is not part of the port)');
      const before = await s.directory.get(s.cluster);
      await s.setLabels(s.cluster, { ...before!.labels, extra: 'x' });
      const after1 = await s.directory.get(s.cluster);
      assert.notEqual(after1!.labelFingerprint, before!.labelFingerprint);
      await s.setLabels(s.cluster, before!.labels);
      assert.equal((await s.directory.get(s.cluster))!.labelFingerprint, before!.labelFingerprint, 'same labels, same fingerprint');
    });

    t('deleteCluster: an operation polled to DONE, then the cluster is gone', async (s, skip) => {
      if (!s.allowDelete) return skip('deleting the cluster is not allowed for this subject');
      const op = await s.directory.deleteCluster(s.cluster);
      const fin = await done(s, op);
      assert.equal(fin.error, null);
      assert.equal(await s.directory.get(s.cluster), null);
      await rejectsWith(s.directory.deleteCluster(s.cluster), 'CLUSTER_NOT_FOUND', 'delete again');
    });
  });
}

/**
 * The production Storage Control adapter (its real `@google-cloud/storage-control` client) against
 * an in-process wire-protocol server (infra/local/storage-control-grpc-server.ts), for unit tests.
 * One server per test file; `reset` gives each test a clean server on its own clock.
 */
import type { Clock } from '../../shared/ports/clock.ts';
import { StorageControlCacheControl } from '../../shared/adapters/storage-control.ts';
import { startStorageControlGrpcServer, type AnywhereCacheModel, type StorageControlServerOptions } from '../../infra/local/storage-control-grpc-server.ts';

/** The adapter, plus the server's test hooks under the names the tests use. */
export type TestStorageControl = StorageControlCacheControl & Pick<AnywhereCacheModel, 'stats' | 'failNext' | 'failNextOperation'>;

export interface StorageControlHarness {
  control: TestStorageControl;
  admin: AnywhereCacheModel;
  /** Forget every cache and operation, zero the counts, and use this clock and these delays. */
  reset(o: { clock: Clock; createDelayMs?: number; updateDelayMs?: number; disabledGraceMs?: number }): void;
  stop(): Promise<void>;
}

export async function storageControlHarness(opts: StorageControlServerOptions = {}): Promise<StorageControlHarness> {
  const server = await startStorageControlGrpcServer(opts);
  const adapter = new StorageControlCacheControl({ apiEndpoint: server.endpoint, projectId: 'demo-ferry' });
  const control = Object.assign(adapter, {
    stats: () => server.admin.stats(),
    failNext: (...a: Parameters<AnywhereCacheModel['failNext']>) => server.admin.failNext(...a),
    failNextOperation: (...a: Parameters<AnywhereCacheModel['failNextOperation']>) => server.admin.failNextOperation(...a),
  }) as TestStorageControl;
  return {
    control,
    admin: server.admin,
    reset(o) {
      server.admin.reset();
      server.admin.setOptions({
        clock: o.clock,
        createDelayMs: o.createDelayMs ?? 1500,
        updateDelayMs: o.updateDelayMs ?? 1000,
        disabledGraceMs: o.disabledGraceMs ?? 3600_000,
      });
    },
    async stop() {
      await adapter.close();
      await server.stop();
    },
  };
}

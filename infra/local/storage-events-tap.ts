/**
 * DEV ONLY — never deployed. Preloaded (`node --import`) into the firebase CLI process that runs the
 * Storage emulator (infra/local/emulators.ts), it takes the emulator's object events at the one
 * place it emits them and hands them to ferry's event delivery (event-delivery.ts).
 *
 * How the Storage emulator notifies (firebase-tools@14.27.0):
 *  - lib/emulator/storage/files.js#L173 and #L217 call `this._cloudFunctions.dispatch("finalize",
 *    new CloudStorageObjectMetadata(metadata))` after an upload or a copy is stored (not awaited);
 *  - lib/emulator/storage/cloudFunctions.js#L27-53 `StorageCloudFunctions.dispatch` then POSTs a
 *    legacy event and a structured CloudEvent (built by `createCloudEventRequestBody`, #L68-86) to the
 *    Functions emulator's `/functions/projects/P/trigger_multicast` — and only when a Functions
 *    emulator runs in the same process (#L21-25). That emulator runs each trigger in a Node worker
 *    of its own: the cost and the losses issue #23 describes.
 * This tap replaces `dispatch` on that class's prototype: the emulator's own CloudEvent body goes
 * into a bounded queue with retries instead. No Functions emulator runs at all.
 *
 * Environment (set by emulators.ts): FERRY_UPLOAD_FUNCTION_URL (unset: events are counted and
 * dropped), FERRY_EVENT_DELIVERY_PORT (status API on 127.0.0.1), FERRY_EVENT_TYPES (comma list,
 * default the finalize type), FERRY_EVENT_CONCURRENCY, FERRY_EVENT_MAX_AGE_S.
 *
 * Status API: GET /status → DeliveryStats; GET /deliveries?prefix=P&limit=N → DeliveryRecord[].
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventDelivery, type StructuredCloudEvent } from './event-delivery.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
// The same absolute file the CLI requires later, so both share one module (and one prototype).
const modulePath = join(repoRoot, 'node_modules', 'firebase-tools', 'lib', 'emulator', 'storage', 'cloudFunctions.js');

interface StorageCloudFunctionsProto {
  dispatch(action: string, object: unknown): Promise<void>;
  createCloudEventRequestBody(action: string, object: unknown): StructuredCloudEvent;
}
const { StorageCloudFunctions } = require(modulePath) as { StorageCloudFunctions: { prototype: StorageCloudFunctionsProto } };
if (typeof StorageCloudFunctions?.prototype?.createCloudEventRequestBody !== 'function') {
  throw new Error(`ferry storage-events tap: ${modulePath} no longer has StorageCloudFunctions.createCloudEventRequestBody; update the tap`);
}

const env = process.env;
const log = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}) => {
  if (level === 'info' && env['FERRY_EVENT_DELIVERY_QUIET'] === '1') return;
  process.stdout.write(`ferry-events ${JSON.stringify({ severity: level.toUpperCase(), message, ...fields })}\n`);
};
const url = env['FERRY_UPLOAD_FUNCTION_URL'] ?? '';
const types = new Set((env['FERRY_EVENT_TYPES'] || 'google.cloud.storage.object.v1.finalized').split(',').map((s) => s.trim()));
const delivery = url
  ? new EventDelivery({
      url,
      concurrency: Number(env['FERRY_EVENT_CONCURRENCY'] || 8),
      maxAgeMs: Number(env['FERRY_EVENT_MAX_AGE_S'] || 3600) * 1000,
      log,
    })
  : undefined;
let ignored = 0;

StorageCloudFunctions.prototype.dispatch = async function dispatch(this: StorageCloudFunctionsProto, action: string, object: unknown): Promise<void> {
  let ce: StructuredCloudEvent;
  try {
    ce = this.createCloudEventRequestBody(action, object);
  } catch {
    ignored++; // an action with no CloudEvent type (the emulator's own check)
    return;
  }
  if (!types.has(ce.type)) {
    ignored++;
    return;
  }
  if (!delivery) {
    log('warn', 'ferry storage-events tap: FERRY_UPLOAD_FUNCTION_URL unset; event dropped', { id: ce.id, source: ce.source });
    ignored++;
    return;
  }
  // A plain copy: the emulator's metadata object must not be held by reference.
  delivery.enqueue(JSON.parse(JSON.stringify(ce)) as StructuredCloudEvent);
};

const port = Number(env['FERRY_EVENT_DELIVERY_PORT'] || 0);
if (port) {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'GET only' });
    if (u.pathname === '/status') return send(200, { ...(delivery?.stats() ?? { url: null }), ignored, types: [...types] });
    if (u.pathname === '/deliveries') {
      const limit = Math.min(100_000, Math.max(1, Number(u.searchParams.get('limit') || 10_000)));
      return send(200, delivery?.deliveries(u.searchParams.get('prefix') ?? '', limit) ?? []);
    }
    return send(404, { error: 'GET /status or /deliveries?prefix=' });
  });
  server.listen(port, '127.0.0.1');
  server.unref();
  server.on('error', (e) => log('error', `ferry storage-events tap: status API cannot listen on ${port}: ${e.message}`));
}
log('info', 'ferry storage-events tap installed', { url: url || null, types: [...types], statusPort: port || null });

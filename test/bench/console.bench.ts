/**
 * First paint of the console's models page with 50 models × 20 versions: server time until the
 * whole HTML is there. Two numbers: rendering alone (in-memory reads, handleConsoleRequest), and the
 * real path — the stack's console function (functions-framework) reading the Firestore emulator,
 * timed from request to the last byte of the body. Goal (issue #21): ≤ 1 s locally.
 */
import { handleConsoleRequest } from '../../shared/app/console.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { bulkData, memoryReads } from '../helpers/console-data.ts';
import type { Logger } from '../../shared/ports/logger.ts';

const MODELS = 50;
const VERSIONS = 20;
const RUNS = Number(process.env['FERRY_BENCH_RUNS'] ?? 21);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const round = (x: number) => Math.round(x * 10) / 10;

export async function run(env: Record<string, string>): Promise<Record<string, unknown>> {
  const data = bulkData(MODELS, VERSIONS);
  const token = env['FERRY_CONSOLE_DEV_TOKEN']!;

  // Rendering alone.
  const deps = { reads: memoryReads(data), iap: null, devToken: token, pollSeconds: 5, logger: quiet };
  const render = async () => {
    const t0 = process.hrtime.bigint();
    const r = await handleConsoleRequest({ method: 'GET', path: '/models', query: {}, headers: { authorization: `Bearer ${token}` } }, deps);
    if (r.status !== 200) throw new Error(`models page: ${r.status}`);
    return { ms: ms(t0), bytes: Buffer.byteLength(r.text) };
  };
  for (let i = 0; i < 3; i++) await render();
  const inMemory: number[] = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const s = await render();
    inMemory.push(s.ms);
    bytes = s.bytes;
  }

  // The same records in the Firestore emulator, read by the stack's console function.
  const db = firestoreClient(env['GOOGLE_CLOUD_PROJECT']!);
  const docs = [
    ...data.models.map((m) => [db.collection('models').doc(m.model), m] as const),
    ...data.versions.map((v) => [db.collection('models').doc(v.model).collection('versions').doc(v.version), v] as const),
  ];
  for (let i = 0; i < docs.length; i += 400) {
    const batch = db.batch();
    for (const [ref, doc] of docs.slice(i, i + 400)) batch.set(ref, doc);
    await batch.commit();
  }
  const url = `${env['FERRY_URL_CONSOLE']}/models`;
  const fetchPage = async () => {
    const t0 = process.hrtime.bigint();
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const text = await r.text();
    if (r.status !== 200 || !text.includes(`Models <span class="muted">(${MODELS})`)) throw new Error(`console ${url}: ${r.status}`);
    return ms(t0);
  };
  const cold = await fetchPage(); // the function instance's first request (deps built, Firestore channel opened)
  const viaFunction: number[] = [];
  for (let i = 0; i < RUNS; i++) viaFunction.push(await fetchPage());
  return {
    page: `/models, ${MODELS} models × ${VERSIONS} versions (${bytes} bytes of HTML)`,
    renderOnlyMs: { median: round(pct(inMemory, 0.5)), p95: round(pct(inMemory, 0.95)) },
    functionWithFirestoreEmulatorMs: { first: round(cold), median: round(pct(viaFunction, 0.5)), p95: round(pct(viaFunction, 0.95)) },
    runs: RUNS,
    goalMs: 1000,
  };
}

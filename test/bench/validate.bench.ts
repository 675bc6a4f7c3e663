/**
 * Benchmark: validating checkpoints of 1 / 100 / 1000 shards in the Storage emulator, three ways:
 *
 *   ferry  — validateCheckpoint over gs:// (one listing, one ranged read per shard)
 *   hub    — @huggingface/hub parseSafetensorsMetadata, its fetch pointed at a small in-process
 *            adapter that maps hub URLs (`/{repo}/resolve|raw/{rev}/{file}`) onto the emulator's media
 *            download with Range passthrough (it probes, then reads 8 bytes, then the header)
 *   naive  — list, then download every file whole and parse the headers locally
 *
 * Reports requests and bytes per shard, wall time (median of FERRY_BENCH_REPEATS runs) and ratios.
 * Needs STORAGE_EMULATOR_HOST (and FERRY_BUCKET, GOOGLE_CLOUD_PROJECT; defaults used if unset).
 *
 *   ./node_modules/.bin/node test/bench/validate.bench.ts            # JSON + a table
 *   FERRY_BENCH_SHARDS=1,100 FERRY_BENCH_SHARD_BYTES=262144 …        # other sizes
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensorsMetadata } from '@huggingface/hub';
import { gcsObjectStore, storageClient } from '../../shared/adapters/gcs.ts';
import { mapLimit, validateCheckpoint } from '../../shared/app/validate-checkpoint.ts';
import { parseShardHeader } from '../../shared/domain/safetensors.ts';
import { needsMoreBytes } from '../../shared/domain/safetensors-format.ts';
import { makeCheckpoint } from './synthetic.ts';

export interface BenchOptions {
  shards?: number[];
  /** Tensor bytes per shard (the header comes on top). */
  shardDataBytes?: number;
  tensorsPerShard?: number;
  repeats?: number;
  env?: Record<string, string | undefined>;
  log?: (m: string) => void;
}

interface Measure {
  ok: boolean;
  wallMs: number;
  requests: number;
  bytesRead: number;
  requestsPerShard: number;
  bytesPerShard: number;
  parameters: number;
}

/** A `fetch` that serves hub URLs from the emulator, counting requests and body bytes. */
function hubAdapter(emulator: string, bucket: string, prefixOf: (repo: string) => string) {
  const counters = { requests: 0, bytesRead: 0 };
  const base = emulator.replace(/\/+$/, '');
  const adapter = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const m = /^\/([^/]+\/[^/]+)\/(?:resolve|raw)\/[^/]+\/(.+)$/.exec(url.pathname);
    counters.requests++;
    if (!m) return new Response('no such route', { status: 404, headers: { 'X-Error-Code': 'EntryNotFound' } });
    const object = encodeURIComponent(prefixOf(m[1]!) + decodeURIComponent(m[2]!));
    if ((init?.method ?? 'GET').toUpperCase() === 'HEAD') {
      const r = await fetch(`${base}/storage/v1/b/${bucket}/o/${object}`);
      await r.arrayBuffer();
      return new Response(null, { status: r.ok ? 200 : 404, headers: r.ok ? {} : { 'X-Error-Code': 'EntryNotFound' } });
    }
    const range = new Headers(init?.headers).get('range');
    const r = await fetch(`${base}/download/storage/v1/b/${bucket}/o/${object}?alt=media`, { headers: range ? { Range: range } : {} });
    const body = new Uint8Array(await r.arrayBuffer());
    counters.bytesRead += body.length;
    const headers = new Headers({ etag: r.headers.get('etag') ?? `"${object}"` });
    for (const k of ['content-range', 'content-type']) {
      const v = r.headers.get(k);
      if (v) headers.set(k, v);
    }
    if (r.status === 404) headers.set('X-Error-Code', 'EntryNotFound');
    return new Response(r.status === 404 ? null : body, { status: r.status, headers });
  };
  return { fetch: adapter as typeof fetch, counters };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

export async function run(opts: BenchOptions = {}): Promise<object> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((m: string) => process.stderr.write(`[bench validate] ${m}\n`));
  const emulator = env['STORAGE_EMULATOR_HOST'];
  if (!emulator) {
    throw new Error(
      'STORAGE_EMULATOR_HOST is not set: start the Storage emulator (./node_modules/.bin/node infra/local/emulators.ts) and export what it prints',
    );
  }
  const bucket = env['FERRY_BUCKET'] || 'ferry-bench';
  const shardsList = opts.shards ?? (env['FERRY_BENCH_SHARDS'] ?? '1,100,1000').split(',').map(Number);
  const dataBytes = opts.shardDataBytes ?? Number(env['FERRY_BENCH_SHARD_BYTES'] ?? 128 * 1024);
  const tensors = opts.tensorsPerShard ?? Number(env['FERRY_BENCH_TENSORS'] ?? 16);
  const repeats = opts.repeats ?? Number(env['FERRY_BENCH_REPEATS'] ?? 3);
  const runId = `bench/validate-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const client = { emulatorHost: env['STORAGE_EMULATOR_HOST'], projectId: env['GOOGLE_CLOUD_PROJECT'] };
  const storage = storageClient(client);
  const b = storage.bucket(bucket);
  const emulatorBase = /^https?:\/\//.test(emulator) ? emulator : `http://${emulator}`;
  const rows: Array<Record<string, unknown>> = [];

  try {
    for (const n of shardsList) {
      const prefix = `${runId}/n${n}/`;
      const ckpt = makeCheckpoint(n, tensors, dataBytes);
      const up = await timed(() =>
        mapLimit(ckpt.files, 32, (f) => b.file(prefix + f.name).save(Buffer.from(f.bytes), { resumable: false, validation: false })),
      );
      const totalBytes = ckpt.files.reduce((s, f) => s + f.bytes.length, 0);
      log(`n=${n}: uploaded ${ckpt.files.length} files, ${(totalBytes / 1048576).toFixed(1)} MiB in ${(up.ms / 1000).toFixed(1)} s`);

      const per = (m: Omit<Measure, 'requestsPerShard' | 'bytesPerShard'>): Measure => ({
        ...m,
        requestsPerShard: m.requests / n,
        bytesPerShard: m.bytesRead / n,
      });

      const ferryRuns: Measure[] = [];
      const hubRuns: Measure[] = [];
      const naiveRuns: Measure[] = [];
      for (let r = 0; r < repeats; r++) {
        // ferry
        {
          const store = gcsObjectStore(bucket, { client });
          const { value, ms } = await timed(() => validateCheckpoint(store, prefix));
          if (!value.ok) throw new Error(`ferry says the synthetic checkpoint is invalid: ${JSON.stringify(value.errors.slice(0, 3))}`);
          ferryRuns.push(per({ ok: value.ok, wallMs: ms, ...value.io, parameters: value.summary.parameters }));
        }
        // @huggingface/hub
        {
          const hub = hubAdapter(emulatorBase, bucket, () => prefix);
          const { value, ms } = await timed(() =>
            parseSafetensorsMetadata({ repo: `bench/n${n}`, hubUrl: 'http://hub.invalid', fetch: hub.fetch, computeParametersCount: true }),
          );
          const params = Object.values(value.parameterCount).reduce<number>((s, x) => s + (x ?? 0), 0);
          hubRuns.push(per({ ok: true, wallMs: ms, ...hub.counters, parameters: params }));
        }
        // naive: download everything, parse locally
        {
          const store = gcsObjectStore(bucket, { client });
          const { value, ms } = await timed(async () => {
            const listing = await store.list(prefix);
            let params = 0;
            let ok = true;
            await mapLimit(listing, 16, async (o) => {
              const bytes = await store.read(o.name, 0, o.size, o.generation);
              if (!o.name.endsWith('.safetensors')) return;
              const h = parseShardHeader(bytes, o.size, o.name);
              if (needsMoreBytes(h) || !h.ok) ok = false;
              else params += h.tensors.reduce((s, t) => s + Number(t.numel), 0);
            });
            return { ok, params };
          });
          naiveRuns.push(per({ ok: value.ok, wallMs: ms, ...store.stats(), parameters: value.params }));
        }
      }
      const summarise = (ms: Measure[]): Measure => ({ ...ms[ms.length - 1]!, wallMs: Math.round(median(ms.map((m) => m.wallMs)) * 10) / 10 });
      const ferry = summarise(ferryRuns);
      const hub = summarise(hubRuns);
      const naive = summarise(naiveRuns);
      const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
      const round3 = (x: number) => Math.round(x * 1000) / 1000;
      const sideFiles = ckpt.files.filter((f) => f.name === 'config.json' || f.name === 'model.safetensors.index.json');
      const sideBytes = sideFiles.reduce((s2, f) => s2 + f.bytes.length, 0);
      rows.push({
        shards: n,
        shardBytes: Math.round(totalBytes / n),
        expectedParameters: ckpt.params,
        ferry,
        hub,
        naive,
        ratios: {
          hubOverFerry: { wall: ratio(hub.wallMs, ferry.wallMs), requests: ratio(hub.requests, ferry.requests), bytes: ratio(hub.bytesRead, ferry.bytesRead) },
          naiveOverFerry: {
            wall: ratio(naive.wallMs, ferry.wallMs),
            requests: ratio(naive.requests, ferry.requests),
            bytes: ratio(naive.bytesRead, ferry.bytesRead),
          },
        },
        goals: {
          // Over the whole run (listing + index + config amortised over the shards) and for shard reads alone.
          requestsPerShard: {
            goal: 1.05,
            ferry: round3(ferry.requestsPerShard),
            ferryShardReadsOnly: round3((ferry.requests - 1 - sideFiles.length) / n),
            met: (ferry.requests - 1 - sideFiles.length) / n <= 1.05 && (n < 100 || ferry.requestsPerShard <= 1.05),
          },
          bytesPerShard: {
            goal: 65536,
            ferry: Math.round(ferry.bytesPerShard),
            ferryShardReadsOnly: Math.round((ferry.bytesRead - sideBytes) / n),
            met: (ferry.bytesRead - sideBytes) / n <= 65536,
          },
        },
        agree: ferry.parameters === ckpt.params && hub.parameters === ckpt.params && naive.parameters === ckpt.params,
      });
      log(
        `n=${n}: ferry ${ferry.wallMs} ms / ${ferry.requests} req, hub ${hub.wallMs} ms / ${hub.requests} req, naive ${naive.wallMs} ms / ${naive.requests} req`,
      );
      await b.deleteFiles({ prefix, force: true }).catch(() => {});
    }
  } finally {
    await b.deleteFiles({ prefix: `${runId}/`, force: true }).catch(() => {});
  }

  return {
    name: 'validate',
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    setup: { emulator: 'Firebase Storage emulator (firebase-tools)', shardDataBytes: dataBytes, tensorsPerShard: tensors, repeats, firstReadBytes: 65536 },
    rows,
  };
}

export function table(result: { rows: Array<Record<string, any>> }): string {
  const lines = [
    '| shards | method | wall ms | requests | req/shard | bytes read | bytes/shard | wall × ferry | bytes × ferry |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of result.rows) {
    for (const k of ['ferry', 'hub', 'naive'] as const) {
      const m = r[k] as Measure;
      const f = r['ferry'] as Measure;
      lines.push(
        `| ${r['shards']} | ${k === 'hub' ? '@huggingface/hub' : k === 'naive' ? 'naive full download' : 'ferry'} | ${m.wallMs} | ${m.requests} | ${m.requestsPerShard.toFixed(3)} | ${m.bytesRead.toLocaleString('en-US')} | ${Math.round(m.bytesPerShard).toLocaleString('en-US')} | ${(m.wallMs / f.wallMs).toFixed(2)} | ${(m.bytesRead / f.bytesRead).toFixed(2)} |`,
      );
    }
  }
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run()
    .then((result) => {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n\n' + table(result as { rows: Array<Record<string, any>> }) + '\n');
    })
    .catch((e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    });
}

/**
 * One simulated `vllm serve` container: parses its command line (./args.ts), lists the `gs://`
 * model like the Run:ai streamer (./listing.ts), streams every byte of every listed shard from the
 * Storage emulator with ranged reads at the streamer's concurrency, checks each header with the
 * reference reader's rules (shared/domain/safetensors.ts), and only then listens on the pod IP:
 * `/health`, the OpenAI API and `/metrics`. Whatever fails ends the container with an exit code and
 * the error on its log, as vLLM would — the node simulator then crash-loops the pod.
 *
 * Time is modelled, not measured (./time-model.ts, docs/serving-sim.md "Time"): the load takes at
 * least bucket bytes ÷ the bucket rate + cache bytes ÷ the cache rate. Which bytes a zonal Anywhere
 * Cache serves is asked of the local Storage Control server: the real `@google-cloud/storage-control`
 * client gets the cache of the bucket in the pod's zone (the node's `topology.kubernetes.io/zone`),
 * and, when it is RUNNING, the reads are reported to that server's simulation plumbing, which answers
 * hit or miss and ingests by the cache's admission policy. Real reads here that take longer count as
 * they are.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { parseShardHeader } from '../../../shared/domain/safetensors.ts';
import { needsMoreBytes } from '../../../shared/domain/safetensors-format.ts';
import { LOAD_FORMATS, parseServeArgs, runaiExtraConfig, streamerEnv, type ServeArgs } from './args.ts';
import { DEFAULT_STREAMER_VERSION, naturalsizeBinary, parseGsPath, streamerListing } from './listing.ts';
import { StorageControlCacheControl } from '../../../shared/adapters/storage-control.ts';
import { storageControlAdmin } from '../storage-control-grpc-server.ts';
import { DEFAULT_BUCKET_BYTES_PER_SECOND, cacheRateForLoad, modelledLoadSeconds, splitBySource, type ObjectRead, type ReadOutcome } from './time-model.ts';
import { chatPrompt, completionText, countTokens, renderMetrics, vllmLogLine, type MetricsState } from './openai.ts';

export const SIMULATED_VLLM_VERSION = '0.11.2';
const GiB = 2 ** 30;
/** runai-model-streamer@0.15.0:cpp/streamer/impl/config/config.cc#L40-43: object-store concurrency 8. */
export const DEFAULT_STREAMER_CONCURRENCY = 8;
/** runai-model-streamer@0.15.0:cpp/common/s3_wrapper/s3_wrapper.h#L115: 8 MiB object-store chunks. */
export const DEFAULT_CHUNK_BYTES = 8 * 2 ** 20;

export interface ContainerSpec {
  /** `namespace/pod` (for messages). */
  pod: string;
  command?: string[];
  args: string[];
  env: Record<string, string>;
  /** GPUs the container was given (`nvidia.com/gpu` limit). */
  gpus: number;
  /** The pod IP to listen on. */
  ip: string;
  /** The node's `topology.kubernetes.io/zone` (where a zonal cache can serve the reads). */
  zone?: string;
}

export interface ServingSimOptions {
  /** http://127.0.0.1:P of the Storage emulator (read when a container starts). */
  storageHost: () => string | undefined;
  /** Modelled streaming rate from the bucket (bytes/s, default 1.1 GiB/s; time-model.ts). */
  bytesPerSecond?: number;
  /** The local Storage Control server (gRPC endpoint and admin host), read when a load starts; without it no cache serves. */
  storageControl?: () => { endpoint: string; adminHost: string } | undefined;
  /** Most bytes/s one pod takes from a zonal cache (default unlimited: the cache's own limit applies; time-model.ts). */
  cacheClientBytesPerSecond?: number;
  /** Streamer version in the image (listing rules; default DEFAULT_STREAMER_VERSION). */
  streamerVersion?: string;
  /** Modelled decode speed per request (tokens/s, default 200). */
  tokensPerSecond?: number;
}

export interface LoadReport {
  files: string[];
  bytes: number;
  /** Modelled seconds of the load (what the logs print). */
  seconds: number;
  /** Bytes served by the zonal cache and by the bucket (they add up to `bytes`). */
  cacheBytes: number;
  bucketBytes: number;
  /** The zone the pod read from, and the state of the bucket's cache there (null: none). */
  zone: string | null;
  cacheState: string | null;
  weightsDigest: string;
}

export interface VllmContainer {
  /** Log lines so far (stdout and stderr interleaved, as the kubelet keeps them). */
  readonly logs: Array<{ at: Date; line: string }>;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number>;
  /** The load's figures once it finished. */
  readonly load: LoadReport | undefined;
  /** Port the server listens on once loaded. */
  readonly port: number;
  /** SIGTERM: stops serving, exit code 0. */
  stop(): Promise<void>;
}

/**
 * The streamer's summary line, as runai-model-streamer@0.15.0:py/runai_model_streamer/runai_model_streamer/
 * file_streamer/file_streamer.py#L62-64 prints it: a bare `print(…, flush=True)` (no logging prefix),
 * size = every byte requested (headers + tensors). The device is `cpu`: vLLM streams to "cpu" unless
 * `distributed` is on with CUDA (weight_utils.py runai_safetensors_weights_iterator), and a
 * distributed rank streams its partition to "cpu" too (distributed_streamer.py#L363); docs/UPSTREAM.md
 * CS1–CS3. Parsed by shared/domain/cold-start.ts parseLoadLines.
 */
export function streamerSummaryLine(bytes: number, seconds: number): string {
  return `[RunAI Streamer] Overall time to stream ${naturalsizeBinary(bytes)} of all files to cpu: ${pyFloat(Math.round(seconds * 100) / 100)}s, ${naturalsizeBinary(bytes / seconds)}/s`;
}

/**
 * vLLM gpu_model_runner.py load_model: "Model loading took %.4f GiB and %.6f seconds" — the GiB is
 * GPU memory the worker allocated (about 1/TP of the weights), docs/UPSTREAM.md CS4.
 */
export function vllmLoadMessage(bytes: number, tensorParallelSize: number, seconds: number): string {
  return `Model loading took ${(bytes / tensorParallelSize / GiB).toFixed(4)} GiB and ${seconds.toFixed(6)} seconds`;
}

/** Python's str() of a float: `12.0`, not `12` (the streamer prints `round(elapsed, 2)`). */
function pyFloat(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

class Exit extends Error {
  readonly code: number;
  readonly lines: string[];
  constructor(code: number, lines: string[]) {
    super(lines.join('\n'));
    this.code = code;
    this.lines = lines;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export function startVllmContainer(spec: ContainerSpec, opts: ServingSimOptions): VllmContainer {
  const logs: Array<{ at: Date; line: string }> = [];
  const say = (line: string): void => {
    for (const l of line.split('\n')) if (l !== '') logs.push({ at: new Date(), line: l });
  };
  const info = (where: string, m: string): void => say(vllmLogLine('INFO', where, m));
  let server: Server | undefined;
  let stopped = false;
  let load: LoadReport | undefined;
  let port = 8000;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));

  const run = async (): Promise<number> => {
    const parsed = parseServeArgs(spec.command, spec.args);
    if (!parsed.ok) throw new Exit(parsed.exitCode, parsed.stderr.split('\n'));
    const a = parsed.args;
    port = a.port;
    info('api_server.py:1839', `vLLM API server version ${SIMULATED_VLLM_VERSION}`);
    info('utils.py:233', `non-default args: ${JSON.stringify(a.values)}`);
    if (a.tensorParallelSize > spec.gpus) {
      throw new Exit(1, [
        vllmLogLine('ERROR', 'core.py:708', 'EngineCore failed to start.'),
        `ValueError: tensor_parallel_size=${a.tensorParallelSize} needs ${a.tensorParallelSize} GPUs, but the container has ${spec.gpus} (simulated check)`,
      ]);
    }
    if (!(LOAD_FORMATS as readonly string[]).includes(a.loadFormat)) {
      // --load-format takes any string at parse time (str | LoadFormats); the loader registry refuses it.
      throw new Exit(1, [
        vllmLogLine('ERROR', 'core.py:708', 'EngineCore failed to start.'),
        `ValueError: Load format \`${a.loadFormat}\` is not supported. Supported formats: ${LOAD_FORMATS.join(', ')}`,
      ]);
    }
    const gs = parseGsPath(a.model);
    if (a.loadFormat !== 'runai_streamer' || !gs) {
      throw new Exit(1, [
        `OSError: ${a.model} is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models' ` +
          `(the simulation serves gs:// models with --load-format=runai_streamer only)`,
      ]);
    }
    const host = opts.storageHost();
    if (!host) throw new Exit(1, ['RuntimeError: no Storage endpoint (the simulator was started without STORAGE_EMULATOR_HOST)']);
    const extra = runaiExtraConfig(a.loaderExtraConfig);
    if (extra.ignored.length > 0) {
      // The stand-in's own line: vLLM ignores these keys without a word (flags-v0.11.2.ts RUNAI_LOADER_EXTRA_KEYS).
      info('ferry_vllm_sim', `[ferry vllm-sim] --model-loader-extra-config keys the Run:ai loader ignores: ${extra.ignored.join(', ')}`);
    }
    const env = streamerEnv(a.loaderExtraConfig, spec.env);
    const concurrency = Math.max(1, Number.parseInt(env['RUNAI_STREAMER_CONCURRENCY'] ?? '', 10) || DEFAULT_STREAMER_CONCURRENCY);
    const chunkEnv = Number.parseInt(env['RUNAI_STREAMER_CHUNK_BYTESIZE'] ?? '', 10);
    // config.cc: object-store chunks below 5 MiB are raised to 5 MiB.
    const chunk = Number.isFinite(chunkEnv) && chunkEnv > 0 ? Math.max(chunkEnv, 5 * 2 ** 20) : DEFAULT_CHUNK_BYTES;
    const version = opts.streamerVersion ?? DEFAULT_STREAMER_VERSION;
    load = await streamModel(host, gs.bucket, gs.prefix, a, {
      concurrency,
      chunk,
      version,
      bytesPerSecond: opts.bytesPerSecond ?? DEFAULT_BUCKET_BYTES_PER_SECOND,
      cacheClientBytesPerSecond: opts.cacheClientBytesPerSecond ?? Infinity,
      zone: spec.zone ?? null,
      storageControl: opts.storageControl?.(),
      info,
      say,
      isStopped: () => stopped,
    });
    if (stopped) return 0;
    await serve(a, load);
    return await new Promise<number>((resolve) => server!.once('close', () => resolve(0)));
  };

  const serve = async (a: ServeArgs, l: LoadReport): Promise<void> => {
    const modelName = a.servedModelNames[0]!;
    const metrics: MetricsState = {
      modelName,
      running: 0,
      waiting: 0,
      kvCacheUsage: 0,
      promptTokens: 0,
      generationTokens: 0,
      success: {},
      createdAt: Date.now() / 1000,
    };
    const tps = opts.tokensPerSecond ?? 200;
    const created = Math.floor(Date.now() / 1000);
    const json = (res: ServerResponse, status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const error = (res: ServerResponse, status: number, type: string, message: string, param: string | null = null): void =>
      json(res, status, { error: { message, type, param, code: status } });
    const readBody = (req: IncomingMessage): Promise<string> =>
      new Promise((resolve, reject) => {
        let s = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (s += c));
        req.on('end', () => resolve(s));
        req.on('error', reject);
      });
    const generate = async (res: ServerResponse, body: Record<string, unknown>, chat: boolean): Promise<void> => {
      if (typeof body['model'] === 'string' && !a.servedModelNames.includes(body['model'])) {
        return error(res, 404, 'NotFoundError', `The model \`${body['model']}\` does not exist.`, 'model');
      }
      let prompt: string;
      if (chat) {
        if (!Array.isArray(body['messages'])) return error(res, 400, 'BadRequestError', 'messages: Field required', 'messages');
        prompt = chatPrompt(body['messages'] as Array<{ role?: unknown; content?: unknown }>);
      } else {
        const p = body['prompt'];
        if (typeof p === 'string') prompt = p;
        else if (Array.isArray(p) && typeof p[0] === 'string') prompt = p[0];
        else return error(res, 400, 'BadRequestError', 'prompt: Field required', 'prompt');
      }
      const maxTokens = Number(body[chat && body['max_completion_tokens'] !== undefined ? 'max_completion_tokens' : 'max_tokens'] ?? 16);
      if (!Number.isInteger(maxTokens) || maxTokens < 1) return error(res, 400, 'BadRequestError', 'max_tokens must be at least 1', 'max_tokens');
      const promptTokens = countTokens(prompt);
      const limit = a.maxModelLen ?? 4096;
      if (promptTokens + maxTokens > limit) {
        return error(
          res,
          400,
          'BadRequestError',
          `This model's maximum context length is ${limit} tokens. However, you requested ${promptTokens + maxTokens} tokens.`,
        );
      }
      // temperature 0 (or a seed) is deterministic; otherwise sampling varies between calls.
      const temperature = body['temperature'] === undefined ? 1 : Number(body['temperature']);
      const salt = temperature === 0 ? '' : body['seed'] !== undefined ? `seed:${String(body['seed'])}` : randomUUID();
      metrics.running++;
      metrics.kvCacheUsage = Math.min(1, (metrics.running * (promptTokens + maxTokens)) / limit);
      try {
        await sleep((maxTokens / tps) * 1000);
      } finally {
        metrics.running--;
        metrics.kvCacheUsage = metrics.running === 0 ? 0 : metrics.kvCacheUsage;
      }
      const text = completionText(l.weightsDigest, salt ? `${salt}\0${prompt}` : prompt, maxTokens);
      metrics.promptTokens += promptTokens;
      metrics.generationTokens += maxTokens;
      metrics.success['length'] = (metrics.success['length'] ?? 0) + 1;
      const usage = { prompt_tokens: promptTokens, total_tokens: promptTokens + maxTokens, completion_tokens: maxTokens };
      const now = Math.floor(Date.now() / 1000);
      if (chat) {
        return json(res, 200, {
          id: `chatcmpl-${randomUUID().replaceAll('-', '')}`,
          object: 'chat.completion',
          created: now,
          model: modelName,
          choices: [{ index: 0, message: { role: 'assistant', content: text.trimStart() }, logprobs: null, finish_reason: 'length', stop_reason: null }],
          usage,
        });
      }
      return json(res, 200, {
        id: `cmpl-${randomUUID().replaceAll('-', '')}`,
        object: 'text_completion',
        created: now,
        model: modelName,
        choices: [{ index: 0, text, logprobs: null, finish_reason: 'length', stop_reason: null }],
        usage,
      });
    };
    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (req.method === 'GET' && path === '/health') return void res.writeHead(200, { 'content-length': 0 }).end();
      if (req.method === 'GET' && path === '/metrics') {
        const text = renderMetrics(metrics);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return void res.end(text);
      }
      if (req.method === 'GET' && path === '/v1/models') {
        return json(res, 200, {
          object: 'list',
          data: a.servedModelNames.map((id) => ({
            id,
            object: 'model',
            created,
            owned_by: 'vllm',
            root: a.model,
            parent: null,
            max_model_len: a.maxModelLen ?? 4096,
          })),
        });
      }
      if (req.method === 'POST' && (path === '/v1/completions' || path === '/v1/chat/completions')) {
        let body: Record<string, unknown>;
        try {
          const parsed = JSON.parse(await readBody(req)) as unknown;
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
          body = parsed as Record<string, unknown>;
        } catch {
          return error(res, 400, 'BadRequestError', 'JSON decode error');
        }
        return generate(res, body, path === '/v1/chat/completions');
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ detail: 'Not Found' }));
    };
    server = createServer((req, res) => {
      handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) error(res, 500, 'InternalServerError', e instanceof Error ? e.message : String(e));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Exit(1, [`OSError: [Errno 98] error while attempting to bind on address ('${spec.ip}', ${a.port}): ${e.code ?? e.message}`])),
      );
      server!.listen(a.port, spec.ip, () => resolve());
    });
    info('api_server.py:1910', `Starting vLLM API server 0 on http://${a.host}:${a.port}`);
    info('launcher.py:44', 'Route: /health, Methods: GET');
    info('launcher.py:44', 'Route: /v1/models, Methods: GET');
    info('launcher.py:44', 'Route: /v1/completions, Methods: POST');
    info('launcher.py:44', 'Route: /v1/chat/completions, Methods: POST');
    info('launcher.py:44', 'Route: /metrics, Methods: GET');
    say('INFO:     Application startup complete.');
  };

  void run().then(
    (code) => resolveExit(code),
    (e: unknown) => {
      if (e instanceof Exit) {
        for (const l of e.lines) say(l);
        resolveExit(e.code);
      } else {
        say(vllmLogLine('ERROR', 'core.py:708', 'EngineCore failed to start.'));
        say(`RuntimeError: ${e instanceof Error ? e.message : String(e)}`);
        resolveExit(1);
      }
    },
  );

  return {
    logs,
    exited,
    get load() {
      return load;
    },
    get port() {
      return port;
    },
    async stop() {
      stopped = true;
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((r) => server!.close(() => r()));
      }
      await Promise.race([exited, sleep(2000)]);
    },
  };
}

interface StreamOptions {
  concurrency: number;
  chunk: number;
  version: string;
  bytesPerSecond: number;
  cacheClientBytesPerSecond: number;
  zone: string | null;
  storageControl: { endpoint: string; adminHost: string } | undefined;
  info: (where: string, m: string) => void;
  /** A raw stdout line (Python `print`), no vLLM logging prefix. */
  say: (line: string) => void;
  isStopped: () => boolean;
}

/** Loads reading from each zonal cache right now (they share its bandwidth limit). */
const loadsPerCache = new Map<string, number>();

/**
 * Which of the load's objects the zonal cache serves: the real client gets the cache (state RUNNING?),
 * then the reads go to the Storage Control server's simulation plumbing. No zone, no server, no cache,
 * or a cache that is not RUNNING: every byte comes from the bucket.
 */
async function cacheReads(
  bucket: string,
  objects: ObjectRead[],
  o: StreamOptions,
): Promise<{ state: string | null; reads: ReadOutcome[]; storedBytes: number }> {
  const fromBucket = { state: null, reads: objects.map((x) => ({ name: x.name, bytes: x.bytes, source: 'bucket' as const, ingested: false })), storedBytes: 0 };
  if (!o.zone || !o.storageControl) return fromBucket;
  const client = new StorageControlCacheControl({ apiEndpoint: o.storageControl.endpoint });
  try {
    const cache = await client.get(bucket, o.zone);
    if (!cache) return fromBucket;
    if (cache.state !== 'running') return { ...fromBucket, state: cache.rawState };
    return await storageControlAdmin(o.storageControl.adminHost).recordReads(bucket, o.zone, objects);
  } catch (e) {
    // A cache that cannot be reached serves nothing; the bucket still does (as GCS falls back).
    o.info('ferry_vllm_sim', `[ferry vllm-sim] zonal cache lookup failed (${e instanceof Error ? e.message : String(e)}); reading from the bucket`);
    return fromBucket;
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function gcsJson(url: string): Promise<unknown> {
  const r = await fetch(url);
  if (!r.ok) throw new Exit(1, [`google.api_core.exceptions.NotFound: ${r.status} GET ${url}: ${(await r.text()).slice(0, 200)}`]);
  return r.json();
}

async function rangeRead(host: string, bucket: string, name: string, start: number, length: number): Promise<Buffer> {
  const url = `${host}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}?alt=media`;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetch(url, { headers: { range: `bytes=${start}-${start + length - 1}` } });
      if (r.status !== 206 && r.status !== 200) throw new Error(`HTTP ${r.status}`);
      const buf = Buffer.from(await r.arrayBuffer());
      const got = r.status === 200 ? buf.subarray(start, start + length) : buf;
      if (got.length !== length) throw new Error(`short read: ${got.length} of ${length} bytes`);
      return got;
    } catch (e) {
      if (attempt >= 3)
        throw new Exit(1, [
          `RuntimeError: Streamer failed reading gs://${bucket}/${name} [${start}, ${start + length}): ${e instanceof Error ? e.message : String(e)}`,
        ]);
      await sleep(200 * (attempt + 1));
    }
  }
}

/** Lists, checks and streams the model; the figures the logs print. */
async function streamModel(host: string, bucket: string, prefix: string, a: ServeArgs, o: StreamOptions): Promise<LoadReport> {
  const t0 = performance.now();
  // List the way the streamer's GCS client does (no delimiter; listing.ts applies the version's rules).
  const objects: Array<{ name: string; size: number; generation: string }> = [];
  let pageToken: string | undefined;
  do {
    const q = new URLSearchParams({ prefix, ...(pageToken ? { pageToken } : {}) });
    const page = (await gcsJson(`${host}/storage/v1/b/${encodeURIComponent(bucket)}/o?${q}`)) as {
      items?: Array<{ name: string; size: string; generation?: string }>;
      nextPageToken?: string;
    };
    for (const it of page.items ?? []) objects.push({ name: it.name, size: Number(it.size), generation: String(it.generation ?? '0') });
    pageToken = page.nextPageToken;
  } while (pageToken);
  const sizes = new Map(objects.map((x) => [x.name, x.size]));
  const generations = new Map(objects.map((x) => [x.name, x.generation]));
  const files = streamerListing(
    objects.map((x) => x.name),
    prefix,
    o.version,
  );
  if (files.length === 0) {
    // vllm runai_streamer_loader.py _prepare_weights (docs/UPSTREAM.md V1).
    throw new Exit(1, [
      vllmLogLine('ERROR', 'core.py:708', 'EngineCore failed to start.'),
      `RuntimeError: Cannot find any safetensors model weights with \`${a.model}\``,
    ]);
  }
  o.info('gpu_model_runner.py:2602', `Starting to load model ${a.model}...`);
  // Headers first, as SafetensorsMetadata.from_files does (8-byte length, then the JSON header).
  const seen = new Map<string, string>();
  const tasks: Array<{ file: string; start: number; length: number }> = [];
  let total = 0;
  for (const name of files) {
    const size = sizes.get(name)!;
    total += size;
    let prefixBytes = Buffer.alloc(0);
    let verdict = parseShardHeader(prefixBytes, size, name);
    while (needsMoreBytes(verdict)) {
      const want = Math.min(verdict.needMoreBytes, size);
      if (want <= prefixBytes.length) break;
      prefixBytes = Buffer.concat([prefixBytes, await rangeRead(host, bucket, name, prefixBytes.length, want - prefixBytes.length)]);
      verdict = parseShardHeader(prefixBytes, size, name);
    }
    if (needsMoreBytes(verdict) || !verdict.ok) {
      const why = needsMoreBytes(verdict) ? 'truncated header' : (verdict.findings.find((f) => f.severity === 'error')?.message ?? 'invalid header');
      throw new Exit(1, [
        vllmLogLine('ERROR', 'core.py:708', 'EngineCore failed to start.'),
        `safetensors_rust.SafetensorError: Error while deserializing header of gs://${bucket}/${name}: ${why}`,
      ]);
    }
    for (const t of verdict.tensors) {
      const other = seen.get(t.name);
      if (other) {
        throw new Exit(1, [
          vllmLogLine('ERROR', 'core.py:708', 'EngineCore failed to start.'),
          `ValueError: tensor ${t.name} is in both gs://${bucket}/${other} and gs://${bucket}/${name} (simulated load check)`,
        ]);
      }
      seen.set(t.name, name);
    }
    const dataStart = prefixBytes.length;
    for (let off = dataStart; off < size; off += o.chunk) tasks.push({ file: name, start: off, length: Math.min(o.chunk, size - off) });
  }
  // Stream every byte with `concurrency` ranged reads in flight; the digest does not depend on order.
  const chunkDigests: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length && !o.isStopped()) {
      const t = tasks[next++]!;
      const buf = await rangeRead(host, bucket, t.file, t.start, t.length);
      chunkDigests.push(`${t.file}\0${t.start}\0${createHash('sha256').update(buf).digest('hex')}`);
    }
  };
  // Where the bytes come from: the zonal cache of the pod's zone, or the bucket (time-model.ts).
  const cacheKey = `${bucket}/${o.zone ?? ''}`;
  loadsPerCache.set(cacheKey, (loadsPerCache.get(cacheKey) ?? 0) + 1);
  let split: { cacheBytes: number; bucketBytes: number };
  let cache: Awaited<ReturnType<typeof cacheReads>>;
  let cacheRate: number;
  try {
    cache = await cacheReads(
      bucket,
      files.map((name) => ({ name, generation: generations.get(name)!, bytes: sizes.get(name)! })),
      o,
    );
    split = splitBySource(cache.reads);
    cacheRate = cacheRateForLoad(cache.storedBytes, loadsPerCache.get(cacheKey) ?? 1, o.cacheClientBytesPerSecond);
    await Promise.all(Array.from({ length: Math.min(o.concurrency, Math.max(1, tasks.length)) }, worker));
  } finally {
    loadsPerCache.set(cacheKey, (loadsPerCache.get(cacheKey) ?? 1) - 1);
  }
  const measured = (performance.now() - t0) / 1000;
  const modelled = modelledLoadSeconds(split, { bucketBytesPerSecond: o.bytesPerSecond, cacheBytesPerSecond: cacheRate });
  if (modelled > measured) await sleep((modelled - measured) * 1000);
  const seconds = Math.max(measured, modelled);
  // The stand-in's own line (not vLLM's, not the streamer's): where the bytes came from.
  const ingested = cache.reads.filter((r) => r.ingested).reduce((n, r) => n + r.bytes, 0);
  o.info(
    'ferry_vllm_sim',
    `[ferry vllm-sim] simulated load sources: zone=${o.zone ?? 'none'} cache=${cache.state ?? 'none'} ` +
      `cache_bytes=${split.cacheBytes} bucket_bytes=${split.bucketBytes} ingested_bytes=${ingested} ` +
      `(${naturalsizeBinary(split.cacheBytes)} from the zonal cache, ${naturalsizeBinary(split.bucketBytes)} from the bucket)`,
  );
  // The weights are the bytes, not where they are stored: names are relative to the model's prefix,
  // so the same checkpoint uploaded as another version answers the same, and an altered one does not.
  const rel = (name: string): string => (name.startsWith(prefix) ? name.slice(prefix.length) : name);
  const weightsDigest = createHash('sha256')
    .update(
      files.map(rel).join('\n') +
        '\n' +
        chunkDigests
          .map((d) => rel(d))
          .sort()
          .join('\n'),
    )
    .digest('hex');
  o.say(streamerSummaryLine(total, seconds));
  o.info('gpu_model_runner.py:2653', vllmLoadMessage(total, a.tensorParallelSize, seconds));
  return {
    files: files.map((f) => `gs://${bucket}/${f}`),
    bytes: total,
    seconds,
    weightsDigest,
    ...split,
    zone: o.zone,
    cacheState: cache.state,
  };
}

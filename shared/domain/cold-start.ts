/**
 * Cold-start telemetry, pure (issue #19): how long a new pod took from scheduling to its first
 * answer, how many bytes its weights load streamed and at what rate, what ferry predicted before
 * applying, and whether the rate was unusually slow for the model. docs/cold-start.md explains the
 * figures and their sources; docs/UPSTREAM.md CS1–CS9 list the upstream facts.
 *
 * The log lines parsed here come from the pod log API (ClusterClient.readPodLog); the timeline
 * comes from the Pod object (podTimeline); the adapter and the rollout wire them together.
 */
import { z } from 'zod';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { CONTAINER_NAME } from './rendered-spec.ts';
import { ZONE_NODE_LABEL } from './cache.ts';

const GiB = 2 ** 30;

/**
 * The vLLM release whose log lines parseLoadLines is written for: the GPU image ferry pins
 * (`DEFAULT_IMAGE` = vllm/vllm-openai:v0.11.2, shared/domain/rendered-spec.ts). The streamer line
 * comes from the Run:ai Model Streamer that image carries (0.14.0–0.15.3, streamer-listing.ts);
 * the TPU image (vllm/vllm-tpu:v0.18.0, streamer 0.15.4) prints the same streamer line.
 */
export const LOG_PARSER_VLLM_VERSION = 'v0.11.2';

/** Longest `line` kept on a LoadFigures (the parsed line, for the record). */
export const MAX_LOAD_LINE_CHARS = 300;

// ───────────────────────────── log lines ─────────────────────────────

/**
 * The Run:ai streamer's summary, printed when its FileStreamer context exits:
 *   runai-model-streamer@0.15.0:py/runai_model_streamer/runai_model_streamer/file_streamer/file_streamer.py#L62-64
 *     print(f"[RunAI Streamer] Overall time to stream {humanize.naturalsize(size, binary=True)} of all files to {self.device_str}: {round(elapsed_time, 2)}s, {humanize.naturalsize(throughput, binary=True)}/s", flush=True)
 *   @0.14.0:…/file_streamer.py#L61 has no ` to {device}`; @0.15.1–0.15.9 (…#L66-68 at 0.15.3, #L69-71 at 0.15.9) log the same text
 *   with logger.info instead of print (commit cc9769a, "Use logger in python layers").
 * `size` is FileStreamer.total_size, Σ of every chunk requested in the context (file_streamer.py#L93):
 * the 8-byte length and the JSON header of each file (safetensors_pytorch.py#L55-67
 * SafetensorsMetadata.from_files) plus each file's tensor span (read_sizes, #L45-51), i.e. every
 * byte of each streamed *.safetensors when its tensors are contiguous (docs/UPSTREAM.md CS1, CS2).
 * Sizes come from python-humanize naturalsize(binary=True): `%d Bytes` below 1 KiB, else `%.1f KiB|MiB|GiB|…`.
 * The line may carry a logging prefix (a process tag, a timestamp): the match is not anchored.
 */
const STREAMER_RE =
  /\[RunAI Streamer\] Overall time to stream ([\d.]+) (Bytes?|[KMGTPEZYRQ]iB) of all files(?: to (\S+))?: ([\d.]+)s, ([\d.]+) (Bytes?|[KMGTPEZYRQ]iB)\/s/;
/**
 * Distributed streaming (vLLM `--model-loader-extra-config {"distributed":true}`, rendered when TP > 1
 * on GPUs): each rank streams only its partition and prints its own summary line.
 *   runai-model-streamer@0.15.0:…/distributed_streamer/distributed_streamer.py#L332
 *     print(f"[RunAI Streamer][Distributed] Using distributed streaming between {self.group_size} processes")
 */
const DISTRIBUTED_RE = /\[RunAI Streamer\]\[Distributed\] Using distributed streaming between (\d+) processes/;
/**
 * vLLM's GPU model runner after the load:
 *   vllm-project/vllm vllm/v1/worker/gpu_model_runner.py `load_model` (stored revisions of the
 *   v0.10–v0.11 era, found by exact string; the v0.11.2 tag itself was not readable here):
 *     logger.info("Model loading took %.4f GiB and %.6f seconds", self.model_memory_usage / GiB_bytes, time_after_load - time_before_load)
 * The GiB is `DeviceMemoryProfiler.consumed_memory`: GPU memory this worker allocated during the
 * load (about 1/TP of the weights, plus buffers), NOT bytes streamed — so it is never used as bytes.
 * The seconds cover get_model_loader → load_model (model init + weights + post-processing).
 * vLLM's logger prefix is `INFO MM-DD HH:MM:SS [file.py:N] ` (no year, no zone): not used for time.
 */
const VLLM_RE = /Model loading took (-?[\d.]+) GiB and ([\d.]+) seconds/;
/**
 * The pod log API's `timestamps=true` prefix: "If true, add an RFC3339 or RFC3339Nano timestamp at
 * the beginning of every line of log output" (core/v1 PodLogOptions.timestamps; @kubernetes/client-node
 * 2.0.1 dist/gen/types/ObjectParamAPI.d.ts CoreV1ApiReadNamespacedPodLogRequest.timestamps), then one space.
 */
const TIMESTAMP_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) (.*)$/;

const UNITS: Readonly<Record<string, number>> = {
  Byte: 1,
  Bytes: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  PiB: 2 ** 50,
  EiB: 2 ** 60,
  ZiB: 2 ** 70,
  YiB: 2 ** 80,
  RiB: 2 ** 90,
  QiB: 2 ** 100,
};

/** `15.0 GiB` → bytes. naturalsize prints one decimal: the value is exact to ±0.05 of its unit. */
export function naturalsizeBytes(value: string, unit: string): number | null {
  const n = Number(value);
  const scale = UNITS[unit];
  if (!Number.isFinite(n) || n < 0 || scale === undefined) return null;
  return Math.round(n * scale);
}

export interface LoadFigures {
  /** Bytes the streamer read (its summary line; naturalsize: ±0.05 of the printed unit). null: no streamer line. */
  bytes: number | null;
  /** Seconds of the load: the streamer's elapsed time, else vLLM's "Model loading took … seconds". */
  seconds: number;
  /** bytes ÷ seconds (or the streamer's printed rate when its seconds round to 0). null without bytes. */
  gibPerSecond: number | null;
  source: 'runai-streamer' | 'vllm';
  /** The vLLM version the parser is written for (LOG_PARSER_VLLM_VERSION). */
  parserFor: string;
  /** The line parsed (its log timestamp removed), truncated to MAX_LOAD_LINE_CHARS. */
  line: string;
  /** RFC3339 time the kubelet stamped on that line (log read with timestamps=true), else null. */
  at: string | null;
  /** How many summary lines were combined (one per TP rank when each rank logs its own). */
  lines: number;
}

interface Stamped {
  at: string | null;
  text: string;
}

function splitStamp(raw: string): Stamped {
  const m = TIMESTAMP_RE.exec(raw);
  if (!m) return { at: null, text: raw };
  // Date.parse is only specified for milliseconds: keep three fraction digits.
  const ms = Date.parse(m[1]!.replace(/(\.\d{3})\d+/, '$1'));
  return { at: Number.isFinite(ms) ? new Date(ms).toISOString() : null, text: m[2]! };
}

const truncate = (s: string): string => (s.length > MAX_LOAD_LINE_CHARS ? `${s.slice(0, MAX_LOAD_LINE_CHARS - 1)}…` : s);
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;
/** Four significant digits: tiny local loads (KiB at a fraction of a GiB/s) keep a rate above 0. */
const sig = (x: number): number => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(4)));

/**
 * The weights load of one container's log (read with or without `timestamps=true`), or null when
 * neither the streamer's nor vLLM's line is there (load not finished, another loader, log cut).
 * Prefers the streamer's summary (bytes, seconds, rate); falls back to vLLM's line for seconds
 * (bytes and rate null). Several summary lines (one per tensor-parallel rank): with distributed
 * streaming each rank read a partition, so bytes are summed; otherwise each rank read everything,
 * so the slowest line is taken. Seconds are always the slowest rank's.
 */
export function parseLoadLines(log: string): LoadFigures | null {
  const streamer: Array<{ s: Stamped; m: RegExpExecArray }> = [];
  const vllm: Array<{ s: Stamped; m: RegExpExecArray }> = [];
  let distributed = false;
  for (const raw of log.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.includes('[RunAI Streamer]') && !line.includes('Model loading took')) continue;
    const s = splitStamp(line);
    if (DISTRIBUTED_RE.test(s.text)) distributed = true;
    const sm = STREAMER_RE.exec(s.text);
    if (sm) streamer.push({ s, m: sm });
    const vm = VLLM_RE.exec(s.text);
    if (vm) vllm.push({ s, m: vm });
  }
  const slowest = <T extends { seconds: number }>(xs: T[]): T => xs.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  if (streamer.length > 0) {
    const parsed = streamer
      .map(({ s, m }) => ({
        s,
        bytes: naturalsizeBytes(m[1]!, m[2]!),
        seconds: Number(m[4]),
        rate: naturalsizeBytes(m[5]!, m[6]!),
      }))
      .filter((x): x is { s: Stamped; bytes: number; seconds: number; rate: number | null } => x.bytes !== null && Number.isFinite(x.seconds));
    if (parsed.length > 0) {
      const last = slowest(parsed);
      const bytes = distributed ? parsed.reduce((n, x) => n + x.bytes, 0) : last.bytes;
      const gibPerSecond = last.seconds > 0 ? bytes / last.seconds / GiB : last.rate !== null ? last.rate / GiB : null;
      return {
        bytes,
        seconds: last.seconds,
        gibPerSecond: gibPerSecond === null ? null : sig(gibPerSecond),
        source: 'runai-streamer',
        parserFor: LOG_PARSER_VLLM_VERSION,
        line: truncate(last.s.text),
        at: last.s.at,
        lines: parsed.length,
      };
    }
  }
  const loads = vllm.map(({ s, m }) => ({ s, seconds: Number(m[2]) })).filter((x) => Number.isFinite(x.seconds));
  if (loads.length === 0) return null;
  const last = slowest(loads);
  return {
    bytes: null,
    seconds: last.seconds,
    gibPerSecond: null,
    source: 'vllm',
    parserFor: LOG_PARSER_VLLM_VERSION,
    line: truncate(last.s.text),
    at: last.s.at,
    lines: loads.length,
  };
}

// ───────────────────────────── pod timeline ─────────────────────────────

export interface PodColdStart {
  pod: string;
  node: string | null;
  zone: string | null;
  /** PodScheduled condition (status True) lastTransitionTime. */
  scheduledAt: string | null;
  /** The vLLM container's current start (state.running.startedAt, or state.terminated.startedAt). */
  startedAt: string | null;
  /** When the weights were loaded (loadedAt()). */
  loadedAt: string | null;
  /** Ready condition (status True) lastTransitionTime. */
  readyAt: string | null;
  /** First gated answer from this pod (set by the gate). */
  firstAnswerAt: string | null;
  load: LoadFigures | null;
  /** The vLLM container's restartCount: > 0 means the times above are of its latest start. */
  restarts?: number;
}

const iso = (d: Date | string | undefined | null): string | null => {
  if (d === undefined || d === null) return null;
  const ms = d instanceof Date ? d.getTime() : Date.parse(d);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
};

/**
 * What the Pod object says of a pod's cold start (Kubernetes core/v1; @kubernetes/client-node 2.0.1
 * dist/gen/models): `status.conditions[]` V1PodCondition {type, status, lastTransitionTime} for
 * `PodScheduled` and `Ready` (only when status is "True"); `status.containerStatuses[]`
 * V1ContainerStatus {name, restartCount, state: V1ContainerState {running?: V1ContainerStateRunning
 * {startedAt}, terminated?: V1ContainerStateTerminated {startedAt}}} of the `vllm` container;
 * `spec.nodeName`. A restarted container is timed from its latest start (`state`, not `lastState`),
 * matching the log ferry reads (the current container's, `previous=false`); `restarts` says so.
 */
export function podTimeline(pod: V1Pod, container: string = CONTAINER_NAME): Omit<PodColdStart, 'load' | 'loadedAt' | 'firstAnswerAt' | 'zone'> {
  const conditions = pod.status?.conditions ?? [];
  const when = (type: string): string | null => {
    const c = conditions.find((x) => x.type === type);
    return c && c.status === 'True' ? iso(c.lastTransitionTime as Date | string | undefined) : null;
  };
  const cs = (pod.status?.containerStatuses ?? []).find((c) => c.name === container);
  const started = cs?.state?.running?.startedAt ?? cs?.state?.terminated?.startedAt;
  return {
    pod: pod.metadata?.name ?? '',
    node: pod.spec?.nodeName ?? null,
    scheduledAt: when('PodScheduled'),
    startedAt: iso(started as Date | string | undefined),
    readyAt: when('Ready'),
    restarts: cs?.restartCount ?? 0,
  };
}

/**
 * When the weights were loaded: the kubelet's timestamp on the summary line when the log was read
 * with `timestamps=true` (the line is printed as the load ends), else container start + load
 * seconds (a lower bound: vLLM spends time before the load starts), else null.
 */
export function loadedAt(load: LoadFigures | null, startedAt: string | null): string | null {
  if (!load) return null;
  if (load.at) return load.at;
  if (!startedAt) return null;
  const ms = Date.parse(startedAt);
  return Number.isFinite(ms) ? new Date(ms + Math.round(load.seconds * 1000)).toISOString() : null;
}

/** The zone of the node a pod runs on: its `topology.kubernetes.io/zone` label, else null. */
export function nodeZone(node: V1Node | undefined): string | null {
  return node?.metadata?.labels?.[ZONE_NODE_LABEL] ?? null;
}

/**
 * One pod's record from what the API server gives: the Pod, its vLLM container's log (read with
 * `timestamps=true` for a precise loadedAt; undefined when it could not be read) and its node's zone.
 * `firstAnswerAt` stays null for the gate to fill.
 */
export function podColdStart(pod: V1Pod, log: string | undefined, zone: string | null): PodColdStart {
  const t = podTimeline(pod);
  const load = log === undefined ? null : parseLoadLines(log);
  return { ...t, zone, loadedAt: loadedAt(load, t.startedAt), firstAnswerAt: null, load };
}

// ───────────────────────────── prediction ─────────────────────────────

/**
 * Default per-pod streaming rate from the bucket: 1.1 GiB/s, the Run:ai streamer's GCS rate on an L4
 * node as issue #18 states it (the same figure the local serving stand-in models,
 * infra/local/vllm-sim/container.ts). Not verified against a primary benchmark: the streamer's own
 * benchmarks (runai-model-streamer docs/src/benchmarks.md) cover local SSDs and S3, not GCS. Public
 * reports range from 593 MiB/s (sgl-project/sglang#22749, GCS on G4) up. docs/cold-start.md.
 */
export const DEFAULT_BUCKET_GIBPS = 1.1;
/**
 * Rapid Cache (formerly Anywhere Cache): "The cache bandwidth limit starts at 100 Gbps and scales at
 * the rate of 20 Gbps per 1 TiB of stored data" (cloud.google.com/storage/docs/rapid/rapid-cache,
 * "Cache size and bandwidth limit autoscaling"). That is a zone-wide limit shared by every reader.
 */
export const CACHE_BASE_GBPS = 100;
export const CACHE_GBPS_PER_TIB = 20;
/**
 * No published per-pod rate from a warm zonal cache: until measured (recentLoadRates), a pod is
 * assumed to stream from the cache at the bucket rate, capped by its share of the zone's cache limit.
 */
export const DEFAULT_CACHE_GIBPS = DEFAULT_BUCKET_GIBPS;

/** The zone's cache bandwidth limit in GiB/s for `storedBytes` in the cache (Gbps are 10⁹ bit/s). */
export function cacheZoneLimitGiBps(storedBytes: number): number {
  const gbps = CACHE_BASE_GBPS + CACHE_GBPS_PER_TIB * (Math.max(0, storedBytes) / 2 ** 40);
  return (gbps * 1e9) / 8 / GiB;
}

export interface LoadPrediction {
  bytes: number;
  source: 'bucket' | 'cache';
  gibPerSecond: number;
  seconds: number;
  /** Where the rate came from, in words. */
  basis: string;
}

export interface PredictRates {
  /** Per-pod GiB/s from the bucket (default DEFAULT_BUCKET_GIBPS; e.g. the model's measured median). */
  bucketGiBps?: number;
  /** Per-pod GiB/s from a warm zonal cache (default DEFAULT_CACHE_GIBPS). */
  cacheGiBps?: number;
  /** Pods loading at once from the zone's cache (caps each at its share of the zone limit). Default 1. */
  pods?: number;
}

/**
 * Predicted load time: `bytes` (what the streamer reads: streamedBytes()) ÷ the rate for where the
 * bytes come from. From a cache the rate is also capped at cacheZoneLimitGiBps(bytes) ÷ pods.
 */
export function predictLoad(bytes: number, source: 'bucket' | 'cache', rates: PredictRates = {}): LoadPrediction {
  const positive = (x: number | undefined): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;
  let gibPerSecond: number;
  let basis: string;
  if (source === 'bucket') {
    gibPerSecond = positive(rates.bucketGiBps) ? rates.bucketGiBps : DEFAULT_BUCKET_GIBPS;
    basis = positive(rates.bucketGiBps)
      ? `${fmt(gibPerSecond)} GiB/s from the bucket (given)`
      : `${fmt(gibPerSecond)} GiB/s from the bucket (ferry's default per-pod rate)`;
  } else {
    const pods = positive(rates.pods) ? Math.ceil(rates.pods) : 1;
    const per = positive(rates.cacheGiBps) ? rates.cacheGiBps : DEFAULT_CACHE_GIBPS;
    const share = cacheZoneLimitGiBps(bytes) / pods;
    gibPerSecond = Math.min(per, share);
    basis =
      (positive(rates.cacheGiBps)
        ? `${fmt(per)} GiB/s from the zonal cache (given)`
        : `${fmt(per)} GiB/s from the zonal cache (no published per-pod figure: the bucket default)`) +
      (share < per ? `, capped at ${fmt(share)} GiB/s: the zone's cache limit shared by ${pods} pods` : '');
  }
  return { bytes, source, gibPerSecond, seconds: round(bytes / GiB / gibPerSecond, 1), basis };
}

/**
 * The bytes the Run:ai streamer reads for a validated checkpoint (a version's `summary`): every
 * byte of each shard (8-byte length + header + tensor data; see STREAMER_RE), i.e. `shardBytes`;
 * headerBytes + tensorBytes when shardBytes is missing; null when neither is known.
 */
export function streamedBytes(summary: { shardBytes?: number; headerBytes?: number; tensorBytes?: number } | null | undefined): number | null {
  if (!summary) return null;
  if (typeof summary.shardBytes === 'number' && summary.shardBytes > 0) return summary.shardBytes;
  if (typeof summary.tensorBytes === 'number' && summary.tensorBytes > 0) return summary.tensorBytes + (summary.headerBytes ?? 0);
  return null;
}

// ───────────────────────────── slow loads ─────────────────────────────

/** A load slower than this fraction of the model's recent median rate is flagged SLOW_LOAD. */
export const SLOW_LOAD_FRACTION = 0.5;

export function median(xs: readonly number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * Whether `rateGiBps` is slow for the model: below SLOW_LOAD_FRACTION × the median of its recent
 * measured rates. Fewer than `minSamples` earlier rates: not judged (never slow).
 */
export function slowLoad(rateGiBps: number, recentRatesGiBps: readonly number[], minSamples = 3): { slow: boolean; median: number | null; message: string } {
  const samples = recentRatesGiBps.filter((x) => Number.isFinite(x) && x > 0);
  if (samples.length < minSamples) {
    return {
      slow: false,
      median: median(samples),
      message: `not judged: ${samples.length} earlier measured load${samples.length === 1 ? '' : 's'} of this model, ${minSamples} needed`,
    };
  }
  const m = median(samples)!;
  const slow = rateGiBps < SLOW_LOAD_FRACTION * m;
  return {
    slow,
    median: m,
    message: slow
      ? `loaded at ${fmt(rateGiBps)} GiB/s, under ${Math.round(SLOW_LOAD_FRACTION * 100)} % of this model's recent median ${fmt(m)} GiB/s (${samples.length} loads)`
      : `loaded at ${fmt(rateGiBps)} GiB/s; this model's recent median is ${fmt(m)} GiB/s (${samples.length} loads)`,
  };
}

// ───────────────────────────── summary ─────────────────────────────

const Iso = z.string().nullable();

export const LoadFiguresSchema = z.object({
  bytes: z.number().nonnegative().nullable(),
  seconds: z.number().nonnegative(),
  gibPerSecond: z.number().nonnegative().nullable(),
  source: z.enum(['runai-streamer', 'vllm']),
  parserFor: z.string(),
  line: z.string().max(MAX_LOAD_LINE_CHARS),
  at: Iso.default(null),
  lines: z.number().int().positive().default(1),
});

export const PodColdStartSchema = z.object({
  pod: z.string(),
  node: z.string().nullable(),
  zone: z.string().nullable(),
  scheduledAt: Iso,
  startedAt: Iso,
  loadedAt: Iso,
  readyAt: Iso,
  firstAnswerAt: Iso,
  load: LoadFiguresSchema.nullable(),
  restarts: z.number().int().nonnegative().optional(),
});

export const LoadPredictionSchema = z.object({
  bytes: z.number().nonnegative(),
  source: z.enum(['bucket', 'cache']),
  gibPerSecond: z.number().positive(),
  seconds: z.number().nonnegative(),
  basis: z.string(),
});

export const MeasuredLoadSchema = z.object({
  seconds: z.number().nonnegative(),
  bytes: z.number().nonnegative().nullable(),
  gibPerSecond: z.number().nonnegative().nullable(),
  /** The pod the figures are from (the slowest). */
  pod: z.string().optional(),
  /**
   * Where the rate came from: the streamer's line, or (no streamer line) the predicted bytes ÷
   * vLLM's load seconds — a lower rate, since vLLM's seconds include model initialisation.
   */
  rateFrom: z.enum(['runai-streamer', 'predicted-bytes/vllm-seconds']).nullable().optional(),
});

export const ColdStartSummarySchema = z.object({
  pods: z.array(PodColdStartSchema),
  predicted: LoadPredictionSchema.nullable(),
  measured: MeasuredLoadSchema.nullable(),
});

export type ColdStartSummary = {
  pods: PodColdStart[];
  predicted: LoadPrediction | null;
  /** The slowest pod's load. */
  measured: z.infer<typeof MeasuredLoadSchema> | null;
};

/**
 * The rollout's cold-start record: its pods, the prediction, and the slowest pod's load as the
 * measured figure (a rollout is as slow as its slowest new pod). Without the streamer's line the
 * rate is the prediction's bytes ÷ vLLM's seconds (rateFrom says so), so slowLoad can still judge.
 */
export function summarizeColdStarts(pods: readonly PodColdStart[], prediction: LoadPrediction | null): ColdStartSummary {
  const loaded = pods.filter((p): p is PodColdStart & { load: LoadFigures } => p.load !== null);
  let measured: ColdStartSummary['measured'] = null;
  if (loaded.length > 0) {
    const slow = loaded.reduce((a, b) => (b.load.seconds > a.load.seconds ? b : a));
    const l = slow.load;
    if (l.gibPerSecond !== null) {
      measured = { seconds: l.seconds, bytes: l.bytes, gibPerSecond: l.gibPerSecond, pod: slow.pod, rateFrom: 'runai-streamer' };
    } else if (prediction && l.seconds > 0) {
      measured = {
        seconds: l.seconds,
        bytes: l.bytes,
        gibPerSecond: sig(prediction.bytes / GiB / l.seconds),
        pod: slow.pod,
        rateFrom: 'predicted-bytes/vllm-seconds',
      };
    } else {
      measured = { seconds: l.seconds, bytes: l.bytes, gibPerSecond: null, pod: slow.pod, rateFrom: null };
    }
  }
  return { pods: pods.map((p) => ({ ...p })), predicted: prediction, measured };
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 0.01 || x === 0 ? x.toFixed(2) : x.toPrecision(2);
}

/** 14.2 GiB, 348.0 KiB: the largest binary unit the size reaches (GiB at most, as people read loads). */
const gib = (bytes: number): string => {
  const [unit, scale] = bytes >= GiB ? ['GiB', GiB] : bytes >= 2 ** 20 ? ['MiB', 2 ** 20] : ['KiB', 2 ** 10];
  return `${(bytes / scale).toFixed(1)} ${unit}`;
};
const secs = (s: number): string => `${s.toFixed(1)} s`;

/**
 * One line for people, e.g. "loaded 14.2 GiB in 13.1 s (1.08 GiB/s; predicted 12.9 s from the bucket)".
 */
export function describeColdStart(summary: ColdStartSummary): string {
  const p = summary.predicted;
  const predicted = p ? `predicted ${secs(p.seconds)} from the ${p.source === 'bucket' ? 'bucket' : 'zonal cache'}` : null;
  const m = summary.measured;
  if (!m) {
    const none = summary.pods.length === 0 ? 'no new pods measured' : 'load not seen in the pod logs';
    return predicted ? `${none} (${predicted})` : none;
  }
  const what = m.bytes !== null ? `loaded ${gib(m.bytes)} in ${secs(m.seconds)}` : `loaded in ${secs(m.seconds)}`;
  const rate = m.gibPerSecond !== null ? `${fmt(m.gibPerSecond)} GiB/s${m.rateFrom === 'predicted-bytes/vllm-seconds' ? ' by vLLM’s time' : ''}` : null;
  const inner = [rate, predicted].filter((x): x is string => x !== null).join('; ');
  return inner ? `${what} (${inner})` : what;
}

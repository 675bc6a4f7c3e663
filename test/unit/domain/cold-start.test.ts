/**
 * Cold-start telemetry (shared/domain/cold-start.ts; docs/cold-start.md; docs/UPSTREAM.md CS1–CS9).
 * Log lines are upstream's format strings filled in, lines quoted in public reports, and the local
 * serving stand-in's own output (infra/local/vllm-sim/container.ts).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import {
  ColdStartSummarySchema,
  PodColdStartSchema,
  DEFAULT_BUCKET_GIBPS,
  LOG_PARSER_VLLM_VERSION,
  MAX_LOAD_LINE_CHARS,
  SLOW_LOAD_FRACTION,
  cacheZoneLimitGiBps,
  describeColdStart,
  loadedAt,
  median,
  nodeZone,
  podColdStart,
  naturalsizeBytes,
  parseLoadLines,
  podTimeline,
  predictLoad,
  slowLoad,
  streamedBytes,
  summarizeColdStarts,
  type ColdStartSummary,
  type PodColdStart,
} from '../../../shared/domain/cold-start.ts';
import { DEFAULT_IMAGE } from '../../../shared/domain/rendered-spec.ts';
import { streamerSummaryLine, vllmLoadMessage } from '../../../infra/local/vllm-sim/container.ts';
import { vllmLogLine } from '../../../infra/local/vllm-sim/openai.ts';
import { naturalsizeBinary } from '../../../infra/local/vllm-sim/listing.ts';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

test('the parser is for the vLLM release ferry pins', () => {
  assert.equal(LOG_PARSER_VLLM_VERSION, 'v0.11.2');
  assert.ok(DEFAULT_IMAGE.endsWith(`:${LOG_PARSER_VLLM_VERSION}`), `${DEFAULT_IMAGE} is the image the parser was written for`);
});

test('naturalsize values back to bytes (python-humanize naturalsize(binary=True))', () => {
  assert.equal(naturalsizeBytes('15.0', 'GiB'), 15 * GiB);
  assert.equal(naturalsizeBytes('942.3', 'MiB'), Math.round(942.3 * MiB));
  assert.equal(naturalsizeBytes('1000', 'Bytes'), 1000);
  assert.equal(naturalsizeBytes('1', 'Byte'), 1);
  assert.equal(naturalsizeBytes('1.0', 'XiB'), null);
  assert.equal(naturalsizeBytes('x', 'GiB'), null);
});

test("streamer ≥ 0.15.0's line (file_streamer.py#L62-64, print): bytes, seconds and rate", () => {
  // f"[RunAI Streamer] Overall time to stream {naturalsize(size)} of all files to {device_str}: {round(t, 2)}s, {naturalsize(rate)}/s"
  const f = parseLoadLines('[RunAI Streamer] Overall time to stream 15.0 GiB of all files to cpu: 12.34s, 1.2 GiB/s\n');
  assert.ok(f);
  assert.equal(f.source, 'runai-streamer');
  assert.equal(f.bytes, 15 * GiB);
  assert.equal(f.seconds, 12.34);
  // bytes ÷ seconds (1.2156…), not the printed rate rounded to one decimal.
  assert.equal(f.gibPerSecond, 1.216);
  assert.equal(f.parserFor, 'v0.11.2');
  assert.equal(f.at, null);
  assert.equal(f.lines, 1);
  assert.equal(f.line, '[RunAI Streamer] Overall time to stream 15.0 GiB of all files to cpu: 12.34s, 1.2 GiB/s');
});

test("streamer 0.14.0's line has no device (file_streamer.py#L61); a vLLM 0.7.3 log quoted in InftyAI/llmaz#423", () => {
  const f = parseLoadLines('[RunAI Streamer] Overall time to stream 942.3 MiB of all files: 0.18s, 5.0 GiB/s');
  assert.ok(f);
  assert.equal(f.bytes, Math.round(942.3 * MiB));
  assert.equal(f.seconds, 0.18);
  assert.equal(f.gibPerSecond, 5.112, '942.3 MiB / 0.18 s, four significant digits');
});

test("streamer ≥ 0.15.1 logs through Python logging: the line keeps a logger's prefix (runai-model-streamer#135, sglang#22749)", () => {
  const a = parseLoadLines('INFO file_streamer.py:66: [RunAI Streamer] Overall time to stream 69.3 GiB of all files to cpu: 41.52s, 1.7 GiB/s');
  assert.equal(a?.bytes, Math.round(69.3 * GiB));
  assert.equal(a?.seconds, 41.52);
  const b = parseLoadLines('[2026-04-16 19:06:53 PP0 TP0] [RunAI Streamer] Overall time to stream 69.3 GiB of all files to cpu: 119.64s, 593.2 MiB/s');
  assert.equal(b?.seconds, 119.64);
  assert.equal(b?.gibPerSecond, 0.5792);
});

test('a rate of 0.0 s uses the printed rate; tiny loads print Bytes', () => {
  // The streamer's own notebook output (run-ai/runai-model-streamer#7): 0.0s, 175.1 MiB/s.
  const f = parseLoadLines('[RunAI Streamer] Overall time to stream 429.4 KiB of all files: 0.0s, 175.1 MiB/s');
  assert.equal(f?.seconds, 0);
  assert.equal(f?.gibPerSecond, 0.171);
  assert.equal(parseLoadLines('[RunAI Streamer] Overall time to stream 1000 Bytes of all files to cpu: 0.5s, 2000 Bytes/s')?.bytes, 1000);
});

test("vLLM's own line: seconds only, its GiB is GPU memory and is never taken as bytes", () => {
  // gpu_model_runner.py load_model: logger.info("Model loading took %.4f GiB and %.6f seconds", …), vLLM's prefix.
  const f = parseLoadLines('INFO 11-20 10:00:05 [gpu_model_runner.py:2653] Model loading took 14.9889 GiB and 13.104223 seconds');
  assert.ok(f);
  assert.equal(f.source, 'vllm');
  assert.equal(f.bytes, null);
  assert.equal(f.gibPerSecond, null);
  assert.equal(f.seconds, 13.104223);
});

test("the streamer's line wins over vLLM's, wherever each is in the log", () => {
  const log = [
    'INFO 11-20 10:00:00 [gpu_model_runner.py:2602] Starting to load model gs://b/m/v1...',
    'INFO 11-20 10:00:14 [gpu_model_runner.py:2653] Model loading took 7.4945 GiB and 14.000000 seconds',
    '[RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 13.1s, 1.1 GiB/s',
  ].join('\n');
  const f = parseLoadLines(log);
  assert.equal(f?.source, 'runai-streamer');
  assert.equal(f?.seconds, 13.1);
});

test('nothing to parse: null (load not done, other loader, empty log)', () => {
  assert.equal(parseLoadLines(''), null);
  assert.equal(parseLoadLines('INFO 11-20 10:00:00 [gpu_model_runner.py:2602] Starting to load model gs://b/m/v1...\n'), null);
  assert.equal(parseLoadLines('[RunAI Streamer] Overall time to stream lots of all files: soon'), null);
});

test('timestamps=true prefixes (RFC3339Nano) give the line its time', () => {
  const f = parseLoadLines('2026-12-06T15:00:13.123456789Z [RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 13.1s, 1.1 GiB/s\n');
  assert.equal(f?.at, '2026-12-06T15:00:13.123Z');
  assert.equal(f?.line.startsWith('[RunAI Streamer]'), true);
  const g = parseLoadLines('2026-12-06T16:00:13+01:00 INFO 12-06 15:00:13 [gpu_model_runner.py:2653] Model loading took 1.0000 GiB and 2.000000 seconds');
  assert.equal(g?.at, '2026-12-06T15:00:13.000Z');
});

test('tensor-parallel ranks: each rank streams everything (slowest wins); distributed ranks stream a part (bytes add up)', () => {
  const two = [
    '[RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 13.1s, 1.1 GiB/s',
    '[RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 15.0s, 968.5 MiB/s',
  ].join('\n');
  const f = parseLoadLines(two);
  assert.equal(f?.seconds, 15);
  assert.equal(f?.bytes, Math.round(14.2 * GiB));
  assert.equal(f?.lines, 2);
  const dist = [
    // runai-model-streamer@0.15.0 distributed_streamer.py#L332
    '[RunAI Streamer][Distributed] Using distributed streaming between 2 processes',
    '[RunAI Streamer] Overall time to stream 7.1 GiB of all files to cpu: 6.5s, 1.1 GiB/s',
    '[RunAI Streamer] Overall time to stream 7.1 GiB of all files to cpu: 7.0s, 1.0 GiB/s',
  ].join('\n');
  const d = parseLoadLines(dist);
  assert.equal(d?.bytes, 2 * Math.round(7.1 * GiB));
  assert.equal(d?.seconds, 7);
});

test('the parsed line is truncated for storage', () => {
  const long = `${'x'.repeat(500)} [RunAI Streamer] Overall time to stream 1.0 GiB of all files to cpu: 1.0s, 1.0 GiB/s`;
  const f = parseLoadLines(long);
  assert.equal(f?.line.length, MAX_LOAD_LINE_CHARS);
});

test("the local stand-in's lines parse to its real figures (infra/local/vllm-sim/container.ts)", () => {
  const bytes = 356_352; // a small checkpoint: KiB on the line
  const seconds = 1.397051;
  const log = [
    vllmLogLine('INFO', 'gpu_model_runner.py:2602', 'Starting to load model gs://b/m/v1...'),
    streamerSummaryLine(bytes, seconds),
    vllmLogLine('INFO', 'gpu_model_runner.py:2653', vllmLoadMessage(bytes, 1, seconds)),
  ].join('\n');
  assert.equal(streamerSummaryLine(bytes, seconds), '[RunAI Streamer] Overall time to stream 348.0 KiB of all files to cpu: 1.4s, 249.1 KiB/s');
  assert.equal(streamerSummaryLine(12 * GiB, 12), '[RunAI Streamer] Overall time to stream 12.0 GiB of all files to cpu: 12.0s, 1.0 GiB/s');
  const f = parseLoadLines(log);
  assert.ok(f);
  assert.equal(f.source, 'runai-streamer');
  assert.equal(naturalsizeBinary(f.bytes!), naturalsizeBinary(bytes));
  assert.ok(Math.abs(f.bytes! - bytes) <= 0.05 * 1024, `${f.bytes} within naturalsize's rounding of ${bytes}`);
  assert.equal(f.seconds, 1.4);
  // KiB at a fraction of a GiB/s still has a rate (four significant digits, not three decimals).
  assert.equal(f.gibPerSecond, Number((f.bytes! / 1.4 / GiB).toPrecision(4)));
  assert.ok(f.gibPerSecond! > 0);
  // Without the streamer's line, vLLM's seconds.
  const v = parseLoadLines(vllmLogLine('INFO', 'gpu_model_runner.py:2653', vllmLoadMessage(bytes, 2, seconds)));
  assert.equal(v?.seconds, seconds);
});

const pod = (over: Partial<{ ready: boolean; running: boolean; restarts: number }> = {}): V1Pod =>
  ({
    metadata: { name: 'm-abc' },
    spec: { nodeName: 'node-1', containers: [] },
    status: {
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: new Date('2026-12-06T15:00:00Z') },
        { type: 'Initialized', status: 'True', lastTransitionTime: new Date('2026-12-06T15:00:01Z') },
        { type: 'Ready', status: over.ready === false ? 'False' : 'True', lastTransitionTime: new Date('2026-12-06T15:00:40Z') },
      ],
      containerStatuses: [
        { name: 'sidecar', ready: true, restartCount: 0, image: 'x', imageID: 'x', state: { running: { startedAt: new Date('2026-12-06T14:00:00Z') } } },
        {
          name: 'vllm',
          ready: true,
          restartCount: over.restarts ?? 0,
          image: 'x',
          imageID: 'x',
          state: over.running === false ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: { startedAt: new Date('2026-12-06T15:00:05Z') } },
          lastState: { terminated: { exitCode: 1, startedAt: new Date('2026-12-06T14:59:00Z') } },
        },
      ],
    },
  }) as unknown as V1Pod;

test('podTimeline reads PodScheduled, the vllm container start and Ready from the Pod', () => {
  assert.deepEqual(podTimeline(pod()), {
    pod: 'm-abc',
    node: 'node-1',
    scheduledAt: '2026-12-06T15:00:00.000Z',
    startedAt: '2026-12-06T15:00:05.000Z',
    readyAt: '2026-12-06T15:00:40.000Z',
    restarts: 0,
  });
  // Not Ready (status False): no readyAt; waiting container: no start; restarts are counted.
  const t = podTimeline(pod({ ready: false, running: false, restarts: 3 }));
  assert.equal(t.readyAt, null);
  assert.equal(t.startedAt, null);
  assert.equal(t.restarts, 3);
  // JSON from a fake or a raw read: strings work too.
  const raw = JSON.parse(JSON.stringify(pod())) as V1Pod;
  assert.equal(podTimeline(raw).startedAt, '2026-12-06T15:00:05.000Z');
  assert.deepEqual(podTimeline({} as V1Pod), { pod: '', node: null, scheduledAt: null, startedAt: null, readyAt: null, restarts: 0 });
});

test('loadedAt: the log line time when read with timestamps, else start + load seconds', () => {
  const f = parseLoadLines('2026-12-06T15:00:19.500000000Z [RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 13.1s, 1.1 GiB/s')!;
  assert.equal(loadedAt(f, '2026-12-06T15:00:05.000Z'), '2026-12-06T15:00:19.500Z');
  const g = parseLoadLines('[RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 13.1s, 1.1 GiB/s')!;
  assert.equal(loadedAt(g, '2026-12-06T15:00:05.000Z'), '2026-12-06T15:00:18.100Z');
  assert.equal(loadedAt(g, null), null);
  assert.equal(loadedAt(null, '2026-12-06T15:00:05.000Z'), null);
});

test('podColdStart puts the Pod, its log and its zone together; nodeZone reads topology.kubernetes.io/zone', () => {
  const log = '2026-12-06T15:00:19.500000000Z [RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 13.1s, 1.1 GiB/s\n';
  const zone = nodeZone({ metadata: { name: 'node-1', labels: { 'topology.kubernetes.io/zone': 'us-central1-a' } } });
  assert.equal(zone, 'us-central1-a');
  assert.equal(nodeZone({ metadata: { name: 'n' } }), null);
  assert.equal(nodeZone(undefined), null);
  const p = podColdStart(pod(), log, zone);
  assert.equal(p.zone, 'us-central1-a');
  assert.equal(p.loadedAt, '2026-12-06T15:00:19.500Z');
  assert.equal(p.firstAnswerAt, null);
  assert.equal(p.load?.bytes, Math.round(14.2 * GiB));
  assert.equal(p.scheduledAt, '2026-12-06T15:00:00.000Z');
  const unread = podColdStart(pod(), undefined, null);
  assert.equal(unread.load, null);
  assert.equal(unread.loadedAt, null);
  assert.equal(PodColdStartSchema.safeParse(p).success, true);
});

test('predictLoad: bytes ÷ the rate for the source; the cache is capped by its zone limit share', () => {
  const b = predictLoad(14.2 * GiB, 'bucket');
  assert.equal(b.gibPerSecond, DEFAULT_BUCKET_GIBPS);
  assert.equal(b.seconds, 12.9);
  assert.match(b.basis, /1\.10 GiB\/s from the bucket/);
  assert.equal(predictLoad(10 * GiB, 'bucket', { bucketGiBps: 2 }).seconds, 5);
  assert.equal(predictLoad(10 * GiB, 'bucket', { bucketGiBps: 0 }).gibPerSecond, DEFAULT_BUCKET_GIBPS);
  // 100 Gbps + 20 Gbps per TiB stored (Rapid Cache docs): 100e9/8 bytes/s = 11.64 GiB/s.
  assert.equal(Math.round(cacheZoneLimitGiBps(0) * 100) / 100, 11.64);
  assert.equal(Math.round(cacheZoneLimitGiBps(2 ** 40) * 100) / 100, 13.97);
  const c = predictLoad(10 * GiB, 'cache', { cacheGiBps: 4 });
  assert.equal(c.gibPerSecond, 4);
  assert.equal(c.source, 'cache');
  const shared = predictLoad(10 * GiB, 'cache', { cacheGiBps: 4, pods: 8 });
  assert.ok(Math.abs(shared.gibPerSecond - cacheZoneLimitGiBps(10 * GiB) / 8) < 1e-9);
  assert.match(shared.basis, /shared by 8 pods/);
});

test('streamedBytes: whole shard files (headers included), as the streamer reads them', () => {
  assert.equal(streamedBytes({ shardBytes: 1000, headerBytes: 100, tensorBytes: 900 }), 1000);
  assert.equal(streamedBytes({ headerBytes: 100, tensorBytes: 900 }), 1000);
  assert.equal(streamedBytes({}), null);
  assert.equal(streamedBytes(null), null);
});

test('slowLoad: under half the recent median is slow; too few samples are not judged', () => {
  assert.equal(SLOW_LOAD_FRACTION, 0.5);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), null);
  const slow = slowLoad(0.5, [1.1, 1.2, 1.0]);
  assert.equal(slow.slow, true);
  assert.equal(slow.median, 1.1);
  assert.match(slow.message, /under 50 % of this model's recent median 1\.10 GiB\/s \(3 loads\)/);
  assert.equal(slowLoad(0.55, [1.1, 1.2, 1.0]).slow, false, 'exactly half is not slow');
  const few = slowLoad(0.1, [1.1, 1.2]);
  assert.equal(few.slow, false);
  assert.match(few.message, /not judged: 2 earlier measured loads of this model, 3 needed/);
  assert.equal(slowLoad(0.1, [1, 1], 2).slow, true);
  assert.equal(slowLoad(0.1, [0, Number.NaN, 1]).slow, false, 'non-rates are not samples');
});

const podCs = (name: string, load: PodColdStart['load']): PodColdStart => ({
  pod: name,
  node: 'n',
  zone: 'us-central1-a',
  scheduledAt: '2026-12-06T15:00:00.000Z',
  startedAt: '2026-12-06T15:00:05.000Z',
  loadedAt: null,
  readyAt: '2026-12-06T15:00:40.000Z',
  firstAnswerAt: null,
  load,
});

test('summarizeColdStarts: the slowest pod is the measured load; describeColdStart says it in one line', () => {
  const fast = parseLoadLines('[RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 10.0s, 1.4 GiB/s');
  const slow = parseLoadLines('[RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 13.1s, 1.1 GiB/s');
  const prediction = predictLoad(Math.round(14.2 * GiB), 'bucket');
  const s = summarizeColdStarts([podCs('a', fast), podCs('b', slow), podCs('c', null)], prediction);
  assert.equal(s.pods.length, 3);
  assert.deepEqual(s.measured, { seconds: 13.1, bytes: Math.round(14.2 * GiB), gibPerSecond: 1.084, pod: 'b', rateFrom: 'runai-streamer' });
  assert.equal(describeColdStart(s), 'loaded 14.2 GiB in 13.1 s (1.08 GiB/s; predicted 12.9 s from the bucket)');
  // Stored and read back (Firestore JSON) unchanged.
  const back: ColdStartSummary = ColdStartSummarySchema.parse(JSON.parse(JSON.stringify(s)));
  assert.deepEqual(back, s);
});

test("without the streamer's line the rate is the predicted bytes over vLLM's seconds, and says so", () => {
  const v = parseLoadLines('Model loading took 7.1000 GiB and 20.000000 seconds');
  const s = summarizeColdStarts([podCs('a', v)], predictLoad(20 * GiB, 'cache', { cacheGiBps: 2 }));
  assert.deepEqual(s.measured, { seconds: 20, bytes: null, gibPerSecond: 1, pod: 'a', rateFrom: 'predicted-bytes/vllm-seconds' });
  assert.equal(describeColdStart(s), 'loaded in 20.0 s (1.00 GiB/s by vLLM’s time; predicted 10.0 s from the zonal cache)');
  assert.deepEqual(summarizeColdStarts([podCs('a', v)], null).measured, { seconds: 20, bytes: null, gibPerSecond: null, pod: 'a', rateFrom: null });
  assert.equal(describeColdStart(summarizeColdStarts([podCs('a', null)], null)), 'load not seen in the pod logs');
  // A tiny local load reads in KiB and keeps its rate's digits.
  const tiny = parseLoadLines(streamerSummaryLine(356_352, 1.397051));
  assert.equal(describeColdStart(summarizeColdStarts([podCs('a', tiny)], null)), 'loaded 348.0 KiB in 1.4 s (0.00024 GiB/s)');
  assert.equal(describeColdStart(summarizeColdStarts([], predictLoad(GiB, 'bucket'))), 'no new pods measured (predicted 0.9 s from the bucket)');
});

test('ColdStartSummarySchema refuses what is not a summary, and reads older records without the added fields', () => {
  assert.equal(ColdStartSummarySchema.safeParse({ pods: [], predicted: null }).success, false);
  assert.equal(ColdStartSummarySchema.safeParse({ pods: [{ pod: 'x' }], predicted: null, measured: null }).success, false);
  const old = {
    pods: [{ ...podCs('a', null), load: { bytes: 1, seconds: 1, gibPerSecond: 1, source: 'vllm', parserFor: 'v0.11.2', line: 'l' } }],
    predicted: null,
    measured: { seconds: 1, bytes: 1, gibPerSecond: 1 },
  };
  const parsed = ColdStartSummarySchema.parse(old);
  assert.equal(parsed.pods[0]!.load!.at, null);
  assert.equal(parsed.pods[0]!.load!.lines, 1);
});

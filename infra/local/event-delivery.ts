/**
 * DEV ONLY — never deployed. The local stand-in for Eventarc's delivery of Cloud Storage events to
 * a Cloud Functions gen2 function: an in-memory queue drained by a bounded number of workers, each
 * POSTing one binary-mode CloudEvent, with at-least-once retry and exponential backoff.
 *
 * Why not the Firebase Functions emulator (what ran here before): it starts one Node worker per
 * concurrent event, drops the event when that worker misses its 30 s start-up timeout on a busy
 * machine, never kills the timed-out workers and never retries (issue #23). Here an event costs one
 * queue entry (≈1 KB) and at most `concurrency` HTTP requests are in flight, whatever the burst.
 *
 * The wire shape is Eventarc's for a gen2 storage trigger:
 *  - binary content mode, ce-* headers, body = the StorageObjectData JSON (int64 fields as strings,
 *    googleapis/google-cloudevents proto/google/events/cloud/storage/v1/data.proto, proto3 JSON);
 *  - ce-source `//storage.googleapis.com/projects/_/buckets/B` and ce-subject `objects/O`: the split
 *    functions-framework itself makes of a storage resource
 *    (@google-cloud/functions-framework@5.0.5 build/src/middleware/background_event_to_cloud_event.js#L37,
 *    #L129-183). The Storage emulator puts the object path in `source`; it is moved to `subject`.
 *
 * Retry follows Eventarc with retry_policy RETRY_POLICY_RETRY (infra/functions.tf): anything but a
 * Pub/Sub push success code (102, 200, 201, 202, 204: Eventarc's transport is a push subscription),
 * a connection failure or a timeout is retried with exponential backoff, until the event is older
 * than `maxAgeMs` (Eventarc keeps retrying for 24 h; locally the default is 1 h). A functions host
 * that crashed and came back receives what it missed.
 */
/** A structured-mode CloudEvent, as the Storage emulator builds it (cloudFunctions.js createCloudEventRequestBody). */
export interface StructuredCloudEvent {
  specversion?: string;
  id: string;
  type: string;
  source: string;
  subject?: string;
  time?: string;
  data: Record<string, unknown>;
}

/** Pub/Sub push success codes (Eventarc delivers through a push subscription). */
export const ACK_STATUSES: ReadonlySet<number> = new Set([102, 200, 201, 202, 204]);

export interface DeliveryOptions {
  /** Where events go (the upload function's URL). */
  url: string;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** First retry delay (default 500 ms); doubles per attempt up to maxBackoffMs (default 15 s), ±25 % jitter. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** An event older than this is given up (default 1 h). */
  maxAgeMs?: number;
  /** One attempt's deadline (default 540 s, the gen2 event-driven maximum timeout). */
  attemptTimeoutMs?: number;
  /** Events held at most; beyond it new events are refused loudly (default 100,000). */
  maxQueued?: number;
  /** How many finished deliveries are remembered for the status API (default 20,000). */
  keepRecords?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  now?: () => number;
}

export interface DeliveryRecord {
  id: string;
  type: string;
  bucket: string;
  name: string;
  generation: string;
  /** When the emulator handed the event over (ms since epoch). */
  enqueuedAt: number;
  /** When the attempt that succeeded (or the last one) started. */
  lastAttemptAt: number | null;
  /** How long the function took to answer that attempt (ms): ferry's own time. */
  lastAttemptMs: number | null;
  attempts: number;
  state: 'queued' | 'in-flight' | 'retrying' | 'delivered' | 'gave-up';
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
}

export interface DeliveryStats {
  url: string;
  enqueued: number;
  delivered: number;
  /** Failed attempts (each then retried or given up). */
  failedAttempts: number;
  gaveUp: number;
  refused: number;
  queued: number;
  retrying: number;
  inFlight: number;
  lastError: string | null;
  lastDeliveredAt: number | null;
}

interface Entry {
  record: DeliveryRecord;
  headers: Record<string, string>;
  body: string;
}

/**
 * A CloudEvent attribute as an HTTP header value: space, double-quote, percent and every character
 * outside printable ASCII (U+0021–U+007E) percent-encoded as its UTF-8 bytes
 * (cloudevents/spec@v1.0.2:cloudevents/bindings/http-protocol-binding.md#L212-L262, §3.1.3.2).
 * Object names may hold any Unicode (GCS allows it); an unencoded one cannot be sent at all (a
 * header is a ByteString), and the event was retried until it expired.
 */
export function ceHeaderValue(value: string): string {
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x21 && cp <= 0x7e && ch !== '"' && ch !== '%') out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Eventarc's binary-mode request for a structured storage CloudEvent. */
export function toBinaryMode(ce: StructuredCloudEvent): { headers: Record<string, string>; body: string; bucket: string; name: string; generation: string } {
  const data = { ...ce.data };
  // proto3 JSON: int64 as strings, whatever the emulator gave.
  for (const k of ['size', 'generation', 'metageneration']) {
    const v = data[k];
    if (v !== undefined && v !== null) data[k] = String(v as string | number);
  }
  const m = /^\/\/storage\.googleapis\.com\/projects\/_\/buckets\/([^/]+)(?:\/objects\/(.+))?$/s.exec(ce.source);
  const bucket = typeof data['bucket'] === 'string' ? data['bucket'] : (m?.[1] ?? '');
  const name = typeof data['name'] === 'string' ? data['name'] : (m?.[2] ?? '');
  const headers: Record<string, string> = {
    'ce-id': ceHeaderValue(ce.id),
    'ce-specversion': ceHeaderValue(ce.specversion ?? '1.0'),
    'ce-type': ceHeaderValue(ce.type),
    'ce-source': ceHeaderValue(`//storage.googleapis.com/projects/_/buckets/${bucket}`),
    'ce-subject': ceHeaderValue(`objects/${name}`),
    'ce-time': ceHeaderValue(ce.time ?? new Date().toISOString()),
    'content-type': 'application/json',
  };
  return { headers, body: JSON.stringify(data), bucket, name, generation: String(data['generation'] ?? '') };
}

export function backoffMs(attempt: number, min: number, max: number, random: () => number = Math.random): number {
  const base = Math.min(max, min * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + random() * 0.5));
}

export class EventDelivery {
  private readonly url: string;
  private readonly concurrency: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxAgeMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly maxQueued: number;
  private readonly keepRecords: number;
  private readonly log: NonNullable<DeliveryOptions['log']>;
  private readonly now: () => number;

  private readonly ready: Entry[] = [];
  private readyHead = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private retrying = 0;
  private inFlight = 0;
  private stopped = false;
  /** Every record, newest last (insertion order), bounded by keepRecords once finished. */
  private readonly records = new Map<string, DeliveryRecord>();
  private readonly counters = { enqueued: 0, delivered: 0, failedAttempts: 0, gaveUp: 0, refused: 0 };
  private lastError: string | null = null;
  private lastDeliveredAt: number | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: DeliveryOptions) {
    this.url = opts.url;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 15_000;
    this.maxAgeMs = opts.maxAgeMs ?? 3_600_000;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 540_000;
    this.maxQueued = opts.maxQueued ?? 100_000;
    this.keepRecords = opts.keepRecords ?? 20_000;
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
  }

  /** Takes one event; returns false (and says so) when the queue is full or delivery stopped. */
  enqueue(ce: StructuredCloudEvent): boolean {
    const pending = this.ready.length - this.readyHead + this.retrying + this.inFlight;
    if (this.stopped || pending >= this.maxQueued) {
      this.counters.refused++;
      this.log('error', 'event-delivery: queue full or stopped; event refused', { id: ce.id, source: ce.source, pending });
      return false;
    }
    const bin = toBinaryMode(ce);
    const record: DeliveryRecord = {
      id: ce.id,
      type: ce.type,
      bucket: bin.bucket,
      name: bin.name,
      generation: bin.generation,
      enqueuedAt: this.now(),
      lastAttemptAt: null,
      lastAttemptMs: null,
      attempts: 0,
      state: 'queued',
      lastStatus: null,
      lastError: null,
      deliveredAt: null,
    };
    this.records.set(record.id, record);
    this.trimRecords();
    this.counters.enqueued++;
    this.ready.push({ record, headers: bin.headers, body: bin.body });
    this.pump();
    return true;
  }

  stats(): DeliveryStats {
    return {
      url: this.url,
      ...this.counters,
      queued: this.ready.length - this.readyHead,
      retrying: this.retrying,
      inFlight: this.inFlight,
      lastError: this.lastError,
      lastDeliveredAt: this.lastDeliveredAt,
    };
  }

  /** Deliveries whose object name starts with prefix (all when empty), oldest first, at most limit. */
  deliveries(prefix = '', limit = 10_000): DeliveryRecord[] {
    const out: DeliveryRecord[] = [];
    for (const r of this.records.values()) {
      if (r.name.startsWith(prefix)) out.push({ ...r });
    }
    return out.slice(-limit);
  }

  /** Resolves when nothing is queued, retrying or in flight. */
  idle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking and retrying events (in-flight requests finish on their own). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private pending(): number {
    return this.ready.length - this.readyHead + this.retrying + this.inFlight;
  }

  private trimRecords(): void {
    if (this.records.size <= this.keepRecords) return;
    for (const [id, r] of this.records) {
      if (this.records.size <= this.keepRecords) break;
      if (r.state === 'delivered' || r.state === 'gave-up') this.records.delete(id);
    }
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.concurrency && this.readyHead < this.ready.length) {
      const e = this.ready[this.readyHead]!;
      this.ready[this.readyHead++] = undefined as unknown as Entry;
      if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
        this.ready.splice(0, this.readyHead);
        this.readyHead = 0;
      }
      this.inFlight++;
      void this.attempt(e).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.pending() === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const r of w) r();
        }
      });
    }
  }

  private async attempt(e: Entry): Promise<void> {
    const r = e.record;
    r.attempts++;
    r.state = 'in-flight';
    const started = this.now();
    r.lastAttemptAt = started;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(this.url, { method: 'POST', headers: e.headers, body: e.body, signal: AbortSignal.timeout(this.attemptTimeoutMs) });
      status = res.status;
      const text = await res.text().catch(() => '');
      if (!ACK_STATUSES.has(res.status)) error = `HTTP ${res.status}: ${text.slice(0, 300)}`;
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } })?.cause;
      error = c?.code ?? c?.message ?? (err instanceof Error ? err.message : String(err));
    }
    r.lastAttemptMs = this.now() - started;
    r.lastStatus = status;
    r.lastError = error;
    const what = { id: r.id, object: `gs://${r.bucket}/${r.name}#${r.generation}`, attempt: r.attempts, status };
    if (error === null) {
      r.state = 'delivered';
      r.deliveredAt = this.now();
      this.counters.delivered++;
      this.lastDeliveredAt = r.deliveredAt;
      this.log('info', 'event-delivery: delivered', { ...what, ms: r.lastAttemptMs });
      this.trimRecords();
      return;
    }
    this.counters.failedAttempts++;
    this.lastError = `${what.object}: ${error}`;
    const age = this.now() - r.enqueuedAt;
    if (this.stopped || age >= this.maxAgeMs) {
      r.state = 'gave-up';
      this.counters.gaveUp++;
      this.log('error', 'event-delivery: gave up on an event (too old or delivery stopped)', { ...what, error, ageMs: age });
      return;
    }
    const wait = backoffMs(r.attempts, this.minBackoffMs, this.maxBackoffMs);
    r.state = 'retrying';
    this.retrying++;
    this.log('warn', 'event-delivery: attempt failed; retrying', { ...what, error, retryInMs: wait });
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.retrying--;
      if (this.stopped) return;
      r.state = 'queued';
      this.ready.push(e);
      this.pump();
    }, wait);
    this.timers.add(t);
  }
}

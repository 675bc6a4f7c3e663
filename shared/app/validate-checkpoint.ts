/**
 * Use case: validate the checkpoint under a prefix of an ObjectStore (a GCS bucket or a directory).
 *
 * I/O budget: one listing of the prefix (skipped when the caller passes `listing`), one whole read of
 * `model.safetensors.index.json` and of `config.json`, then per shard ONE ranged read from byte 0,
 * sized to cover the whole header (predicted from the index's tensor names; 64 KiB without an index),
 * and a second read only when the header turns out longer. Tensor bytes are not read beyond that
 * first read. Sizes and generations come from the listing; reads are pinned to the listed generation.
 */
import { z } from 'zod';
import { FerryError } from '../domain/errors.ts';
import { Finding, error } from '../domain/findings.ts';
import {
  CheckpointSummary,
  normalizePrefix,
  predictHeaderBytes,
  relativeFiles,
  shardsToRead,
  sideFilesToRead,
  MAX_INDEX_BYTES,
  type CheckpointFile,
} from '../domain/checkpoint.ts';
import { parseIndex, type ParsedIndex } from '../domain/checkpoint-files.ts';
import { evaluateCheckpoint, type ShardHeaderInput } from '../domain/checkpoint-evaluation.ts';
import { parseShardHeader } from '../domain/safetensors.ts';
import { LENGTH_PREFIX_BYTES, MAX_VALIDATED_HEADER_BYTES, needsMoreBytes, type ParsedShardHeader } from '../domain/safetensors-format.ts';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.ts';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, compareWithManifest, parseManifest } from '../domain/manifest.ts';
import { error as findingError, type Finding as FindingT } from '../domain/findings.ts';

// Re-exported so callers (the upload gate, the CLI) reuse the same name/index rules.
export {
  detectLayout,
  normalizePrefix,
  predictHeaderBytes,
  relativeFiles,
  shardsToRead,
  CONFIG_FILE,
  INDEX_FILE,
  SINGLE_FILE,
  SHARD_NAME_PATTERN,
} from '../domain/checkpoint.ts';
export { checkShardNames, parseIndex, parseShardName, unsafeShardName } from '../domain/checkpoint-files.ts';
export type { CheckpointFile } from '../domain/checkpoint.ts';
export type { ParsedIndex } from '../domain/checkpoint-files.ts';

export const DEFAULT_FIRST_READ_BYTES = 64 * 1024;
export const DEFAULT_CONCURRENCY = 16;
/** Floor of a predicted first read (a large `__metadata__` still fits). */
export const MIN_FIRST_READ_BYTES = 16 * 1024;

export const ValidationReport = z.object({
  ok: z.boolean(),
  /** Where the checkpoint is, e.g. `gs://bucket/models/llama/v1/` or `/data/llama/`. */
  location: z.string(),
  /** The normalised prefix inside the store (`''` or ending in `/`); `files[].name` and findings are relative to it. */
  prefix: z.string(),
  errors: z.array(Finding),
  warnings: z.array(Finding),
  summary: CheckpointSummary,
  io: z.object({ requests: z.number(), bytesRead: z.number() }),
  files: z.array(z.object({ name: z.string(), size: z.number(), generation: z.string() })),
  /**
   * `ferry.manifest.json` (shared/domain/manifest.ts): `present` (the listing was compared with it),
   * `absent` (another tool uploaded the version: "no manifest"), `invalid` (FERRY_MANIFEST_INVALID).
   */
  manifest: z.enum(['present', 'absent', 'invalid']),
});
export type ValidationReport = z.infer<typeof ValidationReport>;

export interface ValidateOptions {
  /** Shard headers read in parallel (default 16). */
  concurrency?: number;
  /** Size of the first ranged read of a shard whose header size the index cannot predict (default 64 KiB). */
  firstReadBytes?: number;
  /** The objects under the prefix, when the caller listed them already (no listing request is made). */
  listing?: readonly ObjectInfo[];
}

export async function validateCheckpoint(store: ObjectStore, prefix: string, opts: ValidateOptions = {}): Promise<ValidationReport> {
  const p = normalizePrefix(prefix);
  const firstRead = Math.max(1, Math.floor(opts.firstReadBytes ?? DEFAULT_FIRST_READ_BYTES));
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
  const before = store.stats();

  const listing = opts.listing ?? (await store.list(p));
  const files = relativeFiles(listing, p);
  // Side files above their caps are left out here (sideFilesToRead) and refused by the evaluation.
  const side = sideFilesToRead(files);
  const [read, configBytes] = await Promise.all([
    side.index === undefined ? undefined : readIndex(store, p + side.index.name, side.index),
    side.config === undefined ? undefined : readExactly(store, p + side.config.name, 0, side.config.size, side.config.generation),
  ]);
  const index: ParsedIndex | undefined = read === 'too-large' ? undefined : read;

  const shards = await mapLimit(shardsToRead(files, index), concurrency, async (f): Promise<ShardHeaderInput> => ({
    file: f.name,
    size: f.size,
    header: await readShardHeader(store, p + f.name, f, firstReadSize(predictHeaderBytes(index, f.name), firstRead)),
  }));

  const evaluation = evaluateCheckpoint({ files, index, config: configBytes, shards });
  const integrity = await checkManifest(store, p, files, listing);
  const findings = [...evaluation.findings, ...integrity.findings];
  const after = store.stats();
  return {
    ok: evaluation.ok && !integrity.findings.some((f) => f.severity === 'error'),
    location: `${store.location.replace(/\/+$/, '')}/${p}`,
    prefix: p,
    errors: findings.filter((f) => f.severity === 'error'),
    warnings: findings.filter((f) => f.severity === 'warning'),
    summary: evaluation.summary,
    io: { requests: after.requests - before.requests, bytesRead: after.bytesRead - before.bytesRead },
    files: files.map((f) => ({ name: f.name, size: f.size, generation: f.generation })),
    manifest: integrity.manifest,
  };
}

/**
 * Reads and parses `model.safetensors.index.json`, or 'too-large' without reading a byte when its
 * listed size is above MAX_INDEX_BYTES (INDEX_TOO_LARGE_TO_VALIDATE). The read and the parse hold
 * the same byte budget as header parses (an index costs several times its size while parsed), so
 * concurrent validations in one instance never parse several large indexes and headers at once.
 */
export async function readIndex(store: ObjectStore, object: string, file: { size: number; generation: string }): Promise<ParsedIndex | 'too-large'> {
  if (file.size > MAX_INDEX_BYTES) return 'too-large';
  const release = await headerBudget.acquire(file.size);
  try {
    return parseIndex(await readExactly(store, object, 0, file.size, file.generation));
  } finally {
    release();
  }
}

/**
 * The listing against `ferry.manifest.json` when the version has one: one read of the manifest,
 * none of any other file (sizes and CRC32Cs come with the listing). Issue #20.
 */
async function checkManifest(
  store: ObjectStore,
  prefix: string,
  files: readonly CheckpointFile[],
  listing: readonly ObjectInfo[],
): Promise<{ manifest: ValidationReport['manifest']; findings: FindingT[] }> {
  const m = files.find((f) => f.name === MANIFEST_FILE);
  if (!m) return { manifest: 'absent', findings: [] };
  if (m.size > MAX_MANIFEST_BYTES) {
    return {
      manifest: 'invalid',
      findings: [findingError('FERRY_MANIFEST_INVALID', MANIFEST_FILE, `${MANIFEST_FILE} is ${m.size} bytes, above ${MAX_MANIFEST_BYTES}`)],
    };
  }
  const parsed = parseManifest(await readExactly(store, prefix + MANIFEST_FILE, 0, m.size, m.generation));
  if (!parsed.ok) return { manifest: 'invalid', findings: [findingError('FERRY_MANIFEST_INVALID', MANIFEST_FILE, `${MANIFEST_FILE}: ${parsed.message}`)] };
  const crc = new Map(listing.map((o) => [o.name.slice(prefix.length), o.crc32c]));
  return {
    manifest: 'present',
    findings: compareWithManifest(
      files.map((f) => ({ ...f, crc32c: crc.get(f.name) })),
      parsed.manifest,
    ),
  };
}

/**
 * Size of the first read of a shard. Without an index: `firstReadBytes` (64 KiB covers nearly every
 * real header). With one, the index names each shard's tensors, so the header size is predicted
 * (an over-estimate): read 1.25 × that, at least MIN_FIRST_READ_BYTES — far fewer bytes than 64 KiB
 * for ordinary shards, and still one request for MoE shards whose headers exceed 64 KiB.
 */
export function firstReadSize(predicted: number | undefined, firstReadBytes: number): number {
  if (predicted === undefined) return firstReadBytes;
  return Math.max(MIN_FIRST_READ_BYTES, Math.ceil(predicted * 1.25));
}

/** Reads just enough of a shard to judge its header: usually one read, two when the header is long. */
export async function readShardHeader(
  store: ObjectStore,
  object: string,
  file: CheckpointFile,
  firstReadBytes = DEFAULT_FIRST_READ_BYTES,
): Promise<ParsedShardHeader> {
  let buf: Uint8Array = new Uint8Array(0);
  let result = parseShardHeader(buf, file.size, file.name);
  let first = true;
  let release: (() => void) | undefined;
  try {
    while (needsMoreBytes(result)) {
      const need = result.needMoreBytes;
      if (need <= buf.length || need > file.size) {
        throw new FerryError('INTERNAL', `header parser asked for ${need} bytes of ${object} holding ${buf.length} of ${file.size}`);
      }
      if (buf.length >= LENGTH_PREFIX_BYTES && release === undefined) {
        // The header length is known: refuse what could exhaust the instance before reading it,
        // and hold the rest of the header (and its parse) within the shared byte budget.
        const n = Number(new DataView(buf.buffer, buf.byteOffset, LENGTH_PREFIX_BYTES).getBigUint64(0, true));
        if (n > MAX_VALIDATED_HEADER_BYTES) return tooLargeToValidate(file.name, n);
        release = await headerBudget.acquire(n);
      }
      const end = first ? Math.max(need, Math.min(file.size, firstReadBytes)) : need;
      first = false;
      const more = await readExactly(store, object, buf.length, end, file.generation);
      buf = buf.length === 0 ? more : concat(buf, more);
      result = parseShardHeader(buf, file.size, file.name);
    }
    return result;
  } finally {
    release?.();
  }
}

function tooLargeToValidate(file: string, n: number): ParsedShardHeader {
  return {
    ok: false,
    findings: [
      error(
        'HEADER_TOO_LARGE_TO_VALIDATE',
        file,
        `the JSON header is ${n} bytes: legal for safetensors (up to 100,000,000) but above ferry's ${MAX_VALIDATED_HEADER_BYTES}-byte validation limit, so it was not read`,
      ),
    ],
    tensors: [],
    tensorNames: null,
    headerBytes: n,
    metadata: null,
  };
}

/**
 * Header bytes being read and parsed at once in this process, across shards and concurrent
 * validations: a parse costs up to ~22× the header in memory, so a few large headers run one after
 * another instead of all together. A header alone is always admitted (it is ≤ the cap).
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Array<{ n: number; go: () => void }> = [];
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  /** Waits (first come, first served) until n bytes fit; resolves to the release function. */
  async acquire(n: number): Promise<() => void> {
    const take = Math.min(Math.max(0, n), this.capacity);
    if (this.waiting.length === 0 && this.fits(take)) this.used += take;
    else await new Promise<void>((go) => this.waiting.push({ n: take, go })); // reserved by drain()
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.used -= take;
      this.drain();
    };
  }
  get inUse(): number {
    return this.used;
  }
  private fits(n: number): boolean {
    return this.used === 0 || this.used + n <= this.capacity;
  }
  private drain(): void {
    while (this.waiting.length && this.fits(this.waiting[0]!.n)) {
      const w = this.waiting.shift()!;
      this.used += w.n;
      w.go();
    }
  }
}

const headerBudget = new ByteBudget(MAX_VALIDATED_HEADER_BYTES);

async function readExactly(store: ObjectStore, object: string, start: number, endExclusive: number, generation: string): Promise<Uint8Array> {
  if (endExclusive <= start) return new Uint8Array(0);
  const bytes = await store.read(object, start, endExclusive, generation);
  if (bytes.length !== endExclusive - start) {
    throw new FerryError(
      'OBJECT_CHANGED',
      `${object} returned ${bytes.length} bytes for [${start}, ${endExclusive}); the object is shorter than its listing says`,
      { retryable: true, hint: 'The object changed while it was being validated; validate again once the upload is finished.' },
    );
  }
  return bytes;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Maps with at most `limit` promises in flight, keeping order; the first rejection rejects the whole. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

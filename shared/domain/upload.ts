/**
 * Uploads → versions, the pure part: which objects are checkpoints, when a checkpoint is complete,
 * what identifies its content, and how concurrent observations are ordered. No I/O, no clock.
 */
import { createHash } from 'node:crypto';
import type { ObjectInfo } from './object-info.ts';
import { CONFIG_FILE, SINGLE_FILE, INDEX_FILE, SHARD_NAME_PATTERN } from './checkpoint.ts';
import { ModelName, VersionName } from './names.ts';

export { CONFIG_FILE, SINGLE_FILE, INDEX_FILE };

export type ObjectPath =
  | { kind: 'checkpoint-file'; model: string; version: string; file: string; prefix: string }
  | { kind: 'ignored'; reason: 'OUTSIDE_PREFIX' | 'NOT_A_VERSION_FILE' | 'DIRECTORY_MARKER' }
  | { kind: 'rejected'; reason: 'INVALID_MODEL_NAME' | 'INVALID_VERSION_NAME'; message: string };

/**
 * `<modelPrefix><model>/<version>/<file…>` → the checkpoint it belongs to. Files in sub-folders of a
 * version (e.g. `original/…`) belong to it too; they just aren't weights ferry validates.
 */
export function parseObjectPath(name: string, modelPrefix: string): ObjectPath {
  if (!name.startsWith(modelPrefix)) return { kind: 'ignored', reason: 'OUTSIDE_PREFIX' };
  if (name.endsWith('/')) return { kind: 'ignored', reason: 'DIRECTORY_MARKER' };
  const parts = name.slice(modelPrefix.length).split('/');
  if (parts.length < 3) return { kind: 'ignored', reason: 'NOT_A_VERSION_FILE' };
  const [model, version, ...rest] = parts as [string, string, ...string[]];
  const m = ModelName.safeParse(model);
  if (!m.success) return { kind: 'rejected', reason: 'INVALID_MODEL_NAME', message: `model ${JSON.stringify(model)}: ${m.error.issues[0]!.message}` };
  const v = VersionName.safeParse(version);
  if (!v.success) return { kind: 'rejected', reason: 'INVALID_VERSION_NAME', message: `version ${JSON.stringify(version)}: ${v.error.issues[0]!.message}` };
  return { kind: 'checkpoint-file', model, version, file: rest.join('/'), prefix: `${modelPrefix}${model}/${version}/` };
}

/**
 * The bucket an event names, checked against the model buckets ferry owns: the configured name is
 * returned (a version's URI is built from configuration, never from the event's string), or null.
 */
export function trustedBucket(eventBucket: string, modelBuckets: readonly string[]): string | null {
  return modelBuckets.find((b) => b === eventBucket) ?? null;
}

/** `gs://<bucket>/<path>` of a configured bucket (an empty prefix folder is never produced). */
export function versionUri(bucket: string, prefix: string): string {
  return `gs://${bucket}/${prefix.replace(/\/$/, '')}`;
}

/** The bucket of a stored version's `gs://` URI when it is one of the model buckets; else null. */
export function versionBucketTrusted(uri: string, modelBuckets: readonly string[]): string | null {
  const m = /^gs:\/\/([^/]+)\//.exec(uri);
  return m ? trustedBucket(m[1]!, modelBuckets) : null;
}

export type Completeness =
  | { complete: true; layout: 'single' | 'sharded'; files: ObjectInfo[] }
  | { complete: false; missing: string[]; needsIndex?: false }
  | { complete: false; needsIndex: true };

/**
 * The upload-complete gate, from one listing (names relative to the version prefix) and, when an
 * index is listed, the shard names it declares. A version is complete when config.json and either
 * model.safetensors or the index plus every shard it names are present. When the index is listed
 * but not yet read, says so (`needsIndex`) so the caller reads it — one small object, never a shard.
 * An index that cannot be parsed counts as complete: the validator reports what is wrong with it.
 */
export function checkCompleteness(listing: ObjectInfo[], prefix: string, indexShards?: string[] | 'unparseable'): Completeness {
  const rel = new Map(listing.map((o) => [o.name.slice(prefix.length), o]));
  const missing: string[] = [];
  if (!rel.has(CONFIG_FILE)) missing.push(CONFIG_FILE);
  if (rel.has(INDEX_FILE)) {
    if (indexShards === undefined) return { complete: false, needsIndex: true };
    if (indexShards !== 'unparseable') {
      for (const shard of [...new Set(indexShards)].sort()) if (!rel.has(shard)) missing.push(shard);
    }
    if (missing.length) return { complete: false, missing };
    return { complete: true, layout: 'sharded', files: sortByName(listing) };
  }
  if (rel.has(SINGLE_FILE)) {
    if (missing.length) return { complete: false, missing };
    return { complete: true, layout: 'single', files: sortByName(listing) };
  }
  // Shards may land before their index: name the index, and any shard the -of-N names say is absent.
  missing.push(`${SINGLE_FILE} or ${INDEX_FILE}`);
  return { complete: false, missing: [...missing, ...missingNumberedShards([...rel.keys()])] };
}

function missingNumberedShards(names: string[]): string[] {
  const groups = new Map<string, { prefix: string; total: number; width: number; seen: Set<number> }>();
  for (const n of names) {
    const g0 = SHARD_NAME_PATTERN.exec(n)?.groups;
    if (!g0) continue;
    const key = `${g0['prefix']}|${g0['total']}`;
    const g = groups.get(key) ?? { prefix: g0['prefix']!, total: Number(g0['total']), width: g0['shard']!.length, seen: new Set<number>() };
    g.seen.add(Number(g0['shard']));
    groups.set(key, g);
  }
  const out: string[] = [];
  for (const g of groups.values()) {
    if (g.total > 10_000) continue;
    for (let i = 1; i <= g.total; i++) {
      if (!g.seen.has(i)) out.push(`${g.prefix}${String(i).padStart(g.width, '0')}-of-${String(g.total).padStart(g.width, '0')}.safetensors`);
    }
  }
  return out.slice(0, 50);
}

function sortByName(files: ObjectInfo[]): ObjectInfo[] {
  return [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Identity of a checkpoint's content: its (name, generation) set. Any overwrite changes it. */
export function contentKey(model: string, version: string, files: ObjectInfo[]): string {
  const h = createHash('sha256');
  h.update(`${model}\n${version}\n`);
  for (const f of sortByName(files)) h.update(`${f.name}#${f.generation}\n`);
  return h.digest('hex').slice(0, 32);
}

/**
 * Observations of a version are ordered by the highest object generation they saw: GCS generations
 * grow with time, so a listing taken later (or a content written later) never has a lower one.
 * An observation older than what a version already reflects must not overwrite it.
 */
export function maxGeneration(files: ObjectInfo[]): string {
  let max = 0n;
  for (const f of files) {
    const g = /^\d+$/.test(f.generation) ? BigInt(f.generation) : 0n;
    if (g > max) max = g;
  }
  return max.toString();
}

export function compareGenerations(a: string, b: string): number {
  const x = BigInt(a || '0');
  const y = BigInt(b || '0');
  return x < y ? -1 : x > y ? 1 : 0;
}

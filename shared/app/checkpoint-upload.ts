/**
 * Use case: one GCS finalize event → the version's state recomputed from one listing of its prefix.
 * Works from state, not from the event, so duplicate, late and reordered events are harmless:
 * incomplete → record what is missing; complete → claim this content (name, generation set) once,
 * validate headers, store the result, and publish one deploy request per autodeploy target.
 */
import type { ObjectStore, ObjectInfo } from '../ports/object-store.ts';
import type { CheckpointState, VersionRef } from '../ports/checkpoint-state.ts';
import { targetKey } from '../domain/names.ts';
import type { Publisher } from '../ports/publisher.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { StorageFinalizedEvent } from '../domain/events.ts';
import type { AutodeployTarget } from '../domain/version.ts';
import { asFerryError } from '../domain/errors.ts';
import { parseObjectPath, checkCompleteness, contentKey, maxGeneration, trustedBucket, versionUri, INDEX_FILE } from '../domain/upload.ts';
import type { UploadEventReason } from '../domain/reasons/upload.ts';
import { validateCheckpoint, readIndex } from './validate-checkpoint.ts';
import { awaitedManifest } from '../domain/manifest.ts';
import { coverage } from '../domain/late-event.ts';
import { decideClaim } from '../domain/version.ts';

export interface UploadDeps {
  objects: (bucket: string) => ObjectStore;
  state: CheckpointState;
  publisher: Publisher;
  clock: Clock;
  logger: Logger;
  config: {
    /** FERRY_MODEL_BUCKETS: events from any other bucket are logged (FOREIGN_BUCKET) and acked. */
    modelBuckets: readonly string[];
    modelPrefix: string;
    validationConcurrency: number;
    /** How long a validation claim holds before another delivery may take it over. */
    claimLeaseMs: number;
    deployTopic: string;
  };
}

export type UploadOutcome =
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'foreign'; reason: 'FOREIGN_BUCKET'; bucket: string }
  | { outcome: 'rejected'; reason: string; message: string }
  | { outcome: 'incomplete'; ref: VersionRef; missing: string[]; gcsRequests: number }
  | { outcome: 'skipped'; ref: VersionRef; reason: string; published: number; gcsRequests: number }
  | { outcome: 'validated'; ref: VersionRef; valid: boolean; applied: boolean; published: number; contentKey: string; gcsRequests: number };

/** Claims of one content taken at most this many times: the next one records VALIDATION_ATTEMPTS_EXHAUSTED. */
export const MAX_CLAIM_ATTEMPTS = 3;

/**
 * Deliveries of one object generation being handled in this instance, per state store. A
 * redelivery or duplicate that arrives meanwhile waits for the first and does no work of its own
 * (900 duplicates at 50 concurrent cost one listing and one claim, not 900).
 */
const inflight = new WeakMap<CheckpointState, Map<string, Promise<UploadOutcome>>>();

export async function handleCheckpointUpload(event: StorageFinalizedEvent, deps: UploadDeps): Promise<UploadOutcome> {
  let mine = inflight.get(deps.state);
  if (!mine) inflight.set(deps.state, (mine = new Map()));
  const key = `${event.data.bucket}/${event.data.name}#${event.data.generation}`;
  const first = mine.get(key);
  // A first delivery that hangs (its reads never return) must not hold the others for ever: after
  // one claim lease they go on alone, as a delivery in another instance would.
  const o = first && (await Promise.race([first, sleepUnref(deps.config.claimLeaseMs)]));
  if (o) {
    deps.logger.debug('duplicate delivery of an object generation being handled; shared its outcome', { eventId: event.id, object: key });
    if (o.outcome === 'validated') return { outcome: 'skipped', ref: o.ref, reason: 'ALREADY_VALIDATED', published: 0, gcsRequests: 0 };
    if (o.outcome === 'skipped') return { ...o, published: 0, gcsRequests: 0 };
    return o;
  }
  const p = handleOne(event, deps).finally(() => {
    if (mine.get(key) === p) mine.delete(key);
  });
  mine.set(key, p);
  return p;
}

function sleepUnref(ms: number): Promise<undefined> {
  return new Promise((r) => setTimeout(() => r(undefined), ms).unref());
}

async function handleOne(event: StorageFinalizedEvent, deps: UploadDeps): Promise<UploadOutcome> {
  const { name } = event.data;
  const log = deps.logger.child({ eventId: event.id, object: `gs://${event.data.bucket}/${name}`, generation: event.data.generation });
  // Only the model bucket(s) ferry owns: anything else is logged and acked before it is read or recorded.
  const bucket = trustedBucket(event.data.bucket, deps.config.modelBuckets);
  if (bucket === null) {
    log.warn(`object in a bucket ferry does not own; ignored (model buckets: ${deps.config.modelBuckets.join(', ') || 'none configured'})`, {
      code: 'FOREIGN_BUCKET' satisfies UploadEventReason,
    });
    return { outcome: 'foreign', reason: 'FOREIGN_BUCKET', bucket: event.data.bucket };
  }
  const path = parseObjectPath(name, deps.config.modelPrefix);
  if (path.kind === 'ignored') {
    log.debug('object is not part of a checkpoint; ignored', { reason: path.reason });
    return { outcome: 'ignored', reason: path.reason };
  }
  if (path.kind === 'rejected') {
    log.warn(`object ignored: ${path.message}`, { reason: path.reason });
    return { outcome: 'rejected', reason: path.reason, message: path.message };
  }
  const ref: VersionRef = { model: path.model, version: path.version, uri: versionUri(bucket, path.prefix) };
  const vlog = log.child({ model: ref.model, version: ref.version });
  const late = await skipCovered(ref, { name: name.slice(path.prefix.length), generation: event.data.generation }, event.id, deps, vlog);
  if (late) return late;

  const store = deps.objects(bucket);
  const requestsBefore = store.stats().requests;
  const gcsRequests = () => store.stats().requests - requestsBefore;

  const listing = await store.list(path.prefix);
  const index = listing.find((o) => o.name === path.prefix + INDEX_FILE);
  let completeness = checkCompleteness(listing, path.prefix);
  if (!completeness.complete && completeness.needsIndex && index) {
    completeness = checkCompleteness(listing, path.prefix, await readIndexShards(store, index));
  }
  // A `ferry upload` (its objects carry the marker) is complete when its manifest, written last, is there.
  const manifestAwaited = completeness.complete ? awaitedManifest(listing, path.prefix) : undefined;
  if (manifestAwaited) completeness = { complete: false, missing: [manifestAwaited] };
  if (!completeness.complete) {
    const missing = completeness.needsIndex ? [INDEX_FILE] : completeness.missing;
    await deps.state.recordIncomplete(ref, { generation: maxGeneration(listing), missing, eventId: event.id, now: deps.clock.now() });
    vlog.info('checkpoint upload not complete yet', { missing: missing.slice(0, 20), missingCount: missing.length });
    return { outcome: 'incomplete', ref, missing, gcsRequests: gcsRequests() };
  }

  const files = completeness.files;
  const key = contentKey(ref.model, ref.version, files);
  const generation = maxGeneration(files);
  const claim = await deps.state.claimValidation(ref, {
    contentKey: key,
    generation,
    files: files.map((f) => ({ name: f.name.slice(path.prefix.length), size: f.size, generation: f.generation })),
    eventId: event.id,
    now: deps.clock.now(),
    leaseMs: deps.config.claimLeaseMs,
  });
  if (claim.action === 'skip') {
    // The content is validated (or being validated) already. Finish any autodeploy a crash left.
    const published = claim.reason === 'ALREADY_VALIDATED' ? await publishPending(ref, key, event.id, deps, vlog) : 0;
    vlog.info('checkpoint content already claimed; no work', { reason: claim.reason, contentKey: key, claimedBy: claim.claim.eventId });
    return { outcome: 'skipped', ref, reason: claim.reason, published, gcsRequests: gcsRequests() };
  }

  if (claim.claim.attempts > MAX_CLAIM_ATTEMPTS) {
    // Every earlier worker died holding this claim (a crash, or memory, on this very content): a
    // poison checkpoint must not take the instance down on every redelivery and reconciler tick.
    const message = `the validation of this content was started ${claim.claim.attempts - 1} times and never finished; not retried again`;
    await deps.state.failValidation(ref, { contentKey: key, code: 'VALIDATION_ATTEMPTS_EXHAUSTED', message, now: deps.clock.now() });
    vlog.error('checkpoint validation abandoned after repeated worker deaths', { code: 'VALIDATION_ATTEMPTS_EXHAUSTED', contentKey: key });
    return { outcome: 'validated', ref, valid: false, applied: true, published: 0, contentKey: key, gcsRequests: gcsRequests() };
  }
  vlog.info('checkpoint complete; validating headers', { contentKey: key, files: files.length, attempt: claim.claim.attempts });
  let report;
  try {
    report = await validateCheckpoint(store, path.prefix, { listing: files, concurrency: deps.config.validationConcurrency });
  } catch (e) {
    const err = asFerryError(e, 'VALIDATION_FAILED');
    if (err.retryable) {
      await deps.state.releaseClaim(ref, key, deps.clock.now());
      throw err; // redelivered; the released claim lets the redelivery take over
    }
    await deps.state.failValidation(ref, { contentKey: key, code: err.code, message: err.message, now: deps.clock.now() });
    vlog.error('checkpoint could not be validated', { code: err.code, error: err });
    return { outcome: 'validated', ref, valid: false, applied: true, published: 0, contentKey: key, gcsRequests: gcsRequests() };
  }

  const now = deps.clock.now().toISOString();
  const { applied, autodeploy } = await deps.state.finishValidation(ref, {
    contentKey: key,
    generation,
    valid: report.ok,
    summary: { ...report.summary, io: report.io, manifest: report.manifest },
    errors: report.errors,
    warnings: report.warnings,
    now,
    publishLeaseMs: deps.config.claimLeaseMs,
  });
  const verdict = { valid: report.ok, applied, errors: report.errors.length, warnings: report.warnings.length, io: report.io, contentKey: key };
  if (report.ok) vlog.info('checkpoint is valid', verdict);
  else vlog.warn('checkpoint is invalid; it will not be deployed', { ...verdict, codes: [...new Set(report.errors.map((f) => f.code))] });
  const published = autodeploy.length ? await publishAutodeploy(ref, key, autodeploy, deps, vlog) : 0;
  return { outcome: 'validated', ref, valid: report.ok, applied, published, contentKey: key, gcsRequests: gcsRequests() };
}

/**
 * O(1) for a late event: one read of the version document says whether this object generation is
 * already part of a claimed or finished content (shared/domain/late-event.ts), without listing the
 * prefix. A valid content also gets its pending autodeploy finished (one more read of its claim,
 * as the listing path did); a running one is skipped only while its claim is alive, so a
 * redelivery after a crash or a released claim still takes the validation over.
 */
async function skipCovered(
  ref: VersionRef,
  file: { name: string; generation: string },
  eventId: string,
  deps: UploadDeps,
  log: Logger,
): Promise<UploadOutcome | undefined> {
  const c = coverage(await deps.state.getVersion(ref.model, ref.version), file);
  if (c.kind === 'none') return undefined;
  if (c.kind === 'finished') {
    const published = c.valid ? await publishPending(ref, c.contentKey, eventId, deps, log) : 0;
    log.info('late event: this object generation is part of a validated content; no work', { contentKey: c.contentKey, reason: 'ALREADY_VALIDATED' });
    return { outcome: 'skipped', ref, reason: 'ALREADY_VALIDATED', published, gcsRequests: 0 };
  }
  const claim = await deps.state.getClaim(ref, c.contentKey);
  if (!claim) return undefined;
  const d = decideClaim(claim, { contentKey: c.contentKey, generation: claim.generation, eventId, now: deps.clock.now(), leaseMs: deps.config.claimLeaseMs });
  if (d.action !== 'skip') return undefined;
  log.info('late event: this object generation is part of a content being validated; no work', { contentKey: c.contentKey, reason: d.reason });
  return { outcome: 'skipped', ref, reason: d.reason, published: 0, gcsRequests: 0 };
}

async function readIndexShards(store: ObjectStore, index: ObjectInfo): Promise<string[] | 'unparseable'> {
  // Above MAX_INDEX_BYTES it is not read; the validator refuses it (INDEX_TOO_LARGE_TO_VALIDATE).
  const parsed = await readIndex(store, index.name, index);
  if (parsed === 'too-large') return 'unparseable';
  // An index with no usable weight_map cannot say what is missing; the validator reports it.
  return parsed.weightMap.size === 0 && !parsed.ok ? 'unparseable' : parsed.shardNames;
}

/**
 * Finish autodeploy requests that a finished validation left unpublished (its publish failed, or
 * its instance died between storing the verdict and publishing). The finishing worker holds them
 * for one lease, so a late event of the same upload never publishes them a second time; the
 * holder's own redelivered event takes over at once, any other event after the lease.
 */
async function publishPending(ref: VersionRef, key: string, eventId: string, deps: UploadDeps, log: Logger): Promise<number> {
  const { targets, held } = await deps.state.takePendingAutodeploy(ref, key, { eventId, now: deps.clock.now(), leaseMs: deps.config.claimLeaseMs });
  if (held) log.info('autodeploy requests are being published by the validating worker; leaving them to it', { heldBy: held.by, until: held.until });
  return targets.length ? publishAutodeploy(ref, key, targets, deps, log) : 0;
}

/** One deploy request per target; the idempotency key makes a re-publish after a crash harmless. */
async function publishAutodeploy(ref: VersionRef, key: string, targets: AutodeployTarget[], deps: UploadDeps, log: Logger): Promise<number> {
  let n = 0;
  for (const t of targets) {
    const tKey = targetKey(t);
    const request = {
      apiVersion: 'ferry/v1',
      model: ref.model,
      version: ref.version,
      target: { cluster: t.cluster, namespace: t.namespace, name: t.name },
      ...(t.replicas !== undefined ? { replicas: t.replicas } : {}),
      // Absent: sized from this version's checkpoint by the deploy path, as any deploy request.
      ...(t.accelerator !== undefined ? { accelerator: t.accelerator } : {}),
      ...(t.gate !== undefined ? { gate: t.gate } : {}),
      requestedBy: { source: 'upload', principal: ref.uri },
      idempotencyKey: `upload-${key}-${tKey}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200),
    };
    try {
      const messageId = await deps.publisher.publishJson(deps.config.deployTopic, request, { source: 'upload' });
      await deps.state.autodeployPublished(ref, key, tKey);
      log.info('autodeploy: deploy request published', { target: t, messageId });
      n++;
    } catch (e) {
      const err = asFerryError(e, 'PUBLISH_FAILED', true);
      log.error('autodeploy: could not publish deploy request', { target: t, error: err });
      throw err; // retryable → redelivered; the claim still lists this target as pending
    }
  }
  return n;
}

/**
 * Finishes validations whose worker died (instance crash or timeout with retries off or spent):
 * a version still `validating` after the claim lease re-runs the upload step from stored state,
 * as a synthetic event for its config.json. Called by the scheduled reconciler.
 */
export async function resumeStaleValidations(deps: UploadDeps): Promise<{ resumed: number; failed: number }> {
  const now = deps.clock.now();
  let resumed = 0;
  let failed = 0;
  for (const model of await deps.state.listModels()) {
    for (const v of await deps.state.listVersionsWithStatus(model.model, 'validating')) {
      if (now.getTime() - Date.parse(v.updatedAt) < deps.config.claimLeaseMs) continue;
      const m = /^gs:\/\/([^/]+)\/(.*)$/.exec(v.uri);
      const config = v.files.find((f) => f.name === 'config.json');
      if (!m || !config) continue;
      const event: StorageFinalizedEvent = {
        id: `resume-${v.contentKey ?? 'none'}-${now.getTime()}`,
        source: `//storage.googleapis.com/projects/_/buckets/${m[1]}`,
        type: 'google.cloud.storage.object.v1.finalized',
        data: { bucket: m[1]!, name: `${m[2]}/config.json`, generation: config.generation },
      };
      try {
        // Not through the single flight: the delivery this resumes may still hang in this instance.
        await handleOne(event, deps);
        resumed++;
        deps.logger.warn('resumed a validation whose worker stopped', { model: v.model, version: v.version, contentKey: v.contentKey });
      } catch (e) {
        failed++;
        deps.logger.warn('could not resume a stale validation; the next tick retries', { model: v.model, version: v.version, error: asFerryError(e) });
      }
    }
  }
  return { resumed, failed };
}

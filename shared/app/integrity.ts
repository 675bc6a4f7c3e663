/**
 * Integrity of what is served (issue #20): the version's content — its set of (object, generation)
 * — is re-listed and compared with the one ferry validated, right before a rollout applies
 * (CONTENT_CHANGED refuses it) and on reconcile ticks for the versions targets serve (drift).
 * One listing of the version's prefix each; no object is read.
 */
import { FerryError } from '../domain/errors.ts';
import { contentIsSame, describeContentDiff, diffContent, type ContentDiff } from '../domain/manifest.ts';
import type { VersionDoc } from '../domain/version.ts';
import type { ObjectStore } from '../ports/object-store.ts';

/** gs://bucket/models/m/v → bucket and the version's prefix (ending in `/`). */
export function versionLocation(uri: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([^/]+)\/(.+?)\/?$/.exec(uri);
  if (!m) throw new FerryError('INTERNAL', `version uri ${JSON.stringify(uri)} is not gs://bucket/prefix`);
  return { bucket: m[1]!, prefix: `${m[2]}/` };
}

/** What differs between the validated content (the version's `files`) and the bucket now. */
export async function validatedContentDiff(version: VersionDoc, objects: (bucket: string) => ObjectStore): Promise<ContentDiff> {
  const { bucket, prefix } = versionLocation(version.uri);
  const listing = await objects(bucket).list(prefix);
  return diffContent(version.files, listing, prefix);
}

/** Refuses (CONTENT_CHANGED, not retryable) when the bucket no longer holds the validated content. */
export async function assertValidatedContent(version: VersionDoc, objects: (bucket: string) => ObjectStore): Promise<void> {
  const diff = await validatedContentDiff(version, objects);
  if (contentIsSame(diff)) return;
  throw new FerryError(
    'CONTENT_CHANGED',
    `${version.model}/${version.version} is not the content ferry validated (${describeContentDiff(diff)}); not applying it`,
    { details: { model: version.model, version: version.version, ...diff } },
  );
}

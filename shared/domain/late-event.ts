/**
 * Late and duplicate finalize events cost O(1): whether the version already reflects this very
 * object generation, decided from the version document alone (no listing of the prefix).
 *
 * Why it is safe: the upload step works from state, not from the event. If the version's current
 * content (the generation-pinned file list of the content validated or being validated) contains
 * (object, generation), a listing made now yields that content or a later one — and every later
 * one was made by a later finalize, which brings its own event. So this event can add nothing.
 */
import type { VersionDoc } from './version.ts';

export type Coverage =
  | { kind: 'none' }
  /** The content holding this object generation has a verdict (valid or invalid). */
  | { kind: 'finished'; contentKey: string; valid: boolean }
  /** A validation of that content was claimed; whether it is alive is the claim's business. */
  | { kind: 'running'; contentKey: string };

/** `file.name` is relative to the version's prefix, as in VersionDoc.files. */
export function coverage(doc: VersionDoc | undefined, file: { name: string; generation: string }): Coverage {
  if (!doc?.contentKey) return { kind: 'none' };
  if (!doc.files.some((f) => f.name === file.name && f.generation === file.generation)) return { kind: 'none' };
  if (doc.status === 'valid' || doc.status === 'invalid') return { kind: 'finished', contentKey: doc.contentKey, valid: doc.status === 'valid' };
  if (doc.status === 'validating') return { kind: 'running', contentKey: doc.contentKey };
  return { kind: 'none' };
}

/** What ferry decided about an uploaded object (shared/domain/upload.ts, shared/domain/version.ts). */
import type { Catalogue } from './catalogue.ts';

/** An object finalized in the bucket that starts no validation. */
export const UPLOAD_EVENT_REASONS = {
  OUTSIDE_PREFIX: {
    meaning: 'The object is outside FERRY_MODEL_PREFIX; ignored.',
    hint: 'Nothing to do; to have it validated, upload under gs://<bucket>/models/<model>/<version>/.',
  },
  NOT_A_VERSION_FILE: {
    meaning: 'The object is not inside a <model>/<version>/ folder; ignored.',
    hint: 'Nothing to do; to have it validated, upload it as models/<model>/<version>/<file>.',
  },
  DIRECTORY_MARKER: {
    meaning: 'The object is a folder placeholder (its name ends in /); ignored.',
    hint: 'Nothing to do.',
  },
  FOREIGN_BUCKET: {
    meaning: 'The object is in a bucket that is not one of FERRY_MODEL_BUCKETS; logged and acked, never recorded.',
    hint: 'Upload to the configured model bucket, or add this bucket to FERRY_MODEL_BUCKETS (Terraform: bucket_name) if ferry should own it.',
  },
  INVALID_MODEL_NAME: {
    meaning: 'The model part of the object name is not a valid model name; refused.',
    hint: 'Rename it to 1–63 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, and upload again.',
  },
  INVALID_VERSION_NAME: {
    meaning: 'The version part of the object name is not a valid version name; refused.',
    hint: 'Rename it to 1–63 characters of A-Z a-z 0-9 . _ - starting with a letter or digit (not "latest"), and upload again.',
  },
} as const satisfies Catalogue;

/** Why a version is not validated again (the validation claim, shared/domain/version.ts). */
export const VALIDATION_SKIPS = {
  ALREADY_VALIDATED: {
    meaning: 'The version was already validated with the same files.',
    hint: 'Nothing to do; upload a changed file to have it validated again.',
  },
  VALIDATION_IN_PROGRESS: {
    meaning: 'Another delivery holds the validation of this version.',
    hint: 'Nothing to do: the result is stored when it finishes (the claim expires if it dies).',
  },
} as const satisfies Catalogue;

export type UploadEventReason = keyof typeof UPLOAD_EVENT_REASONS;
export type ValidationSkip = keyof typeof VALIDATION_SKIPS;

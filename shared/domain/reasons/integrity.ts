/**
 * Integrity: the bytes served are the bytes validated (issue #20). Findings about a version's
 * `ferry.manifest.json` and about bytes read in full (`ferry verify --full`); shared/domain/manifest.ts.
 */
import type { Catalogue } from './catalogue.ts';

export const INTEGRITY_FINDINGS = {
  FERRY_MANIFEST_INVALID: {
    meaning: '`ferry.manifest.json` is not a manifest ferry wrote (not JSON, or a field is missing or of the wrong type).',
    hint: 'Upload the folder again with `ferry upload` (it writes the manifest last), into a fresh version.',
  },
  MANIFEST_MISMATCH: {
    meaning: "A file's size or CRC32C in the bucket differs from what `ferry upload` recorded in the manifest: it was changed or damaged after upload.",
    hint: 'Upload the folder again with `ferry upload`, into a fresh version.',
  },
  NOT_IN_MANIFEST: {
    meaning: 'A file in the version is not in its manifest: it was added after `ferry upload` finished.',
    hint: 'Remove the file, or upload the whole folder again with `ferry upload` into a fresh version.',
  },
  MANIFEST_FILE_MISSING: {
    meaning: 'The manifest names a file the version does not hold: it was deleted after `ferry upload` finished.',
    hint: 'Upload the folder again with `ferry upload`, into a fresh version.',
  },
  CRC32C_MISMATCH: {
    meaning: "The CRC32C of the bytes read (`ferry verify --full`) differs from the one Cloud Storage stored (or the manifest's).",
    hint: 'Upload the file again, into a fresh version; then run `ferry verify --full` on it.',
  },
  SHA256_MISMATCH: {
    meaning: "The sha256 of the bytes read differs from the manifest's, or from the Hugging Face blob name.",
    hint: 'Download the model again (`hf download <repo>`), then upload it again into a fresh version.',
  },
} as const satisfies Catalogue;

/** Where a version's content may differ from what was validated (issue #20): errors of their own. */
export const INTEGRITY_ERRORS = {
  CONTENT_CHANGED: {
    meaning: "The version's objects (names and generations) are not the ones ferry validated: something overwrote, added or deleted a file after validation.",
    hint: 'Upload the checkpoint again as a new version and deploy that; ferry does not serve bytes it has not validated.',
  },
  HF_BLOB_HASH_MISMATCH: {
    meaning: 'A Hugging Face cache blob named by its sha256 does not hash to its name: the download is damaged.',
    hint: 'Download the model again (`hf download <repo> --force-download`), then upload again.',
  },
  HOLD_FAILED: {
    meaning:
      "Setting or releasing a Cloud Storage temporary hold on a served version's object failed. A rollout goes on without the hold (the re-listing before the apply and the drift check still guard the content); a release is retried by the next reconcile tick.",
    hint: "Grant the function's service account storage.objects.update on the model bucket (the custom role model_object_holder in infra/iam.tf; run terraform apply).",
  },
  HOLDS_UNSUPPORTED: {
    meaning:
      'The object store cannot hold objects: the Storage emulator answers 501 to object PATCH. ferry goes on without holds; the drift check on each reconcile tick is the only guard there.',
    hint: 'Nothing to do locally; in Google Cloud, check that the functions talk to Cloud Storage (STORAGE_EMULATOR_HOST unset).',
  },
} as const satisfies Catalogue;

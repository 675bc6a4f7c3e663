/** Codes the CLI gives errors that are not FerryErrors (shared/cli/failure.ts). */
import type { Catalogue } from './catalogue.ts';
import type { FerryErrorCode } from './errors.ts';

export const CLI_FAILURES = {
  CREDENTIALS_MISSING: {
    meaning: 'No usable Google credentials or project id.',
    hint: 'Run `gcloud auth application-default login` and set GOOGLE_CLOUD_PROJECT, or start the local stack with `npm start`.',
  },
  CONFIRMATION_REQUIRED: {
    meaning: 'A command that changes things (`ferry teardown`) asks before acting, and there was no terminal to ask on.',
    hint: 'Pass --yes to carry the plan out, or --dry-run to only see it.',
  },
  PERMISSION_DENIED: {
    meaning: 'Your account lacks a permission the command needs.',
    hint: 'The message names the permission: ask a project owner for it, or check `gcloud auth list`.',
  },
} as const satisfies Catalogue;

export type CliFailureCode = keyof typeof CLI_FAILURES;
/** Every code the CLI reports a failure with. */
export type CliErrorCode = CliFailureCode | FerryErrorCode;

/** Codes the CLI gives errors that are not FerryErrors (shared/cli/failure.ts). */
import type { Catalogue } from './catalogue.ts';
import type { FerryErrorCode } from './errors.ts';

export const CLI_FAILURES = {
  CREDENTIALS_MISSING: {
    meaning: 'No usable Google credentials or project id.',
    hint: 'Run `gcloud auth application-default login` and set GOOGLE_CLOUD_PROJECT, or start the local stack with `npm start`.',
  },
  BACKEND_UNREACHABLE: {
    meaning: 'Nothing answered at the address of a Google API or emulator.',
    hint: 'If you use the local stack, start it with `npm start` (and keep it running); otherwise check your network and the project id.',
  },
  PERMISSION_DENIED: {
    meaning: 'Your account lacks a permission the command needs.',
    hint: 'The message names the permission: ask a project owner for it, or check `gcloud auth list`.',
  },
} as const satisfies Catalogue;

export type CliFailureCode = keyof typeof CLI_FAILURES;
/** Every code the CLI reports a failure with. */
export type CliErrorCode = CliFailureCode | FerryErrorCode;

/**
 * How the CLI tells a person that something failed: one line saying what, and one saying what to
 * do next — never a stack trace. Errors that are not FerryErrors (an SDK's, thrown or rejected in
 * the background) are recognised by their well-known messages and given a code and a hint.
 */
import { isFerryError } from '../domain/errors.ts';
import type { CliErrorCode } from '../domain/reasons/cli.ts';

export interface Failure {
  code: CliErrorCode;
  message: string;
  hint?: string | undefined;
}

const LOCAL_OR_LOGIN =
  'Run `gcloud auth application-default login` to use Google Cloud, or `npm start` to bring up the local stack (its .ferry/local.env is read automatically).';

/**
 * google-auth-library's messages (GoogleAuthExceptionMessages in
 * https://github.com/googleapis/google-auth-library-nodejs/blob/main/src/auth/googleauth.ts) and
 * the connection errors of a stopped local emulator, mapped to what a person should do.
 */
const KNOWN: Array<{ test: RegExp; code: CliErrorCode; hint: string }> = [
  {
    test: /Unable to read the credential file|The file at .* does not exist, or it is not a file/i,
    code: 'CREDENTIALS_MISSING',
    hint: `GOOGLE_APPLICATION_CREDENTIALS names a file that is not there: point it at a key file, or unset it. ${LOCAL_OR_LOGIN}`,
  },
  {
    test: /Could not load the default credentials|Unable to detect a Project Id|could not refresh access token|invalid_grant|reauth/i,
    code: 'CREDENTIALS_MISSING',
    hint: LOCAL_OR_LOGIN,
  },
  {
    test: /ECONNREFUSED|connect ECONNREFUSED|14 UNAVAILABLE: No connection established/i,
    code: 'BACKEND_UNREACHABLE',
    hint: 'Nothing answered. If you use the local stack, start it with `npm start` (and keep it running); otherwise check your network and the project id.',
  },
  {
    test: /7 PERMISSION_DENIED|403|does not have .* permission/i,
    code: 'PERMISSION_DENIED',
    hint: 'Your account lacks a permission this command needs; the message names it. Ask a project owner, or check `gcloud auth list`.',
  },
];

export function describeFailure(e: unknown): Failure {
  const message = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
  // An adapter's FerryError (STATE_UNAVAILABLE, …) wrapping a missing credential or a stopped
  // emulator is reported as what the person can fix.
  const known = KNOWN.find((k) => k.test.test(message));
  if (known) return { code: known.code, message, hint: known.hint };
  if (isFerryError(e)) return { code: e.code, message: e.message, hint: e.hint };
  return { code: 'INTERNAL', message, hint: 'This is a bug in ferry if it keeps happening: run again with FERRY_DEBUG=1 for details and report it.' };
}

let reported = false;

/**
 * Prints a failure once: the same cause often surfaces twice (the awaited call, and the SDK's
 * background stub through the process handlers in main.ts). Returns whether it printed.
 */
export function reportFailure(write: (s: string) => void, command: string | undefined, e: unknown): boolean {
  if (reported) return false;
  reported = true;
  write(formatFailure(command, describeFailure(e)));
  return true;
}

/** `ferry <cmd>: <message> [CODE]` and a `next:` line. */
export function formatFailure(command: string | undefined, f: Failure): string {
  return `ferry${command ? ` ${command}` : ''}: ${f.message} [${f.code}]\n${f.hint ? `  next: ${f.hint}\n` : ''}`;
}

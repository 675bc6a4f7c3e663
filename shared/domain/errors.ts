/**
 * Typed errors with stable reason codes. Inside ferry nothing throws bare strings: a FerryError says
 * what went wrong (`code`), whether trying again can help (`retryable`), and what a person should do
 * next (`hint`). At the edge (a Cloud Function), a retryable error is re-thrown so Eventarc/Pub/Sub
 * redeliver; a permanent one is recorded and the event acked.
 *
 * Codes are closed: a FerryError takes only a code listed in shared/domain/reasons/errors.ts, and
 * without a hint of its own it carries the catalogue's.
 */
import { FERRY_ERRORS, type FerryErrorCode } from './reasons/errors.ts';

export type { FerryErrorCode };

export class FerryError extends Error {
  readonly code: FerryErrorCode;
  readonly retryable: boolean;
  readonly hint: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: FerryErrorCode, message: string, opts: { retryable?: boolean; hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FerryError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    // A code smuggled past the type (`as never`, JSON) still gets a hint rather than a crash.
    this.hint = opts.hint ?? (Object.hasOwn(FERRY_ERRORS, code) ? FERRY_ERRORS[code] : FERRY_ERRORS.INTERNAL).hint;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      hint: this.hint,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export const isFerryError = (e: unknown): e is FerryError => e instanceof FerryError;

/** Wraps anything thrown into a FerryError, keeping FerryErrors as they are. */
export function asFerryError(e: unknown, fallbackCode: FerryErrorCode = 'INTERNAL', retryable = false): FerryError {
  if (e instanceof FerryError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new FerryError(fallbackCode, message, { retryable, cause: e });
}

/** FerryErrors for the CacheControl port (see shared/ports/cache-control.ts), shared by its adapters. */
import { FerryError } from '../domain/errors.ts';
import { cacheCodeOf, isCacheErrorCode, type CacheErrorCode } from '../ports/cache-control.ts';

export { cacheCodeOf, isCacheErrorCode };

/** The hint is the catalogue's (domain/reasons/errors.ts CACHE_ERRORS). */
export function cacheError(code: CacheErrorCode, message: string, cause?: unknown): FerryError {
  return new FerryError(code, message, {
    retryable: code === 'CACHE_UNAVAILABLE',
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** gRPC status code → port error code. */
export function cacheCodeOfGrpc(status: number | undefined): CacheErrorCode {
  switch (status) {
    case 3:
    case 11: // OUT_OF_RANGE
      return 'CACHE_INVALID_ARGUMENT';
    case 5:
      return 'CACHE_NOT_FOUND';
    case 6:
      return 'CACHE_ALREADY_EXISTS';
    case 9:
      return 'CACHE_FAILED_PRECONDITION';
    case 7:
    case 16:
      return 'CACHE_FORBIDDEN';
    case undefined:
    case 1: // CANCELLED
    case 4: // DEADLINE_EXCEEDED
    case 8: // RESOURCE_EXHAUSTED
    case 10: // ABORTED
    case 13: // INTERNAL
    case 14: // UNAVAILABLE
      return 'CACHE_UNAVAILABLE';
    default:
      return 'CACHE_ERROR';
  }
}

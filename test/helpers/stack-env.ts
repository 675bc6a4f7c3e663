/**
 * Integration tests run against the local stack `npm test` starts (real emulators, kube-apiserver,
 * functions-framework). Its coordinates arrive in the environment; a test run without them fails
 * with a message saying how to run it — it never skips silently.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export function stackEnv<const K extends string>(...names: K[]): Record<K, string> {
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length) {
    throw new Error(`integration tests need the local stack (missing ${missing.join(', ')}). Run them through \`npm test\`, which starts it.`);
  }
  return Object.fromEntries(names.map((n) => [n, process.env[n]!])) as Record<K, string>;
}

/** Polls `get` until `done(value)`; fails with the last value seen after `timeoutMs`. */
export async function eventually<T, U extends T>(
  what: string,
  get: () => Promise<T>,
  done: (v: T) => v is U,
  timeoutMs?: number,
  intervalMs?: number,
): Promise<U>;
export async function eventually<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean, timeoutMs?: number, intervalMs?: number): Promise<T>;
export async function eventually<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000, intervalMs = 150): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await get();
      if (done(last)) return last;
    } catch (e) {
      lastError = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not reached in ${timeoutMs} ms; last value: ${JSON.stringify(last)}${lastError ? `; last error: ${String(lastError)}` : ''}`);
}

export const uniqueName = (base: string) => `${base}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/**
 * The transport the local stack's fakes are reached through (Storage Control, the GKE cluster
 * directory): one JSON request to 127.0.0.1 with a 10 s deadline, the answer's status and parsed
 * JSON body. A fake that cannot be reached, or answers anything but JSON, is `unavailable` — the
 * caller's own retryable error, so its port's error codes hold across the wire.
 */
const baseUrl = (host: string): string => (/^https?:\/\//.test(host) ? host : `http://${host}`).replace(/\/+$/, '');

export interface LoopbackReply {
  status: number;
  ok: boolean;
  payload: unknown;
}

/** `body` undefined: GET; else POST with `body` as JSON. `what` names the fake in messages. */
export async function loopbackJson(
  what: string,
  host: string,
  path: string,
  body: unknown,
  fetchImpl: typeof fetch,
  unavailable: (message: string, cause?: unknown) => Error,
): Promise<LoopbackReply> {
  let res: Response;
  try {
    res = await fetchImpl(`${baseUrl(host)}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    throw unavailable(`${what} at ${host} is not reachable: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const text = await res.text();
  try {
    return { status: res.status, ok: res.ok, payload: JSON.parse(text) as unknown };
  } catch {
    throw unavailable(`${what} answered HTTP ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
}

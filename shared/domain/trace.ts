/**
 * The trace context a request or event arrives with → the fields that attach a log line to that
 * trace in Cloud Logging. Pure parsing: anything malformed is ignored (no trace fields), never an
 * error, because a bad header must not fail the work it came with.
 *
 * - W3C `traceparent` (an HTTP header, and the CloudEvents distributed-tracing extension attribute
 *   of the same name): `<version>-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>`, lowercase;
 *   version ff and all-zero ids are invalid; version 00 has exactly these four fields, a later
 *   version may append more after a `-`; flag bit 0 is "sampled".
 *   https://www.w3.org/TR/trace-context/#traceparent-header
 * - Google's older `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS`: a 32-hex trace id, the span
 *   id as an unsigned 64-bit decimal, o=1 sampled / o=0 not. `traceparent` is preferred when both
 *   are present, as Google recommends. https://cloud.google.com/trace/docs/trace-context
 * - Log fields (structured logging's special fields): `logging.googleapis.com/trace` =
 *   `projects/<project>/traces/<trace id>`, `logging.googleapis.com/spanId` = 16 hex digits,
 *   `logging.googleapis.com/trace_sampled` = boolean.
 *   https://cloud.google.com/logging/docs/structured-logging#structured_logging_special_fields
 */

export interface TraceContext {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits, when the header names a span. */
  spanId?: string;
  /** The caller's sampling decision, when it states one. */
  sampled?: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const CLOUD_TRACE = /^([0-9a-fA-F]{32})(?:\/(\d*))?(?:;o=(\d*))?$/;
const ALL_ZERO = /^0+$/;
const MAX_U64 = 2n ** 64n - 1n;

export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [version, traceId, spanId, flags, more] = [m[1]!, m[2]!, m[3]!, m[4]!, m[5]];
  if (version === 'ff' || (version === '00' && more !== undefined)) return undefined;
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function parseCloudTraceContext(value: unknown): TraceContext | undefined {
  if (typeof value !== 'string') return undefined;
  const m = CLOUD_TRACE.exec(value.trim());
  if (!m) return undefined;
  const traceId = m[1]!.toLowerCase();
  if (ALL_ZERO.test(traceId)) return undefined;
  const ctx: TraceContext = { traceId };
  if (m[2]) {
    const span = BigInt(m[2]);
    if (span > 0n && span <= MAX_U64) ctx.spanId = span.toString(16).padStart(16, '0');
  }
  if (m[3] === '1') ctx.sampled = true;
  else if (m[3] === '0') ctx.sampled = false;
  return ctx;
}

/** The trace context of a request or event: `traceparent` first, then `X-Cloud-Trace-Context`. */
export function traceContextOf(headers: { traceparent?: unknown; cloudTraceContext?: unknown }): TraceContext | undefined {
  return parseTraceparent(headers.traceparent) ?? parseCloudTraceContext(headers.cloudTraceContext);
}

/** The structured-log fields for a trace context; none without a context or a project id. */
export function traceLogFields(ctx: TraceContext | undefined, projectId: string | undefined): Record<string, string | boolean> {
  if (!ctx || !projectId) return {};
  const fields: Record<string, string | boolean> = { 'logging.googleapis.com/trace': `projects/${projectId}/traces/${ctx.traceId}` };
  if (ctx.spanId) fields['logging.googleapis.com/spanId'] = ctx.spanId;
  if (ctx.sampled !== undefined) fields['logging.googleapis.com/trace_sampled'] = ctx.sampled;
  return fields;
}

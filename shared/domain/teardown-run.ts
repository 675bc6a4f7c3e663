/**
 * Teardown's records, pure: target activity (`targetActivity/{targetKey}`, kept by the reconciler),
 * what each run did (`teardownRuns/{id}`), and the scheduled tick message that starts a run.
 */
import { z } from 'zod';
import { CHAT_COMMAND_ID_RE } from './chat-command-record.ts';
import { TeardownAction, TeardownPlan } from './teardown.ts';

const IsoTime = z.iso.datetime();

// Activity (recorded by the reconciler)

/**
 * The target's new lastActiveAt after an observation: active when it has replicas and either its
 * request counters moved since last time or they could not be read (unreachable counts as active:
 * ferry never assumes idleness it cannot see). `requests` is the sum of the pods' vLLM request
 * counters when read.
 */
export function nextActivity(
  prev: { lastActiveAt: string | null; requests: number | null },
  observed: { replicas: number; requests: number | null; busy?: boolean },
  now: Date,
): { lastActiveAt: string | null; requests: number | null; source: 'metrics' | 'replicas' | 'none' } {
  if (observed.replicas <= 0) return { lastActiveAt: prev.lastActiveAt, requests: prev.requests, source: 'none' };
  if (observed.requests === null) return { lastActiveAt: now.toISOString(), requests: prev.requests, source: 'replicas' };
  const moved = observed.busy === true || prev.requests === null || observed.requests !== prev.requests; // a restart resets counters: also "moved"
  return { lastActiveAt: moved ? now.toISOString() : prev.lastActiveAt, requests: observed.requests, source: 'metrics' };
}

/**
 * From vLLM's Prometheus text (`/metrics`): finished requests (`vllm:request_success_total`,
 * summed over labels) and whether any request is running or waiting now. null when the text has
 * none of these metrics (not a vLLM, or not up).
 */
export function parseVllmActivity(text: string): { requests: number; busy: boolean } | null {
  let requests = 0;
  let inFlight = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^(vllm:request_success_total|vllm:num_requests_running|vllm:num_requests_waiting)(?:\{[^}]*\})?\s+([0-9.eE+-]+|NaN)/.exec(line.trim());
    if (!m) continue;
    const v = Number(m[2]);
    if (!Number.isFinite(v)) continue;
    seen = true;
    if (m[1] === 'vllm:request_success_total') requests += v;
    else inFlight += v;
  }
  return seen ? { requests, busy: inFlight > 0 } : null;
}

/** Firestore `targetActivity/{targetKey}`: when a target last served (kept apart from TargetState). */
export const TargetActivity = z.object({
  schemaVersion: z.literal(1),
  key: z.string(),
  target: z.object({ cluster: z.string(), namespace: z.string(), name: z.string() }),
  lastActiveAt: IsoTime.nullable(),
  /** Sum of the pods' finished-request counters at the last read (null: never read). */
  requests: z.number().nullable(),
  replicas: z.int().min(0),
  /** What the last observation was based on. */
  source: z.enum(['metrics', 'replicas', 'none']),
  /** Why the pods' /metrics could not be read, when they could not (absence is recorded, not faked). */
  metricsError: z.string().nullable(),
  observedAt: IsoTime,
});
export type TargetActivity = z.infer<typeof TargetActivity>;

export const ACTION_OUTCOMES = ['done', 'started', 'skipped', 'failed', 'planned'] as const;
export const ActionResult = z.object({
  action: TeardownAction,
  outcome: z.enum(ACTION_OUTCOMES),
  /** A reason code: SkipReason / CHANGED / GONE when skipped, an error code when failed. */
  reason: z.string().nullable(),
  message: z.string(),
  /** GKE operations started for it (polled to DONE, or left running when `started`). */
  operations: z.array(z.string()),
  at: IsoTime,
});
export type ActionResult = z.infer<typeof ActionResult>;

/** Firestore `teardownRuns/{id}`: one scheduled or manual run. */
export const TeardownRun = z.object({
  schemaVersion: z.literal(1),
  id: z.string(),
  trigger: z.enum(['schedule', 'cli', 'http', 'chat']),
  /** The chat command (`chatCommands/{id}`) that asked for it, when trigger is `chat`. */
  chatCommandId: z.string().optional(),
  startedAt: IsoTime,
  finishedAt: IsoTime.nullable(),
  dryRun: z.boolean(),
  plan: TeardownPlan,
  results: z.array(ActionResult),
  /** What could not be inventoried (a cluster unreachable, an API down): left alone this run. */
  inventoryWarnings: z.array(z.string()),
  summary: z.object({ planned: z.int(), done: z.int(), started: z.int(), skipped: z.int(), failed: z.int() }),
});
export type TeardownRun = z.infer<typeof TeardownRun>;

/**
 * The teardown topic's message. Cloud Scheduler sends `{"tick":"teardown"}`; `dryRun` plans and
 * records only; `chat` (from `/ferry teardown plan`) is always a dry run whose plan is posted back
 * to that command. Anything else is refused, never run: a typo must not turn a dry run into a real one.
 */
export const TeardownTick = z
  .object({
    tick: z.literal('teardown').optional(),
    /** The local stack's scheduler stamps its ticks. */
    scheduledAt: z.iso.datetime().optional(),
    dryRun: z.boolean().optional(),
    chat: z
      .object({ commandId: z.string().regex(CHAT_COMMAND_ID_RE, 'a chat command id') })
      .strict()
      .optional(),
  })
  .strict();
export type TeardownTick = z.infer<typeof TeardownTick>;

export type ParsedTick = { ok: true; tick: TeardownTick } | { ok: false; message: string };

/** An empty message is a plain tick; otherwise it must be a JSON object TeardownTick accepts. */
export function parseTeardownTick(data: Uint8Array | string | undefined): ParsedTick {
  const text = typeof data === 'string' ? data : data ? new TextDecoder().decode(data) : '';
  if (text.trim() === '') return { ok: true, tick: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, message: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  const r = TeardownTick.safeParse(json);
  if (!r.success) return { ok: false, message: r.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ') };
  return { ok: true, tick: r.data };
}

// ---------------------------------------------------------------------------------------------

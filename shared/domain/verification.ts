/**
 * The promotion gate's run on a rollout, pure (issue #19): what the `verifying` phase records on the
 * rollout document, how the answers of several new pods make one verdict, and how a verdict reads
 * in status, Slack and the results topic. The gate itself (prompts, expectations, evaluateGate) is
 * gate.ts; the state machine that enters and leaves `verifying` is rollout-step.ts; sending the
 * prompts to the pods is shared/app/gate-run.ts.
 */
import { z } from 'zod';
import { truncateForDisplay, type GateVerdict, type PromptResult } from './gate.ts';

const IsoTime = z.iso.datetime();

/** One prompt's result as stored (gate.ts PromptResult). */
export const StoredPromptResult = z.object({
  name: z.string(),
  passed: z.boolean(),
  expected: z.string(),
  actual: z.string().nullable(),
  latencyMs: z.number().min(0),
  failures: z.array(z.string()),
  baseline: z.enum(['recorded', 'compared', 'none']).optional(),
});

/** A verdict as stored (gate.ts GateVerdict) plus the pod whose answers it judged. */
export const StoredVerdict = z.object({
  passed: z.boolean(),
  passedCount: z.int().min(0),
  total: z.int().min(0),
  threshold: z.number(),
  results: z.array(StoredPromptResult),
  /** promptKey → answer: the baseline a later `sameAsPrevious` gate compares with. */
  answers: z.record(z.string(), z.string()),
  pod: z.string(),
});
export type StoredVerdict = z.infer<typeof StoredVerdict>;

export const Verification = z.object({
  /** When the rollout entered `verifying`. */
  startedAt: IsoTime,
  /** Gate runs started (a run asks every prompt of every selected pod). */
  attempts: z.int().min(0),
  /** A run in flight until this time: other workers leave the gate alone until then. */
  runUntil: IsoTime.nullable(),
  /** Why the last run got no verdict (pods unreachable, proxy refused, …); null after a verdict. */
  lastError: z.string().nullable(),
  /** The pods the last run asked (new template only). */
  pods: z.array(z.string()),
  /** The verdict: the first failing pod's, or the first pod's when all passed. */
  verdict: StoredVerdict.nullable(),
  /** The previous good rollout whose recorded answers `sameAsPrevious` compared with (null: none). */
  baselineFrom: z.string().nullable(),
  /** When the first gated answer arrived (cold-start telemetry's last step). */
  firstAnswerAt: IsoTime.nullable(),
});
export type Verification = z.infer<typeof Verification>;

export const newVerification = (startedAt: string): Verification => ({
  startedAt,
  attempts: 0,
  runUntil: null,
  lastError: null,
  pods: [],
  verdict: null,
  baselineFrom: null,
  firstAnswerAt: null,
});

/** What one gate run reports back to the state machine. */
export type GateRunOutcome =
  /** Every selected pod answered every prompt (an answer may still be an error vLLM returned). */
  | {
      kind: 'answered';
      verdicts: ReadonlyArray<{ pod: string; verdict: GateVerdict }>;
      baselineFrom: string | null;
      firstAnswerAt: string | null;
      /** pod → when its first answer arrived (cold-start telemetry's last step). */
      firstAnswers?: Readonly<Record<string, string>>;
    }
  /** No verdict: no new pod was reachable, or the run ran out of time. */
  | { kind: 'unreachable'; message: string; pods: readonly string[] };

/** Several pods' verdicts → one: it passes only when every pod passed. */
export function combineVerdicts(verdicts: ReadonlyArray<{ pod: string; verdict: GateVerdict }>): StoredVerdict {
  if (verdicts.length === 0) throw new Error('combineVerdicts needs at least one pod');
  const pick = verdicts.find((v) => !v.verdict.passed) ?? verdicts[0]!;
  const v = pick.verdict;
  return {
    passed: verdicts.every((x) => x.verdict.passed),
    passedCount: v.passedCount,
    total: v.total,
    threshold: v.threshold,
    results: v.results.map((r) => StoredPromptResult.parse(r)),
    answers: { ...v.answers },
    pod: pick.pod,
  };
}

/** Failing prompts first, at most `max`, each as "name: failure (expected … got …)". */
export function failingPrompts(v: StoredVerdict, max = 3, width = 120): string[] {
  const failed: PromptResult[] = v.results.filter((r) => !r.passed);
  const lines = failed.slice(0, max).map((r) => {
    const got = r.actual === null ? 'no answer' : `got ${JSON.stringify(truncateForDisplay(r.actual, width))}`;
    return `${r.name}: ${r.failures[0] ?? 'failed'} — expected ${truncateForDisplay(r.expected, width)}; ${got}`;
  });
  if (failed.length > max) lines.push(`…and ${failed.length - max} more`);
  return lines;
}

/** One line: "gate passed 3/3 on pod-a" / "gate failed 1/3 (threshold 100%) on pod-a: p2: …". */
export function describeVerdict(v: StoredVerdict): string {
  const pct = `${Math.round(v.threshold * 100)}%`;
  if (v.passed) return `gate passed ${v.passedCount}/${v.total} on ${v.pod}`;
  const first = failingPrompts(v, 1)[0];
  return `gate failed ${v.passedCount}/${v.total} (threshold ${pct}) on ${v.pod}${first ? `: ${first}` : ''}`;
}

/** Texts in a published summary are cut to this many characters (a Slack section holds 3,000). */
export const SUMMARY_TEXT_CHARS = 160;
/** Failing prompts carried in a published summary. */
export const SUMMARY_MAX_FAILING = 5;

/** What the results topic and Slack carry of a verdict: the counts and the first failing prompts, cut short. */
export const GateSummary = z.object({
  passed: z.boolean(),
  passedCount: z.int().min(0),
  total: z.int().min(0),
  threshold: z.number(),
  pod: z.string(),
  failing: z.array(z.object({ name: z.string(), failure: z.string(), expected: z.string(), actual: z.string().nullable() })),
  /** Failing prompts left out of `failing`. */
  more: z.int().min(0),
});
export type GateSummary = z.infer<typeof GateSummary>;

export function gateSummary(v: StoredVerdict): GateSummary {
  const failed = v.results.filter((r) => !r.passed);
  const cut = (s: string): string => truncateForDisplay(s, SUMMARY_TEXT_CHARS);
  return {
    passed: v.passed,
    passedCount: v.passedCount,
    total: v.total,
    threshold: v.threshold,
    pod: v.pod,
    failing: failed.slice(0, SUMMARY_MAX_FAILING).map((r) => ({
      name: r.name,
      failure: cut(r.failures[0] ?? 'failed'),
      expected: cut(r.expected),
      actual: r.actual === null ? null : cut(r.actual),
    })),
    more: Math.max(0, failed.length - SUMMARY_MAX_FAILING),
  };
}

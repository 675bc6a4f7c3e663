/**
 * Messages on the deploy results topic (FERRY_RESULTS_TOPIC), as app/rollouts.ts publishes them:
 * a deploy request refused before any rollout existed, or a rollout that reached a terminal phase.
 * Parsed loosely (extra fields are kept) so producers can add fields without breaking consumers.
 */
import { z } from 'zod';
import { Target } from './names.ts';
import { GateSummary } from './verification.ts';

export const DeployResult = z.discriminatedUnion('kind', [
  z.looseObject({
    kind: z.literal('rejected'),
    messageId: z.string().min(1),
    reason: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).default([]),
  }),
  z.looseObject({
    kind: z.literal('rollout'),
    rolloutId: z.string().min(1),
    target: Target,
    phase: z.string(),
    reason: z.string(),
    message: z.string(),
    /** Issue #19: the promotion gate's verdict, when the rollout had a gate and it ran. */
    gate: GateSummary.optional(),
    /** Issue #19: the new pods' cold start in one line (describeColdStart). */
    coldStart: z.string().optional(),
    /** Issue #19: warnings that did not fail the rollout (SLOW_LOAD). */
    warnings: z.array(z.object({ code: z.string(), message: z.string() })).optional(),
  }),
  // Issue #20: a served version's content changed after validation (shared/app/integrity.ts).
  z.looseObject({
    kind: z.literal('integrity'),
    model: z.string(),
    version: z.string(),
    code: z.literal('CONTENT_CHANGED'),
    targets: z.array(z.string()),
    message: z.string(),
  }),
]);
export type DeployResult = z.infer<typeof DeployResult>;

export type DeployResultParse = { ok: true; result: DeployResult } | { ok: false; message: string };

export function parseDeployResult(data: Uint8Array): DeployResultParse {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (e) {
    return { ok: false, message: `not JSON: ${(e as Error).message}` };
  }
  const r = DeployResult.safeParse(value);
  if (!r.success)
    return {
      ok: false,
      message: r.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; '),
    };
  return { ok: true, result: r.data };
}

/**
 * Findings: what the checkpoint validator says about a file or a checkpoint. Every finding has a
 * stable `code` (state and alerts key on it, never on the prose), a severity, the file it is about
 * (relative to the checkpoint prefix), the tensor where there is one, and a message in words.
 */
import { z } from 'zod';
import { codesOf } from './reasons/catalogue.ts';
import { CHECKPOINT_FINDINGS, SHARD_FINDINGS } from './reasons/validation.ts';
import { INTEGRITY_FINDINGS } from './reasons/integrity.ts';

/** Codes about one safetensors file; what each means and what to do: reasons/validation.ts. */
export const SHARD_FINDING_CODES = codesOf(SHARD_FINDINGS);

/** Codes about the checkpoint as a whole (listing, index, config, cross-shard consistency). */
export const CHECKPOINT_FINDING_CODES = codesOf(CHECKPOINT_FINDINGS);

/** Codes about the manifest and bytes read in full (issue #20). */
export const INTEGRITY_FINDING_CODES = codesOf(INTEGRITY_FINDINGS);

export const FINDING_CODES = [...SHARD_FINDING_CODES, ...CHECKPOINT_FINDING_CODES, ...INTEGRITY_FINDING_CODES] as const;
export const FindingCode = z.enum(FINDING_CODES);
export type FindingCode = z.infer<typeof FindingCode>;

export const SEVERITIES = ['error', 'warning'] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

export const Finding = z.object({
  code: FindingCode,
  severity: Severity,
  /** File the finding is about, relative to the checkpoint prefix (e.g. `model-00001-of-00002.safetensors`). */
  file: z.string(),
  tensor: z.string().optional(),
  message: z.string(),
});
export type Finding = z.infer<typeof Finding>;

export function error(code: FindingCode, file: string, message: string, tensor?: string): Finding {
  return tensor === undefined ? { code, severity: 'error', file, message } : { code, severity: 'error', file, tensor, message };
}

export function warning(code: FindingCode, file: string, message: string, tensor?: string): Finding {
  return tensor === undefined ? { code, severity: 'warning', file, message } : { code, severity: 'warning', file, tensor, message };
}

export const hasErrors = (findings: readonly Finding[]): boolean => findings.some((f) => f.severity === 'error');

import { EXIT, emit, parseCommand, type CliIo } from '../io.ts';
import { cliState } from '../deps.ts';
import type { VersionDoc } from '../../domain/version.ts';
import { describeVerdict, failingPrompts, type Verification } from '../../domain/verification.ts';
import { describeColdStart, type ColdStartSummary } from '../../domain/cold-start.ts';
import type { RolloutWarning } from '../../domain/rollout.ts';

export interface StatusJson {
  models: Array<{
    model: string;
    latestValid: string | null;
    autodeploy: unknown[];
    versions: Array<{
      version: string;
      status: string;
      validations: number;
      uri: string;
      parameters: number | null;
      tensors: number | null;
      tensorBytes: number | null;
      errors: unknown[];
      warnings: unknown[];
      missing: string[];
      validatedAt: string | null;
      updatedAt: string;
      manifest: string | null;
      drift: { changed: string[]; added: string[]; removed: string[]; targets: string[]; seenAt: string } | null;
    }>;
    rollouts: unknown[];
  }>;
  rejectedRequests: unknown[];
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : null);

function versionRow(v: VersionDoc) {
  const s = (v.summary ?? {}) as Record<string, unknown>;
  const params = s['parameters'];
  return {
    version: v.version,
    status: v.status,
    validations: v.validations,
    uri: v.uri,
    parameters: num(typeof params === 'object' && params ? (params as Record<string, unknown>)['total'] : params),
    tensors: num(s['tensors']),
    tensorBytes: num(s['tensorBytes']),
    errors: v.errors,
    warnings: v.warnings,
    missing: v.missing,
    validatedAt: v.validatedAt,
    updatedAt: v.updatedAt,
    // Issue #20: ferry.manifest.json compared (present), not there (absent: "no manifest"), invalid.
    manifest: typeof s['manifest'] === 'string' ? s['manifest'] : null,
    drift: v.drift ?? null,
  };
}

/** The DETAIL column's integrity part: content changed after validation, or no manifest. */
function integrityDetail(v: { status: string; manifest: string | null; drift: StatusJson['models'][number]['versions'][number]['drift'] }): string {
  if (v.drift) {
    const files = [...v.drift.changed, ...v.drift.added, ...v.drift.removed];
    return `CONTENT_CHANGED after validation (served by ${v.drift.targets.join(', ')})${files.length ? `: ${files.slice(0, 3).join(', ')}` : ''}`;
  }
  return v.status === 'valid' && v.manifest === 'absent' ? 'no manifest' : '';
}

export async function statusCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('status', args, io);
  if (typeof p === 'number') return p;
  const only = p.positional[0];
  const { state, rollouts } = await cliState(io.env);
  const models = only ? [await state.getModel(only)].filter((m) => m !== undefined) : await state.listModels();
  const json: StatusJson = { models: [], rejectedRequests: [] };
  for (const m of models.sort((a, b) => a.model.localeCompare(b.model))) {
    const versions = (await state.listVersions(m.model)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const modelRollouts = (await rollouts.listRollouts({ model: m.model, limit: 20 })).map((r) => ({
      id: r.id,
      phase: r.phase,
      reason: r.reason,
      message: r.message,
      version: r.version,
      target: r.target,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      requestedBy: r.request.requestedBy,
      // Issue #19: the gate in force (prompt count, threshold, timeout) and its run: every prompt's
      // expected and actual answer, latency and the pod asked.
      gate: r.gate ? { prompts: r.gate.prompts.length, passThreshold: r.gate.passThreshold, timeoutSeconds: r.gate.timeoutSeconds } : null,
      verification: r.verification,
      // Cold-start telemetry: predicted and measured load, each new pod's timeline; SLOW_LOAD warnings.
      coldStart: r.coldStart,
      warnings: r.warnings,
    }));
    json.models.push({
      model: m.model,
      latestValid: m.latestValid?.version ?? null,
      autodeploy: m.autodeploy.targets,
      versions: versions.map(versionRow),
      rollouts: modelRollouts,
    });
  }
  json.rejectedRequests = await rollouts.listRejected(only);
  if (p.output !== 'text') {
    emit(io, p.output, json);
    return EXIT.ok;
  }
  if (only && json.models.length === 0) {
    io.stdout(`No model named ${only}. Upload a checkpoint under gs://<bucket>/models/${only}/<version>/ first.\n`);
    return EXIT.failed;
  }
  if (json.models.length === 0) io.stdout('No models yet. Upload one: ferry upload <dir> gs://<bucket>/models/<model>/<version>\n');
  for (const m of json.models) {
    io.stdout(`\n${m.model}  (latest valid: ${m.latestValid ?? '—'}${m.autodeploy.length ? `, autodeploy → ${m.autodeploy.length} target(s)` : ''})\n`);
    const rows = m.versions.map((v) => [
      v.version,
      v.status,
      String(v.validations),
      v.parameters === null ? '' : v.parameters.toLocaleString('en-US'),
      v.tensors === null ? '' : String(v.tensors),
      v.status === 'incomplete'
        ? `missing: ${v.missing.slice(0, 3).join(', ')}${v.missing.length > 3 ? ` (+${v.missing.length - 3})` : ''}`
        : v.errors.length
          ? `${(v.errors[0] as { code: string }).code}: ${(v.errors[0] as { message: string }).message}`
          : integrityDetail(v),
    ]);
    table(io, ['VERSION', 'STATUS', 'RUNS', 'PARAMETERS', 'TENSORS', 'DETAIL'], rows);
    for (const r of m.rollouts as Array<Record<string, unknown>>) {
      io.stdout(
        `  rollout ${String(r['id'])}: ${String(r['phase'])} ${String(r['version'])} → ${JSON.stringify(r['target'])} ${r['reason'] ? `(${String(r['reason'])})` : ''}\n`,
      );
      for (const line of gateLines(r['verification'] as Verification | null, r['phase'] as string)) io.stdout(`    ${line}\n`);
      const cold = r['coldStart'] as ColdStartSummary | null;
      if (cold && (cold.measured || cold.pods.length)) io.stdout(`    load: ${describeColdStart(cold)}\n`);
      for (const w of r['warnings'] as RolloutWarning[]) io.stdout(`    ⚠ ${w.code}: ${w.message}\n`);
    }
  }
  if (json.rejectedRequests.length) {
    io.stdout(`\nRejected deploy requests (${json.rejectedRequests.length}):\n`);
    for (const r of json.rejectedRequests as Array<Record<string, unknown>>)
      io.stdout(`  ${String(r['messageId'])}  ${String(r['reason'])}: ${String(r['message'] ?? '')}\n`);
  }
  return EXIT.ok;
}

/** What the gate found, under its rollout: the verdict, then the failing prompts (expected vs got). */
export function gateLines(v: Verification | null, phase: string): string[] {
  if (!v) return [];
  if (!v.verdict) {
    const running = phase === 'verifying' ? `gate running (run ${v.attempts})` : `gate: no verdict after ${v.attempts} run(s)`;
    return [`${running}${v.lastError ? `; last error: ${v.lastError}` : ''}`];
  }
  return [describeVerdict(v.verdict).replace(/: .*/, ''), ...failingPrompts(v.verdict, 5).map((l) => `  ✗ ${l}`)];
}

export function table(io: CliIo, head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n';
  io.stdout(line(head));
  for (const r of rows) io.stdout(line(r));
}

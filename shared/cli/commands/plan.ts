/**
 * `ferry plan <model>@<version|latest> | <dir> | gs://bucket/prefix [--json] [--context N]
 *   [--concurrency N] [--family gpu|tpu] [--accelerator TYPE [--count N]]`
 *
 * Sizes a checkpoint for serving (shared/domain/sizing.ts): per accelerator the smallest device
 * count and tensor-parallel size that hold the weights plus the KV cache of the budget, and the
 * cheapest. A stored version's summary comes from Firestore; a directory or gs:// prefix is
 * validated first (headers only), then planned. With --accelerator, also checks that one.
 * Exit codes: 0 planned (and the named accelerator fits), 1 invalid checkpoint / nothing fits /
 * the named accelerator does not fit, 2 usage or I/O error.
 */
import { stat } from 'node:fs/promises';
import { EXIT, emit, parseCommand, usageError, type CliIo } from '../io.ts';
import { reportFailure } from '../failure.ts';
import { CheckpointSummary } from '../../domain/checkpoint.ts';
import { LATEST } from '../../domain/names.ts';
import { Accelerator, type AcceleratorFamily } from '../../domain/accelerators.ts';
import { asFerryError, isFerryError } from '../../domain/errors.ts';
import { checkFits, planServing, type FitCheck, type PlanRow, type ServingBudget, type ServingPlan } from '../../domain/sizing.ts';
import type { ObjectStore } from '../../ports/object-store.ts';
import { table } from './status.ts';

type Source = { kind: 'version'; model: string; version: string } | { kind: 'checkpoint'; location: string };

export async function planCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('plan', args, io);
  if (typeof p === 'number') return p;
  const usage = (msg: string): number => usageError('plan', msg, io);
  const context = p.flags['context'] as number | undefined;
  const concurrency = p.given.has('concurrency') ? (p.flags['concurrency'] as number) : undefined;
  const count = p.given.has('count') ? (p.flags['count'] as number) : undefined;
  const family = p.flags['family'] as AcceleratorFamily | undefined;
  let accelerator: Accelerator | undefined;
  if (p.flags['accelerator'] !== undefined) {
    const a = Accelerator.safeParse({ type: p.flags['accelerator'], ...(count !== undefined ? { count } : {}) });
    if (!a.success) return usage(`--accelerator: ${a.error.issues[0]?.message ?? 'invalid'}`);
    accelerator = a.data;
  } else if (count !== undefined) {
    return usage('--count goes with --accelerator');
  }

  const target = p.positional[0]!;
  let summary: CheckpointSummary;
  let source: Source;
  try {
    const loaded = await loadSummary(target, io);
    if ('exit' in loaded) return loaded.exit;
    ({ summary, source } = loaded);
  } catch (e) {
    // The shared wording: a missing credential or a stopped stack says what to do.
    reportFailure(io.stderr, 'plan', asFerryError(e, 'STORAGE_ERROR'));
    return EXIT.usage;
  }

  const budget: Partial<ServingBudget> = {
    ...(typeof context === 'number' ? { contextTokens: context } : {}),
    ...(typeof concurrency === 'number' ? { concurrency } : {}),
  };
  let plan: ServingPlan;
  try {
    plan = planServing(summary, budget, family ? { families: [family] } : {});
  } catch (e) {
    if (!isFerryError(e)) throw e;
    io.stderr(`ferry plan: ${e.code}: ${e.message}${e.hint ? `\n  next: ${e.hint}` : ''}\n`);
    return EXIT.failed;
  }
  const check = accelerator ? checkFits(accelerator, plan) : undefined;
  if (p.output !== 'text') {
    emit(io, p.output, { source, plan, ...(check ? { check: checkJson(check) } : {}) });
  } else {
    io.stdout(humanPlan(source, plan, check));
  }
  if (check) return check.ok ? EXIT.ok : EXIT.failed;
  return plan.recommended ? EXIT.ok : EXIT.failed;
}

async function loadSummary(target: string, io: CliIo): Promise<{ summary: CheckpointSummary; source: Source } | { exit: number }> {
  const isDir = !target.startsWith('gs:') && (await stat(target).catch(() => undefined))?.isDirectory() === true;
  if (target.startsWith('gs:') || isDir) {
    const [{ validateCheckpoint }, store] = await Promise.all([import('../../app/validate-checkpoint.ts'), checkpointStore(target, io)]);
    if ('exit' in store) return store;
    const report = await validateCheckpoint(store.store, store.prefix);
    if (!report.ok) {
      const first = report.errors[0];
      io.stderr(
        `ferry plan: ${report.location} is INVALID (${report.errors.length} error${report.errors.length === 1 ? '' : 's'}${first ? `, first: ${first.code} ${first.file}: ${first.message}` : ''}); see ferry validate ${target}\n`,
      );
      return { exit: EXIT.failed };
    }
    return { summary: report.summary, source: { kind: 'checkpoint', location: report.location } };
  }
  const m = /^([^@/]+)@([^@/]+)$/.exec(target);
  if (!m) {
    return { exit: usageError('plan', `${target} is neither <model>@<version>, an existing directory nor gs://bucket/prefix`, io) };
  }
  const [model, version] = [m[1]!, m[2]!];
  const { cliState } = await import('../deps.ts');
  const { state } = await cliState(io.env);
  const doc = version === LATEST ? await state.latestValidVersion(model) : await state.getVersion(model, version);
  if (!doc) {
    io.stderr(`ferry plan: ${version === LATEST ? `model ${model} has no valid version` : `no version ${model}@${version}`}; see ferry status ${model}\n`);
    return { exit: EXIT.failed };
  }
  if (doc.status !== 'valid') io.stderr(`ferry plan: note: ${model}@${doc.version} is ${doc.status}; ferry deploys only valid versions\n`);
  const summary = CheckpointSummary.safeParse(doc.summary);
  if (!summary.success) {
    io.stderr(`ferry plan: ${model}@${doc.version} has no checkpoint summary yet (status ${doc.status})\n`);
    return { exit: EXIT.failed };
  }
  return { summary: summary.data, source: { kind: 'version', model, version: doc.version } };
}

async function checkpointStore(target: string, io: CliIo): Promise<{ store: ObjectStore; prefix: string } | { exit: number }> {
  if (target.startsWith('gs:')) {
    const { parseGcsUrl } = await import('./validate.ts');
    const url = parseGcsUrl(target);
    if ('error' in url) {
      io.stderr(`ferry plan: ${url.error}\n`);
      return { exit: EXIT.usage };
    }
    const [{ bucketObjects }, { storageSettings }] = await Promise.all([import('../../composition/cli.ts'), import('../settings.ts')]);
    return { store: await bucketObjects(url.bucket, storageSettings(io.env)), prefix: url.prefix };
  }
  const { localCheckpoint } = await import('../../composition/cli.ts');
  return { store: await localCheckpoint(target), prefix: '' };
}

function checkJson(c: FitCheck) {
  return c.ok ? { ok: true, row: c.row } : { ok: false, error: c.error.toJSON(), row: c.row };
}

/** 384 B, 1.5 KiB, 20.2 GiB: binary units, one decimal above bytes. */
export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

export function humanPlan(source: Source, plan: ServingPlan, check?: FitCheck): string {
  const m = plan.model;
  const b = plan.budget;
  const out: string[] = [];
  const name = source.kind === 'version' ? `${source.model}@${source.version}` : source.location;
  out.push(`${name}  ${m.architectures.join(', ') || '?'}${m.quantization ? ` (${m.quantization})` : ''}`);
  out.push(`  weights   ${fmtBytes(m.weightBytes)} in memory (${fmt(m.parameters)} parameters, ${m.dtype}; ${fmtBytes(m.tensorBytes)} in the shards)`);
  out.push(
    `  KV cache  ${fmtBytes(m.kvBytesPerToken)} per token = 2 × ${m.layers} layers × ${m.kvHeads} KV heads × ${m.headDim} head dim × ${b.kvCacheDtype === 'fp8' ? 1 : 2} B`,
  );
  out.push(
    `  budget    ${b.concurrency} × ${fmt(b.contextTokens)} tokens = ${fmt(b.concurrency * b.contextTokens)} tokens of KV cache per replica (${fmtBytes(m.kvBytesPerToken * b.concurrency * b.contextTokens)}), gpu-memory-utilization ${b.gpuMemoryUtilization}`,
  );
  out.push('');
  const row = (r: PlanRow): string[] => [
    r.accelerator,
    String(r.count),
    String(r.tensorParallelSize),
    r.fits ? 'yes' : 'NO',
    fmtBytes(r.needPerDeviceBytes),
    fmtBytes(r.usablePerDeviceBytes),
    r.pricePerHour === null ? '—' : r.pricePerHour.toFixed(2),
    r.machineType ?? '—',
    r.fits ? `room for ${fmt(r.kvCapacityTokens)} tokens` : r.reason.replace(/^.*?but has /, 'has '),
  ];
  const lines: string[] = [];
  table(
    { stdout: (s) => lines.push(s), stderr: () => undefined, env: {} },
    ['ACCELERATOR', 'COUNT', 'TP', 'FITS', 'NEED/DEVICE', 'USABLE', '$/HOUR', 'MACHINE', 'NOTE'],
    plan.rows.map(row),
  );
  out.push(lines.join('').replace(/\n$/, ''));
  out.push('');
  const rec = plan.recommended;
  out.push(
    rec
      ? `recommended: ${rec.accelerator} ×${rec.count} (TP ${rec.tensorParallelSize}${rec.topology ? `, topology ${rec.topology}` : ''}, ${rec.machineType}) ~$${rec.pricePerHour!.toFixed(2)}/h`
      : 'recommended: none fits; lower --context or --concurrency, or quantize the model',
  );
  out.push(`prices: ${plan.priceRegion} on-demand list prices as of ${plan.pricesAsOf} ⚠ check cloud.google.com/compute/gpus-pricing and /tpu/pricing`);
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  if (check) {
    out.push('');
    out.push(
      check.ok
        ? `check: ${check.row.accelerator} ×${check.row.count} ${check.row.reason}`
        : `check: ${check.error.code}: ${check.error.message}${check.error.hint ? `\n  next: ${check.error.hint}` : ''}`,
    );
  }
  return out.join('\n') + '\n';
}

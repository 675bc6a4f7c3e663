/**
 * The console's pages, each rendered from what it reads (pure functions of their data): models →
 * versions → a version's findings and what changed; targets → rollouts → a rollout's timeline;
 * caches with their estimated cost; teardown runs; rejected deploy requests.
 */
import { z } from 'zod';
import type { ModelDoc, StoredFinding, VersionBrief, VersionDoc } from '../domain/version.ts';
import type { Rollout } from '../domain/rollout.ts';
import type { TargetState } from '../domain/target-state.ts';
import type { CacheRecord } from '../domain/cache-record.ts';
import type { TeardownRun } from '../domain/teardown-run.ts';
import type { RejectedRequest } from '../ports/rollout-state.ts';
import { diffVersions, versionFacts } from '../domain/version-diff.ts';
import { isTerminalPhase } from '../domain/rollout.ts';
import { CACHE_PRICE_SOURCE, type CacheCost } from '../domain/cache-cost.ts';
import { a, badge, barChart, fmtBytes, fmtCount, fmtDuration, html, links, raw, table, time, type Bar, type Html } from './console-html.ts';

export interface Rendered {
  title: string;
  main: Html;
}

const byNewest = <T extends { createdAt: string }>(xs: readonly T[]): T[] => [...xs].sort((x, y) => y.createdAt.localeCompare(x.createdAt));
const seconds = (from: string, to: string): number => (Date.parse(to) - Date.parse(from)) / 1000;

// ---------------------------------------------------------------------------------------------
// Models and versions

export interface ModelRow {
  model: ModelDoc;
  versions: VersionBrief[];
}

export function modelsPage(rows: readonly ModelRow[]): Rendered {
  const sorted = [...rows].sort((x, y) => x.model.model.localeCompare(y.model.model));
  const body = sorted.map(({ model, versions }) => {
    const count = (s: VersionBrief['status']) => versions.filter((v) => v.status === s).length;
    const newest = byNewest(versions)[0];
    const other = versions.length - count('valid') - count('invalid');
    return html`<tr>
      <td>${a(links.model(model.model), model.model)}</td>
      <td class="n">${versions.length}</td>
      <td class="n">${count('valid')}</td>
      <td class="n">${count('invalid')}</td>
      <td class="n">${other}</td>
      <td>
        ${model.latestValid ? a(links.version(model.model, model.latestValid.version), model.latestValid.version) : raw('<span class="muted">none</span>')}
      </td>
      <td>${newest ? html`${a(links.version(model.model, newest.version), newest.version)} ${badge(newest.status)}` : '—'}</td>
      <td>
        ${model.autodeploy.targets.length ? model.autodeploy.targets.map((t) => `${t.cluster}/${t.namespace}/${t.name}`).join(', ') : raw('<span class="muted">—</span>')}
      </td>
      <td>${time(model.updatedAt)}</td>
    </tr>`;
  });
  return {
    title: 'Models',
    main: html`<h1>Models <span class="muted">(${rows.length})</span></h1>
      ${table(
        ['Model', ['Versions', 'n'], ['Valid', 'n'], ['Invalid', 'n'], ['Other', 'n'], 'Latest valid', 'Newest', 'Autodeploy', 'Updated'],
        body,
        html`No model yet: upload one with <code>ferry upload</code>.`,
      )}`,
  };
}

/** The version uploaded before `v` (by creation), for "what changed". */
export function previousVersion(versions: readonly VersionDoc[], v: VersionDoc): VersionDoc | undefined {
  return byNewest(versions).find((x) => x.createdAt < v.createdAt || (x.createdAt === v.createdAt && x.version < v.version));
}

function changes(prev: VersionDoc | undefined, next: VersionDoc): Html {
  if (!prev) return raw('<span class="muted">first version</span>');
  const p = versionFacts(prev.summary);
  const n = versionFacts(next.summary);
  if (!p || !n) return raw('<span class="muted">not comparable (not validated)</span>');
  const d = diffVersions(p, n);
  return d.length
    ? html`<ul class="changes">
        ${d.map((c) => html`<li>${c.text}</li>`)}
      </ul>`
    : html`<span class="muted">no change from ${prev.version}</span>`;
}

function findingCell(v: VersionDoc): Html {
  if (!v.errors.length && !v.warnings.length) return raw('<span class="muted">—</span>');
  const first = v.errors[0] ?? v.warnings[0]!;
  return html`<code>${first.code}</code
    >${first.file ? html` in <code>${first.file}</code>` : ''}${v.errors.length + v.warnings.length > 1 ? html` <span class="muted">+${v.errors.length + v.warnings.length - 1}</span>` : ''}`;
}

export function modelPage(model: ModelDoc, versions: readonly VersionDoc[], rollouts: readonly Rollout[]): Rendered {
  const sorted = byNewest(versions);
  const rows = sorted.map((v) => {
    const s = v.summary;
    return html`<tr>
      <td>${a(links.version(model.model, v.version), v.version)}</td>
      <td>${badge(v.status)}</td>
      <td class="n">${fmtCount(s?.parameters)}</td>
      <td class="n">${fmtBytes(s?.tensorBytes)}</td>
      <td class="n">${s?.shards ?? '—'}</td>
      <td>${(s?.dtypes ?? []).join(', ') || '—'}</td>
      <td>${findingCell(v)}</td>
      <td>${changes(previousVersion(sorted, v), v)}</td>
      <td>${time(v.validatedAt ?? v.updatedAt)}</td>
    </tr>`;
  });
  return {
    title: model.model,
    main: html`<h1>${a(links.models(), 'Models')} / ${model.model}</h1>
      <dl>
        <dt>Latest valid</dt>
        <dd>${model.latestValid ? a(links.version(model.model, model.latestValid.version), model.latestValid.version) : 'none'}</dd>
        <dt>Created</dt>
        <dd>${time(model.createdAt)}</dd>
      </dl>
      <h2>Versions (${versions.length})</h2>
      <table>
        <thead>
          <tr>
            <th>Version</th>
            <th>Status</th>
            <th class="n">Parameters</th>
            <th class="n">Bytes</th>
            <th class="n">Shards</th>
            <th>Dtypes</th>
            <th>Findings</th>
            <th>What changed</th>
            <th>Validated</th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
      ${rolloutCharts(rollouts)}
      <h2>Rollouts</h2>
      ${rolloutTable(rollouts)}`,
  };
}

function findingRows(fs: readonly StoredFinding[], severity: string): Html[] {
  return fs.map(
    (f) =>
      html`<tr>
        <td>${badge(f.severity ?? severity)}</td>
        <td><code>${f.code}</code></td>
        <td><code>${f.file || '—'}</code></td>
        <td><code>${f.tensor ?? ''}</code></td>
        <td>${f.message}</td>
      </tr>`,
  );
}

export function versionPage(v: VersionDoc, versions: readonly VersionDoc[], compareWith: VersionDoc | undefined, rollouts: readonly Rollout[]): Rendered {
  const s = v.summary;
  const others = byNewest(versions).filter((x) => x.version !== v.version);
  const findings = [...findingRows(v.errors, 'error'), ...findingRows(v.warnings, 'warning')];
  const form = others.length
    ? html`<form class="inline" method="get" action="${links.version(v.model, v.version)}">
        <label
          >compare with
          <select name="with">
            ${others.map((o) => html`<option value="${o.version}" ${o.version === compareWith?.version ? raw(' selected') : ''}>${o.version}</option>`)}
          </select></label
        >
        <button type="submit">compare</button>
      </form>`
    : '';
  return {
    title: `${v.model}/${v.version}`,
    main: html`<h1>${a(links.models(), 'Models')} / ${a(links.model(v.model), v.model)} / ${v.version} ${badge(v.status)}</h1>
      <dl>
        <dt>URI</dt>
        <dd><code>${v.uri}</code></dd>
        <dt>Parameters</dt>
        <dd>${fmtCount(s?.parameters)}</dd>
        <dt>Tensor bytes</dt>
        <dd>${fmtBytes(s?.tensorBytes)}</dd>
        <dt>Shards</dt>
        <dd>${s?.shards ?? '—'}</dd>
        <dt>Tensors</dt>
        <dd>${fmtCount(s?.tensors)}</dd>
        <dt>Dtypes</dt>
        <dd>${(s?.dtypes ?? []).join(', ') || '—'}</dd>
        <dt>Validated</dt>
        <dd>${time(v.validatedAt)}</dd>
        <dt>Created</dt>
        <dd>${time(v.createdAt)}</dd>
        ${
          v.missing.length
            ? html`<dt>Missing</dt>
                <dd>${v.missing.join(', ')}</dd>`
            : ''
        }
      </dl>
      <h2>Findings (${findings.length})</h2>
      ${table(['Severity', 'Code', 'File', 'Tensor', 'Message'], findings, html`No findings.`)}
      <h2>What changed ${compareWith ? html`from ${a(links.version(v.model, compareWith.version), compareWith.version)}` : ''}</h2>
      <p>${compareWith ? changes(compareWith, v) : raw('<span class="muted">first version</span>')}</p>
      ${form}
      <h2>Files (${v.files.length})</h2>
      ${
        v.files.length
          ? html`<table>
              <thead>
                <tr>
                  <th>File</th>
                  <th class="n">Size</th>
                  <th>Generation</th>
                </tr>
              </thead>
              <tbody>
                ${v.files.map(
                  (f) =>
                    html`<tr>
                      <td><code>${f.name}</code></td>
                      <td class="n">${fmtBytes(f.size)}</td>
                      <td><code>${f.generation}</code></td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="muted">No files pinned yet.</p>`
      }
      <h2>Validation runs</h2>
      <table>
        <thead>
          <tr>
            <th>Started</th>
            <th>Finished</th>
            <th>Outcome</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          ${v.runs.map(
            (r) =>
              html`<tr>
                <td>${time(r.startedAt)}</td>
                <td>${time(r.finishedAt)}</td>
                <td>${badge(r.outcome)}</td>
                <td><code>${r.errorCode ?? ''}</code></td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2>Rollouts of this version</h2>
      ${rolloutTable(rollouts)}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Rollouts

/**
 * Figures other work records on a rollout (design slots): gate results prompt by prompt, and the
 * weight load predicted vs measured. Read leniently from the record; absent until that work lands.
 */
const LoadFigure = z.object({ bytes: z.number().nonnegative(), seconds: z.number().positive() }).partial();
export const RolloutExtras = z
  .object({
    gate: z
      .object({
        passed: z.boolean().optional(),
        results: z.array(z.object({ prompt: z.string(), passed: z.boolean(), detail: z.string().optional(), latencyMs: z.number().optional() }).loose()),
      })
      .loose()
      .nullable()
      .optional(),
    load: z.object({ predicted: LoadFigure.nullable().optional(), measured: LoadFigure.nullable().optional() }).loose().nullable().optional(),
  })
  .loose();
export type RolloutExtras = z.infer<typeof RolloutExtras>;
const extrasOf = (r: Rollout): RolloutExtras => {
  const p = RolloutExtras.safeParse(r);
  return p.success ? p.data : {};
};

const GIB = 2 ** 30;
const rate = (f: { bytes?: number | undefined; seconds?: number | undefined } | null | undefined): number | null =>
  f?.bytes !== undefined && f.seconds !== undefined && f.seconds > 0 ? f.bytes / GIB / f.seconds : null;

/** How long a rollout took (or has taken so far: null end = still in flight, measured to its last change). */
export function rolloutSeconds(r: Rollout): number {
  return seconds(r.createdAt, r.history.at(-1)!.at);
}

export function rolloutTable(rollouts: readonly Rollout[]): Html {
  if (!rollouts.length) return html`<p class="muted">No rollout yet.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th>Rollout</th>
        <th>Phase</th>
        <th>Version</th>
        <th>Target</th>
        <th>Reason</th>
        <th class="n">Duration</th>
        <th>Started</th>
      </tr>
    </thead>
    <tbody>
      ${byNewest(rollouts).map(
        (r) =>
          html`<tr>
            <td>${a(links.rollout(r.id), r.id)}</td>
            <td>${badge(r.phase)}</td>
            <td>${a(links.version(r.model, r.version), `${r.model}/${r.version}`)}</td>
            <td>${a(links.target(r.targetKey), r.targetKey)}</td>
            <td><code>${r.reason}</code></td>
            <td class="n">${fmtDuration(rolloutSeconds(r))}${isTerminalPhase(r.phase) ? '' : '…'}</td>
            <td>${time(r.createdAt)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** Rollout durations, and weight-load rates where rollouts recorded them (last 20). */
export function rolloutCharts(rollouts: readonly Rollout[]): Html {
  const last = byNewest(rollouts).slice(0, 20).reverse();
  const durations: Bar[] = last.map((r) => ({
    label: `${r.version} · …${r.id.slice(-8)}`,
    value: rolloutSeconds(r),
    href: links.rollout(r.id),
    tone: r.phase,
  }));
  const loads: Bar[] = last.flatMap((r) => {
    const g = rate(extrasOf(r).load?.measured);
    return g === null ? [] : [{ label: `${r.version} · …${r.id.slice(-8)}`, value: g, href: links.rollout(r.id), tone: r.phase }];
  });
  return html`${barChart('Rollout durations (last 20)', durations, fmtDuration)}${loads.length ? barChart('Weight load rate, measured (GiB/s)', loads, (v) => `${v.toFixed(2)} GiB/s`) : ''}`;
}

export function rolloutPage(r: Rollout, rolledBackTo: Rollout | undefined): Rendered {
  const start = Date.parse(r.createdAt);
  const timeline = r.history.map((h, i) => {
    const prev = i > 0 ? r.history[i - 1]!.at : r.createdAt;
    return html`<li>
      ${badge(h.phase)} <code>${h.reason}</code> ${time(h.at)}
      <span class="muted">+${fmtDuration((Date.parse(h.at) - start) / 1000)}${i > 0 ? ` (step ${fmtDuration(seconds(prev, h.at))})` : ''}</span
      >${h.message ? html`<div>${h.message}</div>` : ''}
    </li>`;
  });
  const rolledBack = r.history.some((h) => h.phase === 'rolling_back' || h.phase === 'rolled_back');
  const ex = extrasOf(r);
  const gate = ex.gate
    ? html`<table>
        <thead>
          <tr>
            <th>Prompt</th>
            <th>Result</th>
            <th>Detail</th>
            <th class="n">Latency</th>
          </tr>
        </thead>
        <tbody>
          ${ex.gate.results.map(
            (g) =>
              html`<tr>
                <td><code>${g.prompt}</code></td>
                <td>${badge(g.passed ? 'succeeded' : 'failed')}</td>
                <td>${g.detail ?? ''}</td>
                <td class="n">${g.latencyMs !== undefined ? `${g.latencyMs} ms` : '—'}</td>
              </tr>`,
          )}
        </tbody>
      </table>`
    : html`<p class="muted">No gate results recorded for this rollout.</p>`;
  const fig = (f: z.infer<typeof LoadFigure> | null | undefined) =>
    f
      ? html`<td class="n">${fmtBytes(f.bytes)}</td>
          <td class="n">${fmtDuration(f.seconds)}</td>
          <td class="n">${rate(f)?.toFixed(2) ?? '—'}</td>`
      : raw('<td class="n">—</td><td class="n">—</td><td class="n">—</td>');
  const load =
    ex.load && (ex.load.predicted || ex.load.measured)
      ? html`<table>
          <thead>
            <tr>
              <th></th>
              <th class="n">Bytes</th>
              <th class="n">Seconds</th>
              <th class="n">GiB/s</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>Predicted</td>
              ${fig(ex.load.predicted)}
            </tr>
            <tr>
              <td>Measured</td>
              ${fig(ex.load.measured)}
            </tr>
          </tbody>
        </table>`
      : html`<p class="muted">No weight-load figures recorded for this rollout.</p>`;
  return {
    title: `Rollout ${r.id}`,
    main: html`<h1>${a(links.targets(), 'Targets')} / ${a(links.target(r.targetKey), r.targetKey)} / ${r.id} ${badge(r.phase)}</h1>
      <dl>
        <dt>Version</dt>
        <dd>${a(links.version(r.model, r.version), `${r.model}/${r.version}`)}</dd>
        <dt>Reason</dt>
        <dd><code>${r.reason}</code> ${r.message}</dd>
        <dt>Requested by</dt>
        <dd>${requester(r)}</dd>
        <dt>Started</dt>
        <dd>${time(r.createdAt)}</dd>
        <dt>Duration</dt>
        <dd>${fmtDuration(rolloutSeconds(r))}${isTerminalPhase(r.phase) ? '' : ' so far'}</dd>
        <dt>Rollback target</dt>
        <dd>
          ${r.previousGoodRolloutId ? html`${a(links.rollout(r.previousGoodRolloutId), r.previousGoodRolloutId)}${rolledBackTo ? html` (${a(links.version(rolledBackTo.model, rolledBackTo.version), `${rolledBackTo.model}/${rolledBackTo.version}`)})` : ''}${rolledBack ? ' — rolled back to it' : ''}` : 'none (first rollout on this target)'}
        </dd>
        ${
          r.supersededBy
            ? html`<dt>Superseded by</dt>
                <dd>${a(links.rollout(r.supersededBy), r.supersededBy)}</dd>`
            : ''
        }
        ${
          r.detail
            ? html`<dt>Deployment</dt>
                <dd>${badge(r.detail.state)} <code>${r.detail.reason}</code> ${r.detail.message}</dd>`
            : ''
        }
        ${
          r.cache
            ? html`<dt>Cache</dt>
                <dd>${r.cache.mode} in ${r.cache.zones.join(', ')} (bucket ${r.cache.bucket})</dd>`
            : ''
        }
      </dl>
      <h2>Timeline</h2>
      <ol class="timeline">
        ${timeline}
      </ol>
      <h2>Gate</h2>
      <div class="slot">${gate}</div>
      <h2>Weight load: predicted vs measured</h2>
      <div class="slot">${load}</div>`,
  };
}

function requester(r: Rollout): string {
  const by = r.request.requestedBy;
  return by ? `${by.principal} (${by.source})` : '—';
}

// ---------------------------------------------------------------------------------------------
// Targets

export function targetsPage(targets: readonly TargetState[], recent: readonly Rollout[]): Rendered {
  const latest = new Map<string, Rollout>();
  for (const r of byNewest(recent)) if (!latest.has(r.targetKey)) latest.set(r.targetKey, r);
  const rows = [...targets]
    .sort((x, y) => x.key.localeCompare(y.key))
    .map((t) => {
      const l = latest.get(t.key);
      return html`<tr>
        <td>${a(links.target(t.key), t.key)}</td>
        <td>${t.activeRolloutId ? a(links.rollout(t.activeRolloutId), t.activeRolloutId) : raw('<span class="muted">idle</span>')}</td>
        <td>${t.queuedRolloutId ? a(links.rollout(t.queuedRolloutId), t.queuedRolloutId) : '—'}</td>
        <td>
          ${t.lastGood ? html`${a(links.version(t.lastGood.model, t.lastGood.version), `${t.lastGood.model}/${t.lastGood.version}`)} ${a(links.rollout(t.lastGood.rolloutId), '(rollout)')}` : '—'}
        </td>
        <td>${l ? html`${a(links.rollout(l.id), l.id)} ${badge(l.phase)}` : '—'}</td>
        <td>${time(t.updatedAt)}</td>
      </tr>`;
    });
  return {
    title: 'Targets',
    main: html`<h1>Targets <span class="muted">(${targets.length})</span></h1>
      ${table(
        ['Target', 'Active rollout', 'Queued', 'Serving (last good)', 'Latest rollout', 'Updated'],
        rows,
        html`No target yet: deploy with <code>ferry deploy</code>.`,
      )}`,
  };
}

export function targetPage(key: string, target: TargetState | undefined, rollouts: readonly Rollout[]): Rendered {
  return {
    title: key,
    main: html`<h1>${a(links.targets(), 'Targets')} / ${key}</h1>
      ${
        target
          ? html`<dl>
              <dt>Serving</dt>
              <dd>
                ${target.lastGood ? a(links.version(target.lastGood.model, target.lastGood.version), `${target.lastGood.model}/${target.lastGood.version}`) : 'nothing succeeded yet'}
              </dd>
              <dt>Active rollout</dt>
              <dd>${target.activeRolloutId ? a(links.rollout(target.activeRolloutId), target.activeRolloutId) : 'none'}</dd>
            </dl>`
          : ''
      }
      ${rolloutCharts(rollouts)}
      <h2>Rollouts (${rollouts.length})</h2>
      ${rolloutTable(rollouts)}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Caches

export interface CacheRow {
  record: CacheRecord;
  cost: CacheCost;
}

export function cachesPage(rows: readonly CacheRow[]): Rendered {
  const body = [...rows]
    .sort((x, y) => x.record.id.localeCompare(y.record.id))
    .map(({ record: c, cost }) => {
      return html`<tr>
        <td><code>${c.bucket}</code></td>
        <td>${c.zone}</td>
        <td>${badge(c.state)}${c.pendingUpdate ? ' (update pending)' : ''}</td>
        <td class="n">${c.ttlSeconds !== null ? fmtDuration(c.ttlSeconds) : '—'}</td>
        <td>${time(c.lastUsedAt)}</td>
        <td>
          ${c.targets.length ? c.targets.map((t, i) => html`${i ? ', ' : ''}${a(links.target(t.targetKey), t.targetKey)}`) : raw('<span class="muted">none</span>')}
        </td>
        <td class="n">
          ${cost.kind === 'estimate' ? html`$${cost.usdPerDay.toFixed(2)}/day <span class="muted">(${cost.gib.toFixed(1)} GiB; ingest ≈ $${cost.ingestUsd.toFixed(2)} once)</span>` : html`<span class="muted">${cost.why}</span>`}
        </td>
        <td>${c.createdBy.by}${c.createdBy.rolloutId ? html` (${a(links.rollout(c.createdBy.rolloutId), c.createdBy.rolloutId)})` : ''}</td>
        <td>${c.lastError ? html`<code>${c.lastError.code}</code> ${c.lastError.message}` : '—'}</td>
      </tr>`;
    });
  return {
    title: 'Caches',
    main: html`<h1>Anywhere Caches <span class="muted">(${rows.length})</span></h1>
      ${table(
        ['Bucket', 'Zone', 'State', ['TTL', 'n'], 'Last use', 'Relied on by', ['Est. cost', 'n'], 'Created by', 'Last error'],
        body,
        html`No cache yet: a deploy with <code>cache.mode</code> set creates them.`,
      )}
      <p class="muted">
        Estimated storage cost: the tensor bytes of the versions its targets run × the documented storage rate per GiB-hour × 24, from ${CACHE_PRICE_SOURCE}.
        Reads and data transfer are not included.
      </p>`,
  };
}

// ---------------------------------------------------------------------------------------------
// Teardown and rejected requests

function actionText(x: { kind: string } & Record<string, unknown>): string {
  switch (x.kind) {
    case 'disable-cache':
      return `disable cache ${String(x['bucket'])} in ${String(x['zone'])}`;
    case 'scale-deployment':
      return `scale ${String(x['targetKey'])} to zero`;
    case 'scale-node-pools':
      return `scale node pools ${(x['nodePools'] as string[]).join(', ')} of ${String(x['cluster'])} to zero`;
    case 'delete-cluster':
      return `delete cluster ${String(x['cluster'])}`;
    default:
      return x.kind;
  }
}

export function teardownPage(runs: readonly TeardownRun[]): Rendered {
  const items = runs.map((run) => {
    const s = run.summary;
    return html`<details${runs[0] === run ? raw(' open') : ''}><summary>${time(run.startedAt)} · ${run.trigger}${run.dryRun ? ' · dry run' : ''} · planned ${s.planned}, done ${s.done}, started ${s.started}, skipped ${s.skipped}, failed ${s.failed}</summary>
<table><thead><tr><th>Action</th><th>Outcome</th><th>Reason</th><th>Message</th></tr></thead><tbody>
${run.plan.actions.map((p) => {
  const res = run.results.find((r) => JSON.stringify(r.action) === JSON.stringify(p.action));
  return html`<tr>
    <td>${actionText(p.action)}</td>
    <td>${badge(res?.outcome ?? 'planned')}</td>
    <td><code>${res?.reason ?? p.reason}</code></td>
    <td>${res?.message ?? p.message}</td>
  </tr>`;
})}
${run.plan.skipped.map(
  (k) =>
    html`<tr>
      <td>${JSON.stringify(k.resource)}</td>
      <td>${badge('skipped')}</td>
      <td><code>${k.reason}</code></td>
      <td>${k.message}</td>
    </tr>`,
)}
</tbody></table>${run.inventoryWarnings.length ? html`<p class="muted">Not inventoried: ${run.inventoryWarnings.join('; ')}</p>` : ''}</details>`;
  });
  return {
    title: 'Teardown',
    main: html`<h1>Teardown runs <span class="muted">(${runs.length})</span></h1>
      ${runs.length ? items : html`<p class="muted">No teardown run yet (it runs every 15 minutes in production; <code>ferry teardown</code> runs one).</p>`}`,
  };
}

export function rejectedPage(rejected: readonly RejectedRequest[]): Rendered {
  const rows = [...rejected]
    .sort((x, y) => y.receivedAt.localeCompare(x.receivedAt))
    .map(
      (r) =>
        html`<tr>
          <td>${time(r.receivedAt)}</td>
          <td>${r.model ? a(links.model(r.model), r.model) : '—'}</td>
          <td><code>${r.reason}</code></td>
          <td>
            ${r.message}${
              r.issues.length
                ? html`<ul>
                    ${r.issues.map((i) => html`<li><code>${i.path || '(request)'}</code>: ${i.message}</li>`)}
                  </ul>`
                : ''
            }
          </td>
          <td>${r.source}</td>
          <td><code>${r.messageId}</code></td>
        </tr>`,
    );
  return {
    title: 'Rejected requests',
    main: html`<h1>Rejected deploy requests <span class="muted">(${rejected.length})</span></h1>
      ${table(['Received', 'Model', 'Reason', 'Why', 'Source', 'Message id'], rows, html`No deploy request was refused.`)}`,
  };
}

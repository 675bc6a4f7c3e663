/**
 * Chat messages as Slack Block Kit, pure: plain view objects in, `{text, blocks}` out. Every message
 * has a `text` fallback (notifications, screen readers) and stays inside Block Kit's limits (50
 * blocks, 3000 chars per section, 10 fields of 2000, header 150). Text that comes from users or
 * the cluster is escaped (& < >) so it cannot turn into mentions or links.
 */
import type { ContextBlock, DividerBlock, HeaderBlock, MrkdwnElement, PlainTextElement, SectionBlock } from '@slack/types';
import type { Target } from './names.ts';
import type { Rollout } from './rollout.ts';
import type { GateSummary } from './verification.ts';
import { usage } from './chat-command.ts';
import type { VersionChange, VersionFacts } from './version-diff.ts';
import { formatBytes, formatCount } from './version-diff.ts';

/**
 * The text objects and the four blocks ferry sends, as Slack's own definitions (@slack/types, types
 * only: nothing is loaded at run time). https://docs.slack.dev/reference/block-kit/blocks
 */
export type TextObject = MrkdwnElement | PlainTextElement;
/** ferry's context blocks hold text only (Slack's may also hold images). */
export type TextContextBlock = Omit<ContextBlock, 'elements'> & { elements: TextObject[] };
export type Block = HeaderBlock | SectionBlock | TextContextBlock | DividerBlock;

export interface ChatMessage {
  /** ephemeral: only the person who typed the command sees it; in_channel: everyone does. */
  response_type?: 'ephemeral' | 'in_channel';
  replace_original?: boolean;
  text: string;
  blocks?: Block[];
}

export const MAX_BLOCKS = 50;
export const MAX_SECTION = 3000;
const MAX_FIELD = 2000;
const MAX_HEADER = 150;
const MAX_FIELDS = 10;

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
export const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

export const md = (text: string, max = MAX_SECTION): TextObject => ({ type: 'mrkdwn', text: clip(text, max) });
export const header = (text: string): Block => ({ type: 'header', text: { type: 'plain_text', text: clip(text, MAX_HEADER), emoji: true } });
export const section = (text: string): Block => ({ type: 'section', text: md(text) });
export const fields = (pairs: Array<[string, string]>): Block => ({
  type: 'section',
  fields: pairs.slice(0, MAX_FIELDS).map(([k, v]) => md(`*${k}*\n${v}`, MAX_FIELD)),
});
export const context = (parts: string[]): Block => ({ type: 'context', elements: parts.slice(0, 10).map((p) => md(p, MAX_SECTION)) });

/** Keeps a message inside MAX_BLOCKS, saying how much was left out. */
export function finish(msg: ChatMessage): ChatMessage {
  const blocks = msg.blocks ?? [];
  if (blocks.length <= MAX_BLOCKS) return { ...msg, text: clip(msg.text, MAX_SECTION) };
  const kept = blocks.slice(0, MAX_BLOCKS - 1);
  kept.push(context([`…and ${blocks.length - kept.length} more blocks left out; use the CLI (\`ferry status --json\`) for everything.`]));
  return { ...msg, text: clip(msg.text, MAX_SECTION), blocks: kept };
}

// ---------------------------------------------------------------------------------------------
// Links

/**
 * The project whose Cloud Console links are worth showing, or null: emulator-only projects
 * (`demo-*`, the Firebase convention the local stack uses) have nothing to link to.
 */
export function consoleProjectFor(project: string | undefined): string | null {
  return project && !project.startsWith('demo-') ? project : null;
}

const GKE_RE = /^projects\/([^/]+)\/locations\/([^/]+)\/clusters\/([^/]+)$/;

export const targetText = (t: Target): string => `${t.cluster}/${t.namespace}/${t.name}`;

export function workloadLink(t: Target): string | null {
  const m = GKE_RE.exec(t.cluster);
  if (!m) return null;
  const [, project, location, cluster] = m;
  return `https://console.cloud.google.com/kubernetes/deployment/${location}/${cluster}/${t.namespace}/${t.name}/overview?project=${project}`;
}

export function logsLink(project: string, field: string, value: string): string {
  return `https://console.cloud.google.com/logs/query;query=${encodeURIComponent(`jsonPayload.${field}="${value}"`)}?project=${encodeURIComponent(project)}`;
}

export function checkpointLink(uri: string, project: string): string | null {
  const m = /^gs:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) return null;
  return `https://console.cloud.google.com/storage/browser/${m[1]}/${m[2]!.replace(/\/?$/, '/')}?project=${encodeURIComponent(project)}`;
}

const link = (url: string, label: string): string => `<${url}|${label}>`;

// ---------------------------------------------------------------------------------------------
// Small messages

export function helpMessage(slash: string): ChatMessage {
  return {
    response_type: 'ephemeral',
    text: `ferry commands: help, status, versions, deploy, rollback, teardown plan`,
    blocks: [header('ferry — models from a bucket onto GPUs'), section(usage(slash))],
  };
}

export function usageMessage(problem: string, slash: string): ChatMessage {
  return {
    response_type: 'ephemeral',
    text: `I could not read that command: ${problem}`,
    blocks: [section(`:thinking_face: I could not read that command: ${problem}`), section(usage(slash))],
  };
}

export function noticeMessage(text: string, emoji = ':information_source:'): ChatMessage {
  return { response_type: 'ephemeral', text, blocks: [section(`${emoji} ${text}`)] };
}

export function ackMessage(input: { commandId: string; description: string; deploy: boolean }): ChatMessage {
  const what = input.deploy ? 'I will post here when the deploy request is taken, and again when the rollout ends.' : 'the answer follows in a moment.';
  const text = `Working on \`${esc(input.description)}\` — ${what}`;
  return { response_type: 'ephemeral', text, blocks: [section(`:hourglass_flowing_sand: ${text}`), context([`command \`${input.commandId}\``])] };
}

export function errorMessage(input: { code: string; message: string; hint?: string | undefined; commandId: string }): ChatMessage {
  const text = `ferry could not finish this command: ${input.message} (${input.code})`;
  return {
    response_type: 'ephemeral',
    text,
    blocks: [
      section(`:warning: ferry could not finish this command: ${esc(input.message)} (\`${input.code}\`)`),
      ...(input.hint ? [section(`*Next:* ${esc(input.hint)}`)] : []),
      context([`command \`${input.commandId}\` · try again, or use the CLI (\`ferry status\`)`]),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Rollouts

export const PHASE_EMOJI: Readonly<Record<string, string>> = {
  pending: ':hourglass_flowing_sand:',
  applying: ':arrows_counterclockwise:',
  progressing: ':arrows_counterclockwise:',
  verifying: ':mag:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  rolling_back: ':leftwards_arrow_with_hook:',
  rolled_back: ':leftwards_arrow_with_hook:',
  superseded: ':fast_forward:',
};

const PHASE_HEADLINE: Readonly<Record<string, string>> = {
  pending: 'Rollout queued',
  applying: 'Rollout started',
  progressing: 'Rollout in progress',
  verifying: 'Verifying the new version',
  succeeded: 'Rollout succeeded',
  failed: 'Rollout failed',
  rolling_back: 'Rolling back',
  rolled_back: 'Rolled back to the previous good version',
  superseded: 'Rollout superseded',
};

export type RolloutView = Pick<Rollout, 'id' | 'model' | 'version' | 'target' | 'phase' | 'reason' | 'message'> & {
  requestedBy?: string | undefined;
  previousGoodRolloutId?: string | null | undefined;
  /** The latest Deployment status message (progressing / rolling back). */
  detail?: string | undefined;
  /** gs:// URI of the version's checkpoint. */
  uri?: string | undefined;
  /** The promotion gate's verdict (issue #19), when the rollout had a gate and it ran. */
  gate?: GateSummary | undefined;
  /** describeColdStart of the new pods' load (issue #19). */
  coldStart?: string | undefined;
  warnings?: ReadonlyArray<{ code: string; message: string }> | undefined;
};

/** The gate's verdict as one section: counts, then each failing prompt with expected vs got. */
export function gateSection(g: GateSummary): string {
  const head = g.passed
    ? `:white_check_mark: *Gate passed* ${g.passedCount}/${g.total} on \`${esc(g.pod)}\``
    : `:x: *Gate failed* ${g.passedCount}/${g.total} (needs ${Math.round(g.threshold * 100)}%) on \`${esc(g.pod)}\``;
  const lines = g.failing.map(
    (f) =>
      `• \`${esc(f.name)}\`: ${esc(f.failure)}\n   expected: ${esc(f.expected)}\n   got: ${f.actual === null ? '_no answer_' : `\`${esc(f.actual.replaceAll('`', "'"))}\``}`,
  );
  if (g.more) lines.push(`…and ${g.more} more failing prompt${g.more === 1 ? '' : 's'} (\`ferry status --json\`)`);
  return [head, ...lines].join('\n');
}

function rolloutLinks(r: RolloutView, consoleProject: string | null): string[] {
  const out: string[] = [];
  const w = workloadLink(r.target);
  if (w) out.push(link(w, 'workload'));
  if (consoleProject) {
    out.push(link(logsLink(consoleProject, 'rolloutId', r.id), 'logs'));
    const c = r.uri ? checkpointLink(r.uri, consoleProject) : null;
    if (c) out.push(link(c, 'checkpoint'));
  }
  return out;
}

/** A rollout's state as a message: what, where, which phase and why, and where to look. */
export function rolloutMessage(r: RolloutView, opts: { consoleProject: string | null; headline?: string; note?: string; inChannel?: boolean }): ChatMessage {
  const emoji = PHASE_EMOJI[r.phase] ?? ':grey_question:';
  const headline = opts.headline ?? PHASE_HEADLINE[r.phase] ?? `Rollout ${r.phase}`;
  const text = `${headline}: ${r.model}@${r.version} → ${targetText(r.target)} (${r.phase}, ${r.reason})`;
  const blocks: Block[] = [
    header(`${headline}: ${r.model}@${r.version}`),
    fields([
      ['Model', esc(r.model)],
      ['Version', `\`${esc(r.version)}\``],
      ['Target', `\`${esc(targetText(r.target))}\``],
      ['Phase', `${emoji} ${r.phase}`],
      ['Reason', `\`${r.reason}\``],
      ['Rollout', `\`${r.id}\``],
    ]),
    section(esc(r.detail && r.detail !== r.message ? `${r.message}\n${r.detail}` : r.message)),
  ];
  if (r.gate) blocks.push(section(gateSection(r.gate)));
  if (r.coldStart) blocks.push(context([`:stopwatch: cold start: ${esc(r.coldStart)}`]));
  for (const w of r.warnings ?? []) blocks.push(section(`:warning: \`${w.code}\` ${esc(w.message)}`));
  if (opts.note) blocks.push(section(opts.note));
  const ctx = [
    ...(r.requestedBy ? [`requested by ${esc(r.requestedBy)}`] : []),
    ...(r.previousGoodRolloutId ? [`previous good: \`${r.previousGoodRolloutId}\``] : []),
    ...rolloutLinks(r, opts.consoleProject),
  ];
  if (ctx.length) blocks.push(context([ctx.join(' · ')]));
  return finish({ response_type: opts.inChannel === false ? 'ephemeral' : 'in_channel', text, blocks });
}

export function rejectedMessage(input: {
  reason: string;
  message: string;
  issues?: Array<{ path: string; message: string }>;
  description: string;
}): ChatMessage {
  const text = `Deploy request refused (${input.reason}): ${input.message}`;
  const issues = (input.issues ?? []).slice(0, 8).map((i) => `• \`${esc(i.path)}\`: ${esc(i.message)}`);
  return finish({
    response_type: 'in_channel',
    text,
    blocks: [
      header('Deploy request refused'),
      section(`:no_entry: \`${esc(input.description)}\` was refused: ${esc(input.message)} (\`${input.reason}\`)`),
      ...(issues.length ? [section(issues.join('\n'))] : []),
      context(["Nothing was changed on the cluster. Fix the request and run it again; `/ferry status <model>` shows the model's versions."]),
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Status

export interface StatusView {
  /** The model asked for, or null for the overview. */
  model: string | null;
  models: Array<{
    model: string;
    latestValid: string | null;
    /** Newest first. */
    versions: Array<{ version: string; status: string; note: string }>;
    moreVersions: number;
    /** Newest first. */
    rollouts: RolloutView[];
  }>;
  moreModels: number;
}

const VERSION_EMOJI: Readonly<Record<string, string>> = {
  valid: ':large_green_circle:',
  invalid: ':red_circle:',
  validating: ':hourglass_flowing_sand:',
  incomplete: ':white_circle:',
  superseded: ':fast_forward:',
};

export function statusMessage(view: StatusView, opts: { consoleProject: string | null }): ChatMessage {
  if (view.model !== null && view.models.length === 0) {
    return noticeMessage(`No model named \`${esc(view.model)}\`. Upload a checkpoint under gs://<bucket>/models/${esc(view.model)}/<version>/ first.`, ':mag:');
  }
  if (view.models.length === 0) return noticeMessage('No models yet. Upload one with `ferry upload <dir> gs://<bucket>/models/<model>/<version>`.', ':mag:');
  const blocks: Block[] = [header(view.model ? `ferry status: ${view.model}` : 'ferry status')];
  for (const m of view.models) {
    blocks.push({ type: 'divider' });
    blocks.push(section(`*${esc(m.model)}* — latest valid: ${m.latestValid ? `\`${esc(m.latestValid)}\`` : '—'}`));
    if (m.versions.length) {
      const lines = m.versions.map((v) => `${VERSION_EMOJI[v.status] ?? ''} \`${esc(v.version)}\` ${v.status}${v.note ? ` — ${esc(v.note)}` : ''}`);
      if (m.moreVersions) lines.push(`…and ${m.moreVersions} older`);
      blocks.push(section(lines.join('\n')));
    }
    if (m.rollouts.length) {
      const lines = m.rollouts.map((r) => {
        const logs = opts.consoleProject ? ` · ${link(logsLink(opts.consoleProject, 'rolloutId', r.id), 'logs')}` : '';
        const w = workloadLink(r.target);
        return `${PHASE_EMOJI[r.phase] ?? ''} \`${esc(r.version)}\` → \`${esc(targetText(r.target))}\` *${r.phase}* (\`${r.reason}\`) \`${r.id}\`${w ? ` · ${link(w, 'workload')}` : ''}${logs}`;
      });
      blocks.push(section(lines.join('\n')));
    } else {
      blocks.push(context(['no rollouts yet']));
    }
  }
  if (view.moreModels) blocks.push(context([`…and ${view.moreModels} more models: \`/ferry status <model>\` shows one`]));
  const text = view.models
    .map((m) => `${m.model}: latest valid ${m.latestValid ?? '—'}${m.rollouts[0] ? `, last rollout ${m.rollouts[0].phase}` : ''}`)
    .join('; ');
  return finish({ response_type: 'ephemeral', text: `ferry status — ${text}`, blocks });
}

// ---------------------------------------------------------------------------------------------
// Versions

export interface VersionsView {
  model: string;
  /** Newest first. */
  versions: Array<{
    version: string;
    status: string;
    createdAt: string;
    uri: string;
    facts: VersionFacts | null;
    /** Compared with the previous version that has facts; null when there is none. */
    comparedTo: string | null;
    changes: VersionChange[];
  }>;
  more: number;
}

function factsLine(f: VersionFacts): string {
  return [
    f.shards !== null ? `${f.shards} shard${f.shards === 1 ? '' : 's'}` : null,
    f.dtypes.length ? f.dtypes.join('/') : null,
    f.parameters !== null ? `${formatCount(f.parameters)} parameters` : null,
    f.tensorBytes !== null ? formatBytes(f.tensorBytes) : null,
  ]
    .filter(Boolean)
    .join(' · ');
}

export function versionsMessage(view: VersionsView | null, opts: { model: string; consoleProject: string | null }): ChatMessage {
  if (!view)
    return noticeMessage(`No model named \`${esc(opts.model)}\`. Upload a checkpoint under gs://<bucket>/models/${esc(opts.model)}/<version>/ first.`, ':mag:');
  if (view.versions.length === 0) return noticeMessage(`\`${esc(view.model)}\` has no versions yet.`, ':mag:');
  const blocks: Block[] = [header(`${view.model}: versions`)];
  for (const v of view.versions) {
    const c = opts.consoleProject ? checkpointLink(v.uri, opts.consoleProject) : null;
    const head = `${VERSION_EMOJI[v.status] ?? ''} *\`${esc(v.version)}\`* ${v.status} · uploaded ${v.createdAt.slice(0, 16).replace('T', ' ')} UTC${c ? ` · ${link(c, 'checkpoint')}` : ''}`;
    const facts = v.facts ? factsLine(v.facts) : 'not validated yet';
    const change =
      v.comparedTo === null
        ? ''
        : v.changes.length
          ? `\n*vs \`${esc(v.comparedTo)}\`:* ${v.changes.map((ch) => esc(ch.text)).join('; ')}`
          : `\n*vs \`${esc(v.comparedTo)}\`:* same shards, dtypes, parameters and bytes`;
    blocks.push(section(`${head}\n${esc(facts)}${change}`));
  }
  if (view.more) blocks.push(context([`…and ${view.more} older versions`]));
  const newest = view.versions[0]!;
  return finish({
    response_type: 'ephemeral',
    text: `${view.model}: ${view.versions.length + view.more} versions, newest ${newest.version} (${newest.status})`,
    blocks,
  });
}

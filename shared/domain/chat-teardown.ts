/**
 * The teardown run as a Slack message (Block Kit, pure): the scheduled summary posted to the
 * teardown webhook and the answer to `/ferry teardown plan`. Built from chat-blocks.ts's pieces,
 * inside the same limits.
 */
import { cacheId } from './names.ts';
import { formatDuration } from './teardown.ts';
import { MAX_SECTION, context, esc, fields, finish, header, section, type Block, type ChatMessage } from './chat-blocks.ts';

/** A slash command that cannot reach teardown (no FERRY_TEARDOWN_TOPIC in this ferry). */
export function teardownUnavailableMessage(): ChatMessage {
  const text = 'Teardown is not set up in this ferry (the chat worker has no FERRY_TEARDOWN_TOPIC), so there is no plan to show.';
  return {
    response_type: 'ephemeral',
    text,
    blocks: [
      section(`:construction: ${text}`),
      section(
        'Ask whoever runs ferry to deploy `teardownIdle` and give `onChatCommand` its topic; meanwhile `ferry teardown --dry-run` prints the plan from a shell.',
      ),
    ],
  };
}

const SKIP_TEXT: Readonly<Record<string, string>> = {
  NOT_MANAGED: 'not created or labelled by ferry',
  PROTECTED: 'protected by label',
  IN_USE_BY_DEPLOYMENT: 'in use by a running Deployment',
  IN_USE_BY_ROLLOUT: 'in use by a rollout in flight',
  ROLLOUT_IN_FLIGHT: 'rollout in flight',
  DEPLOYMENT_RUNNING: 'a Deployment is running',
  RECENTLY_ACTIVE: 'active within its idle TTL',
  ACTIVITY_UNKNOWN: 'activity unknown',
  NOT_ACTIVE_STATE: 'not in a state to tear down',
  ALREADY_TORN_DOWN: 'already torn down',
  POLICY_OFF: 'off by policy',
  MAX_ACTIONS: 'over the per-run limit (next run)',
};

const MAX_TEARDOWN_LINES = 40;
const OUTCOME_EMOJI: Readonly<Record<string, string>> = {
  planned: ':broom:',
  done: ':white_check_mark:',
  started: ':hourglass_flowing_sand:',
  skipped: ':leftwards_arrow_with_hook:',
  failed: ':x:',
};

const RESOURCE_TEXT = (r: { kind: string; bucket?: string; zone?: string; targetKey?: string; name?: string }): string =>
  r.kind === 'cache' ? `cache ${cacheId(r.bucket ?? '', r.zone ?? '')}` : r.kind === 'deployment' ? `deployment ${r.targetKey}` : `cluster ${r.name}`;

export interface TeardownView {
  id: string;
  dryRun: boolean;
  trigger: string;
  plan: {
    actions: Array<{ message: string; idleSeconds: number }>;
    skipped: Array<{ resource: { kind: string; bucket?: string; zone?: string; targetKey?: string; name?: string }; reason: string; message: string }>;
    policy: {
      idleTtlSeconds: { cache: number; deployment: number; cluster: number };
      clusterMode: string;
      scaleDeployments: boolean;
      maxActions: number;
      protectLabel: string;
    };
  };
  results: Array<{ outcome: string; message: string }>;
  inventoryWarnings: string[];
  summary: { planned: number; done: number; started: number; skipped: number; failed: number };
}

/**
 * A teardown run as Block Kit: a dry run (`/ferry teardown plan`) lists what would be torn down and
 * why, and why everything else is left alone; a real run (the scheduled summary) lists what was done,
 * skipped at re-check or failed.
 */
export function teardownMessage(run: TeardownView): ChatMessage {
  const s = run.summary;
  const n = run.plan.actions.length;
  const title = run.dryRun
    ? n === 0
      ? 'Teardown plan: nothing is idle'
      : `Teardown plan: ${n} action${n === 1 ? '' : 's'}`
    : `Teardown: ${s.done} done, ${s.started} started, ${s.skipped} skipped, ${s.failed} failed`;
  const lead = run.dryRun
    ? n === 0
      ? 'Nothing ferry manages has been idle past its TTL. Nothing was changed.'
      : 'What a teardown would do now. *Nothing was changed*: this is a dry run.'
    : `The ${run.trigger === 'schedule' ? 'scheduled ' : ''}teardown run finished.`;
  const lines = run.dryRun
    ? run.plan.actions.map((a) => `${OUTCOME_EMOJI['planned']} ${esc(a.message)}`)
    : run.results.map((r) => `${OUTCOME_EMOJI[r.outcome] ?? '•'} *${r.outcome}*: ${esc(r.message)}`);
  const blocks: Block[] = [header(title), section(lead)];
  // At most MAX_TEARDOWN_LINES lines, in sections of up to ~2900 characters (Block Kit's 3000), so
  // the reasons for what stays always fit in the message too.
  const shown =
    lines.length > MAX_TEARDOWN_LINES
      ? [...lines.slice(0, MAX_TEARDOWN_LINES), `…and ${lines.length - MAX_TEARDOWN_LINES} more: \`ferry teardown --dry-run\` lists them all`]
      : lines;
  let chunk = '';
  for (const line of shown) {
    if (chunk && chunk.length + line.length + 1 > MAX_SECTION - 100) {
      blocks.push(section(chunk));
      chunk = '';
    }
    chunk = chunk ? `${chunk}\n${line}` : line;
  }
  if (chunk) blocks.push(section(chunk));

  // Why everything else stays: counts per reason, with up to three examples each.
  const byReason = new Map<string, string[]>();
  for (const k of run.plan.skipped) byReason.set(k.reason, [...(byReason.get(k.reason) ?? []), RESOURCE_TEXT(k.resource)]);
  if (byReason.size) {
    blocks.push({ type: 'divider' });
    blocks.push(section(`*Left alone* (${run.plan.skipped.length})`));
    blocks.push(
      fields(
        [...byReason.entries()]
          .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
          .map(([reason, items]): [string, string] => [
            `${SKIP_TEXT[reason] ?? reason} (${items.length})`,
            esc(items.slice(0, 3).join(', ') + (items.length > 3 ? `, +${items.length - 3} more` : '')),
          ]),
      ),
    );
  }
  if (run.inventoryWarnings.length) {
    blocks.push(
      section(
        `:warning: *Could not read, so left alone:*\n${run.inventoryWarnings
          .slice(0, 5)
          .map((w) => `• ${esc(w)}`)
          .join('\n')}${run.inventoryWarnings.length > 5 ? `\n…and ${run.inventoryWarnings.length - 5} more` : ''}`,
      ),
    );
  }
  const p = run.plan.policy;
  const next = run.dryRun
    ? n === 0
      ? ''
      : ' · to carry it out: `ferry teardown`, or wait for the schedule'
    : s.failed
      ? ' · failures are retried by the next run; details in the run record'
      : '';
  blocks.push(
    context([
      `run \`${esc(run.id)}\` (teardownRuns) · idle TTLs: caches ${formatDuration(p.idleTtlSeconds.cache)}, clusters ${formatDuration(p.idleTtlSeconds.cluster)}` +
        `${p.scaleDeployments ? `, Deployments ${formatDuration(p.idleTtlSeconds.deployment)}` : ''} · clusters: ${p.clusterMode} · at most ${p.maxActions} per run · protect label \`${esc(p.protectLabel)}\`${next}`,
    ]),
  );
  const text = `${title}${lines.length ? `\n${lines.slice(0, 10).join('\n')}` : ''}`;
  return finish({ response_type: 'ephemeral', text, blocks });
}

/**
 * The Slack alert for drift (issue #20): a served version whose content is no longer the one ferry
 * validated. Pure: the drift in, Block Kit out (chat-blocks.ts helpers keep it inside Slack's limits).
 */
import { type ChatMessage, context, esc, fields, finish, header, section } from './chat-blocks.ts';
import type { ContentDiff } from './manifest.ts';

export interface DriftView extends ContentDiff {
  model: string;
  version: string;
  /** Target keys serving or rolling out the version. */
  targets: string[];
  /** Why, in words (integrity.ts checkContent). */
  why: string;
}

/** Files named per kind in the alert; the rest is counted. */
export const DRIFT_FILES_SHOWN = 10;

const list = (names: string[]): string => {
  const shown = names.slice(0, DRIFT_FILES_SHOWN).map((n) => `\`${esc(n)}\``);
  const more = names.length - shown.length;
  return shown.join(', ') + (more > 0 ? ` …and ${more} more` : '');
};

export function driftMessage(d: DriftView): ChatMessage {
  const name = `${d.model}/${d.version}`;
  const files: string[] = [];
  if (d.changed.length) files.push(`*Changed (${d.changed.length}):* ${list(d.changed)}`);
  if (d.added.length) files.push(`*Added (${d.added.length}):* ${list(d.added)}`);
  if (d.removed.length) files.push(`*Removed (${d.removed.length}):* ${list(d.removed)}`);
  if (!files.length) files.push(esc(d.why));
  const targets = d.targets.length ? d.targets.map((t) => `\`${esc(t)}\``).join(', ') : '(none)';
  return finish({
    text: `:warning: ${name} changed after validation (CONTENT_CHANGED); served by ${d.targets.join(', ') || 'no target'}`,
    blocks: [
      header(`:warning: ${name} changed after validation`),
      fields([
        ['Model', esc(d.model)],
        ['Version', esc(d.version)],
        ['Reason', '`CONTENT_CHANGED`'],
        ['Served by', targets],
      ]),
      section(files.join('\n')),
      section(
        '*What to do:* pods that start now read bytes ferry did not validate. Upload the checkpoint again as a new version and deploy that to the targets above; do not overwrite files of an uploaded version.',
      ),
      context([`Posted once per change; \`ferry status\` shows the flag until the content is the validated one again.`]),
    ],
  });
}

/**
 * README's "Reason codes" section, generated from the reason catalogues (shared/domain/reasons/).
 *
 *   npm run docs:reasons            rewrite the section between the markers in README.md
 *   npm run docs:reasons -- --check exit 1 (and say so) when README.md is not what would be written
 *
 * test/unit/domain/reasons.test.ts runs the check too, so a catalogue change without a README
 * update fails the unit tests.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATALOGUE_GROUPS, type CatalogueGroup } from '../../shared/domain/reasons/index.ts';

export const BEGIN = '<!-- reasons:begin -->';
export const END = '<!-- reasons:end -->';
export const README = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');

/** A table cell: pipes escaped; `<` and `>` outside code spans as entities (else Markdown reads them as HTML tags). */
const cell = (text: string): string =>
  text
    .replace(/\n/g, ' ')
    .split('`')
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`')
    .replace(/\|/g, '\\|');

function renderGroup(group: CatalogueGroup): string[] {
  const lines = [`### ${group.title}`, '', group.intro, ''];
  for (const section of group.sections) {
    lines.push(`#### ${section.title}`, '', '| Code | Meaning | What to do |', '| --- | --- | --- |');
    for (const [code, entry] of Object.entries(section.catalogue)) {
      lines.push(`| \`${code}\` | ${cell(entry.meaning)} | ${cell(entry.hint)} |`);
    }
    lines.push('');
  }
  return lines;
}

/** The text between the markers (markers excluded), newline-framed. */
export function renderReasons(groups: readonly CatalogueGroup[] = CATALOGUE_GROUPS): string {
  const lines = [
    '',
    '<!-- Generated from shared/domain/reasons/ by `npm run docs:reasons`; edit the catalogues, not this list. -->',
    '',
    ...groups.flatMap(renderGroup),
  ];
  return lines.join('\n');
}

/** The README's current section, or null when the markers are missing or out of order. */
export function currentSection(readme: string): string | null {
  const b = readme.indexOf(BEGIN);
  const e = readme.indexOf(END);
  if (b < 0 || e < 0 || e < b) return null;
  return readme.slice(b + BEGIN.length, e);
}

export function withSection(readme: string, section: string): string {
  const b = readme.indexOf(BEGIN);
  const e = readme.indexOf(END);
  if (b < 0 || e < 0 || e < b) throw new Error(`README.md has no ${BEGIN} … ${END} markers`);
  return readme.slice(0, b + BEGIN.length) + section + readme.slice(e);
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length) {
    process.stderr.write(`docs-reasons: unknown argument ${unknown.join(' ')}\nusage: npm run docs:reasons [-- --check]\n`);
    return 2;
  }
  const readme = readFileSync(README, 'utf8');
  const current = currentSection(readme);
  if (current === null) {
    process.stderr.write(`docs-reasons: README.md has no ${BEGIN} … ${END} markers; add them where the list belongs.\n`);
    return 1;
  }
  const wanted = renderReasons();
  if (current === wanted) {
    process.stdout.write('docs-reasons: README.md reason codes are up to date\n');
    return 0;
  }
  if (check) {
    process.stderr.write('docs-reasons: README.md reason codes differ from shared/domain/reasons/; run `npm run docs:reasons`\n');
    return 1;
  }
  writeFileSync(README, withSection(readme, wanted));
  process.stdout.write('docs-reasons: README.md reason codes rewritten\n');
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));

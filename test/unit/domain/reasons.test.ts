/**
 * The reason catalogues (shared/domain/reasons/): every entry says what it means and what to do,
 * no code is listed twice where codes meet, README's list is the generated one, and no code is
 * written in the source that the catalogues do not list (beyond what the types already prove).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ALL_SECTIONS, CATALOGUE_GROUPS } from '../../../shared/domain/reasons/index.ts';
import { FERRY_ERRORS, CACHE_ERRORS, CLUSTER_ERRORS, DEPLOY_ERRORS, GENERAL_ERRORS } from '../../../shared/domain/reasons/errors.ts';
import * as errorCatalogues from '../../../shared/domain/reasons/errors.ts';
import { DEPLOY_REFUSALS, REQUEST_PARSE_FAILURES } from '../../../shared/domain/reasons/deploy.ts';
import { ROLLBACK_REFUSALS, ROLLOUT_REASON_CATALOGUE, STATUS_REASON_CATALOGUE, POD_FAILURE_REASON_CATALOGUE } from '../../../shared/domain/reasons/rollout.ts';
import { ACTION_REASON_CATALOGUE, CONFIRM_REASONS, RUN_REASONS, SKIP_REASON_CATALOGUE, TICK_REFUSALS } from '../../../shared/domain/reasons/teardown.ts';
import { CHAT_ACCESS_REFUSALS, CHAT_OUTCOMES, CHAT_SKIPS } from '../../../shared/domain/reasons/chat.ts';
import { CLI_FAILURES } from '../../../shared/domain/reasons/cli.ts';
import { codesOf, isCodeOf, type Catalogue } from '../../../shared/domain/reasons/catalogue.ts';
import { FerryError, asFerryError } from '../../../shared/domain/errors.ts';
import { TERMINAL_PHASES } from '../../../shared/domain/rollout.ts';
import { FINDING_CODES } from '../../../shared/domain/findings.ts';
import { CACHE_ERROR_CODES } from '../../../shared/ports/cache-control.ts';
import { CLUSTER_DIRECTORY_ERROR_CODES } from '../../../shared/ports/cluster-directory.ts';
import { README, currentSection, renderReasons, withSection, BEGIN, END } from '../../../infra/local/docs-reasons.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const keys = (c: Catalogue): string[] => Object.keys(c);

/** Imperative verbs a hint's clause may start with ("Grant …", "A ferry bug: report it …"). */
const VERBS = new Set([
  'add',
  'ask',
  'check',
  'choose',
  'convert',
  'create',
  'delete',
  'deploy',
  'enable',
  'export',
  'find',
  'fix',
  'follow',
  'give',
  'grant',
  'inspect',
  'let',
  'lower',
  'name',
  'pass',
  'put',
  'raise',
  'read',
  'remove',
  'rename',
  'report',
  'resolve',
  'run',
  'see',
  'send',
  'set',
  'start',
  'upload',
  'use',
  'wait',
  'point',
  'replace',
  'copy',
  'download',
]);

test('every catalogue entry has a one-line meaning and a hint that says what to do next', () => {
  let entries = 0;
  for (const section of ALL_SECTIONS) {
    for (const [code, { meaning, hint }] of Object.entries(section.catalogue)) {
      entries++;
      const where = `${section.name}.${code}`;
      for (const [what, text] of [
        ['meaning', meaning],
        ['hint', hint],
      ] as const) {
        assert.equal(typeof text, 'string', `${where}: ${what}`);
        assert.ok(text.trim().length >= 10, `${where}: ${what} is too short to say anything: ${JSON.stringify(text)}`);
        assert.ok(!/\n/.test(text), `${where}: ${what} is one line`);
        assert.ok(/[.)]$/.test(text), `${where}: ${what} ends as a sentence: ${JSON.stringify(text)}`);
        assert.ok(!/\b(TODO|TBD|FIXME)\b/.test(text), `${where}: ${what} is a placeholder`);
      }
      assert.notEqual(hint, meaning, `${where}: the hint repeats the meaning`);
      const clauses = hint.split(/[:;,.]\s+|\bthen\s+|\bor\s+/).map((c) =>
        c
          .trim()
          .split(/\s+/)[0]!
          .toLowerCase()
          .replace(/[^a-z]/g, ''),
      );
      const says = hint.startsWith('Nothing to do') || clauses.some((w) => VERBS.has(w));
      assert.ok(says, `${where}: the hint does not say what to do (no clause starts with an imperative, nor "Nothing to do"): ${JSON.stringify(hint)}`);
    }
  }
  assert.ok(entries > 150, `only ${entries} entries`);
});

test('codes: errors and refusals are UPPER_SNAKE; rollout reasons are Kubernetes CamelCase', () => {
  const kube = new Set([...keys(ROLLOUT_REASON_CATALOGUE), ...keys(STATUS_REASON_CATALOGUE)]);
  for (const section of ALL_SECTIONS) {
    for (const code of keys(section.catalogue)) {
      if (kube.has(code)) assert.match(code, /^[A-Z][a-zA-Z]+$/, `${section.name}.${code}`);
      else assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, `${section.name}.${code}`);
    }
  }
});

/** Catalogues whose codes meet in one field: none of them may list a code another lists. */
const disjoint = (name: string, parts: Record<string, Catalogue>): void => {
  const seen = new Map<string, string>();
  for (const [part, catalogue] of Object.entries(parts)) {
    for (const code of keys(catalogue)) {
      assert.ok(!seen.has(code), `${name}: ${code} is in both ${seen.get(code)} and ${part}`);
      seen.set(code, part);
    }
  }
};

test('no duplicate codes within a catalogue, nor among the catalogues one field takes its codes from', () => {
  // FERRY_ERRORS spreads the feature catalogues: a code in two would be silently overwritten.
  const features = Object.fromEntries(Object.entries(errorCatalogues).filter(([n]) => n.endsWith('_ERRORS') && n !== 'FERRY_ERRORS')) as Record<
    string,
    Catalogue
  >;
  disjoint('FerryError codes', features);
  assert.equal(
    keys(FERRY_ERRORS).length,
    Object.values(features).reduce((n, c) => n + keys(c).length, 0),
  );
  // A refused deploy request's reason.
  disjoint('deploy rejections', { REQUEST_PARSE_FAILURES, DEPLOY_REFUSALS, FERRY_ERRORS });
  // A chat command's outcome code.
  disjoint('chat outcomes', { CHAT_OUTCOMES, CHAT_ACCESS_REFUSALS, REQUEST_PARSE_FAILURES, DEPLOY_REFUSALS, ROLLBACK_REFUSALS, FERRY_ERRORS });
  // A teardown action's reason.
  disjoint('teardown results', { ACTION_REASON_CATALOGUE, SKIP_REASON_CATALOGUE, CONFIRM_REASONS, RUN_REASONS, FERRY_ERRORS });
  disjoint('teardown tick refusals', { TICK_REFUSALS, FERRY_ERRORS });
  disjoint('CLI failures', { CLI_FAILURES, FERRY_ERRORS });
  disjoint('chat skips', { CHAT_SKIPS, FERRY_ERRORS });
  // The rollout catalogues embed the pod failure reasons (once each).
  for (const c of [ROLLOUT_REASON_CATALOGUE, STATUS_REASON_CATALOGUE]) {
    for (const code of keys(POD_FAILURE_REASON_CATALOGUE)) assert.ok(code in c, code);
  }
});

/**
 * One code string, two catalogues. Each is a different field of a different feature, so nothing
 * reads one for the other; listed here so a new collision is a decision, not an accident.
 */
const SHARED_CODES: Record<string, string> = {
  CONFIG_INVALID: "FerryError (ferry's own settings) and a validation finding (the checkpoint's config.json)",
  TOO_LARGE: 'a refused deploy request (body > 64 KiB) and a Slack signature failure (body > 64 KiB)',
  MISSING: 'a Slack signature failure (header or secret missing) and a chat skip (command record gone)',
  RolloutComplete: 'a Deployment status reason and the rollout reason it leads to',
  ProgressDeadlineExceeded: 'a Deployment status reason and the rollout reason it leads to',
  ...Object.fromEntries(keys(POD_FAILURE_REASON_CATALOGUE).map((c) => [c, 'a Deployment status reason and the rollout reason it leads to'])),
};

test('a code string in two catalogues is one of the known, documented pairs', () => {
  const where = new Map<string, string[]>();
  for (const section of ALL_SECTIONS) for (const code of keys(section.catalogue)) where.set(code, [...(where.get(code) ?? []), section.name]);
  const shared = [...where].filter(([, names]) => names.length > 1);
  for (const [code, names] of shared)
    assert.ok(code in SHARED_CODES, `${code} is in ${names.join(' and ')}: give it one meaning, or add it to SHARED_CODES with why`);
  assert.deepEqual(shared.map(([c]) => c).sort(), Object.keys(SHARED_CODES).sort(), 'SHARED_CODES lists a code that is no longer shared');
});

test('README lists the reason codes exactly as the catalogues generate them', () => {
  const readme = readFileSync(README, 'utf8');
  const section = currentSection(readme);
  assert.ok(section !== null, `README.md has the ${BEGIN} … ${END} markers`);
  assert.equal(section, renderReasons(), 'README.md is out of date: run `npm run docs:reasons`');
  for (const s of ALL_SECTIONS) for (const code of keys(s.catalogue)) assert.ok(section.includes(`| \`${code}\` |`), code);
  // The generator rewrites only between the markers.
  const rewritten = withSection(`a\n${BEGIN}old${END}\nb`, 'new');
  assert.equal(rewritten, `a\n${BEGIN}new${END}\nb`);
  assert.equal(CATALOGUE_GROUPS.flatMap((g) => g.sections).length, ALL_SECTIONS.length);
});

test('a FerryError takes its hint from the catalogue unless it brings its own', () => {
  const e = new FerryError('STATE_FORBIDDEN', 'refused');
  assert.equal(e.hint, FERRY_ERRORS.STATE_FORBIDDEN.hint);
  assert.equal(e.toJSON()['hint'], FERRY_ERRORS.STATE_FORBIDDEN.hint);
  assert.equal(new FerryError('STATE_FORBIDDEN', 'refused', { hint: 'grant roles/datastore.user' }).hint, 'grant roles/datastore.user');
  assert.equal(asFerryError(new Error('boom')).hint, GENERAL_ERRORS.INTERNAL.hint);
  assert.equal(asFerryError('boom', 'RENDER_FAILED').hint, DEPLOY_ERRORS.RENDER_FAILED.hint);
  // A code smuggled past the type still gets a hint, not a crash.
  assert.equal(new FerryError('NOT_A_CODE' as never, 'x').hint, GENERAL_ERRORS.INTERNAL.hint);
});

test('the code lists the schemas and ports use are the catalogues, in order', () => {
  assert.deepEqual([...CACHE_ERROR_CODES], keys(CACHE_ERRORS));
  for (const c of CLUSTER_DIRECTORY_ERROR_CODES) assert.ok(c in CLUSTER_ERRORS, c);
  assert.ok(FINDING_CODES.includes('CONFIG_INVALID'));
  const isRefusal = isCodeOf(DEPLOY_REFUSALS);
  assert.ok(isRefusal('UNKNOWN_MODEL'));
  assert.ok(!isRefusal('toString'), 'inherited names are not codes');
  assert.deepEqual(codesOf({ B: { meaning: 'm', hint: 'h' }, A: { meaning: 'm', hint: 'h' } }), ['B', 'A']);
  // A chat deploy that ends records ROLLOUT_<PHASE> (shared/app/chat-commands.ts).
  for (const phase of TERMINAL_PHASES) assert.ok(`ROLLOUT_${phase.toUpperCase()}` in CHAT_OUTCOMES, phase);
});

// ---------------------------------------------------------------------------------------------
// Source scan: belt and braces beyond the types (a cast, a `string`-typed field, a log line).

const SCANNED = ['shared', 'functions', 'infra/local'];
/** Produce Kubernetes' own reasons (a simulated kubelet and node), not ferry codes. */
const NOT_FERRY = new Set(['infra/local/node-simulator.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.d.ts'))
    .map((d) => relative(ROOT, join(d.parentPath, d.name)))
    .filter((f) => !f.split('/').includes('node_modules'));
}

const ALL_CODES = new Set(ALL_SECTIONS.flatMap((s) => keys(s.catalogue)));
const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/** Code literals handed to a FerryError (directly, as asFerryError's fallback, or via the port helpers). */
const ERROR_CODE_SITES = [
  /new\s+FerryError\(\s*'([^']*)'/g,
  /asFerryError\([^,()]*(?:\([^()]*\))?[^,()]*,\s*'([^']*)'/g,
  /\b(?:cacheError|fakeClusterError|directoryError)\(\s*'([^']*)'/g,
];
/** Reason and code literals written into results, records and logs. */
const REASON_SITES = [/\b(?:reason|code)\s*:\s*'([^']*)'/g, /\b(?:done|failed)\(\s*'([A-Z][A-Z_]+)'/g];

test('scan: every code literal passed to a FerryError is in the error catalogue', () => {
  const found: string[] = [];
  const missing: string[] = [];
  for (const file of SCANNED.flatMap(sourceFiles)) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const re of ERROR_CODE_SITES) {
      for (const m of text.matchAll(re)) {
        found.push(m[1]!);
        if (!(m[1]! in FERRY_ERRORS)) missing.push(`${file}:${lineOf(text, m.index)}: ${m[1]}`);
      }
    }
  }
  assert.deepEqual(missing, [], 'FerryError codes not in shared/domain/reasons/errors.ts');
  assert.ok(found.length > 80, `the scan found only ${found.length} sites; did the patterns stop matching?`);
});

test('scan: every reason or code literal ferry writes is in a catalogue', () => {
  const missing: string[] = [];
  let found = 0;
  for (const file of SCANNED.flatMap(sourceFiles)) {
    if (NOT_FERRY.has(file)) continue;
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const re of REASON_SITES) {
      for (const m of text.matchAll(re)) {
        const code = m[1]!;
        // zod's issue codes (`code: 'custom'`) and other lowercase values are not ferry codes.
        if (!/^[A-Z]/.test(code)) continue;
        found++;
        if (!ALL_CODES.has(code)) missing.push(`${file}:${lineOf(text, m.index)}: ${code}`);
      }
    }
  }
  assert.deepEqual(missing, [], 'reason codes not in any catalogue under shared/domain/reasons/');
  assert.ok(found > 80, `the scan found only ${found} sites; did the patterns stop matching?`);
});

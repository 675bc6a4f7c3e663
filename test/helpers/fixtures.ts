/**
 * The reference safetensors corpus shipped in test/fixtures/safetensors (see its README.md for
 * provenance; FERRY_FIXTURES_DIR points the tests at another corpus of the same layout) and a way
 * to materialise its `cases/<case>/` variants: copy the base directory, delete `removed`, copy `files/*`.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = path.resolve(
  process.env['FERRY_FIXTURES_DIR'] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/safetensors'),
);

export interface ExpectedCase {
  valid: boolean;
  layer: 'file' | 'checkpoint';
  reason: string;
  tensors: number | null;
  parameters: number | null;
  tensor_bytes: number | null;
  files?: string[];
}

export function expectedCases(): Record<string, ExpectedCase> {
  const raw = JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'expected.json'), 'utf8')) as { cases: Record<string, ExpectedCase> };
  return raw.cases;
}

/** A directory holding the case's files: the fixture directory itself for base cases, else a temp copy. */
export function materialiseCase(name: string): { dir: string; cleanup: () => void } {
  const direct = path.join(FIXTURES_DIR, name);
  if (existsSync(direct)) return { dir: direct, cleanup: () => {} };
  const caseDir = path.join(FIXTURES_DIR, 'cases', name);
  const spec = JSON.parse(readFileSync(path.join(caseDir, 'case.json'), 'utf8')) as { base: string; removed?: string[] };
  const dir = mkdtempSync(path.join(tmpdir(), `ferry-case-${name}-`));
  cpSync(path.join(FIXTURES_DIR, spec.base), dir, { recursive: true });
  for (const r of spec.removed ?? []) rmSync(path.join(dir, r), { force: true });
  const files = path.join(caseDir, 'files');
  if (existsSync(files)) for (const f of readdirSync(files)) cpSync(path.join(files, f), path.join(dir, f), { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every file of a materialised case as (relative name, bytes). */
export function caseFiles(dir: string): Array<{ name: string; bytes: Buffer }> {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => {
      const full = path.join(d.parentPath, d.name);
      return { name: path.relative(dir, full).split(path.sep).join('/'), bytes: readFileSync(full) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

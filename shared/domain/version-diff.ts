/**
 * What changed between two versions of a model, from their validation summaries (shards, dtypes,
 * parameters, tensor bytes). Pure; used by `/ferry versions` and anything else that compares.
 */
import type { VersionDoc } from './version.ts';

export interface VersionFacts {
  shards: number | null;
  dtypes: string[];
  parameters: number | null;
  /** Bytes of tensor data (what the GPUs load). */
  tensorBytes: number | null;
}

export const VERSION_FACTS = ['shards', 'dtypes', 'parameters', 'bytes'] as const;
export type VersionFact = (typeof VERSION_FACTS)[number];

export interface VersionChange {
  fact: VersionFact;
  /** Human text, e.g. "shards 4 → 2", "dtypes +F8_E4M3 −BF16", "bytes 15.0 GiB → 7.5 GiB (−50.0%)". */
  text: string;
}

const num = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/**
 * The comparable facts of a version's summary, or null when it has none (not validated yet).
 * (VersionSummary already normalised stored counts to numbers.)
 */
export function versionFacts(summary: VersionDoc['summary']): VersionFacts | null {
  if (!summary) return null;
  return {
    shards: num(summary.shards),
    dtypes: summary.dtypes ?? [],
    parameters: num(summary.parameters),
    tensorBytes: num(summary.tensorBytes),
  };
}

/** Changes from `prev` to `next`, in VERSION_FACTS order; empty when nothing comparable changed. */
export function diffVersions(prev: VersionFacts, next: VersionFacts): VersionChange[] {
  const out: VersionChange[] = [];
  if (prev.shards !== null && next.shards !== null && prev.shards !== next.shards) {
    out.push({ fact: 'shards', text: `shards ${prev.shards} → ${next.shards}` });
  }
  const added = next.dtypes.filter((d) => !prev.dtypes.includes(d));
  const removed = prev.dtypes.filter((d) => !next.dtypes.includes(d));
  if (added.length || removed.length) {
    out.push({ fact: 'dtypes', text: `dtypes ${[...added.map((d) => `+${d}`), ...removed.map((d) => `−${d}`)].join(' ')}` });
  }
  if (prev.parameters !== null && next.parameters !== null && prev.parameters !== next.parameters) {
    out.push({
      fact: 'parameters',
      text: `parameters ${formatCount(prev.parameters)} → ${formatCount(next.parameters)}${pct(prev.parameters, next.parameters)}`,
    });
  }
  if (prev.tensorBytes !== null && next.tensorBytes !== null && prev.tensorBytes !== next.tensorBytes) {
    out.push({ fact: 'bytes', text: `bytes ${formatBytes(prev.tensorBytes)} → ${formatBytes(next.tensorBytes)}${pct(prev.tensorBytes, next.tensorBytes)}` });
  }
  return out;
}

function pct(a: number, b: number): string {
  if (a === 0) return '';
  const p = ((b - a) / a) * 100;
  return ` (${p >= 0 ? '+' : '−'}${Math.abs(p).toFixed(1)}%)`;
}

/** 1536 → "1.5 KiB"; exact bytes below 1 KiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** 8030261248 → "8.03B"; small counts exactly. */
export function formatCount(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e12) return `${(n / 1e12).toFixed(2)}T`;
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

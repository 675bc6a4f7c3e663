/**
 * Benchmark: peak memory of validating the largest legal safetensors headers (issue #23: a
 * 1M-tensor header took the host to 1.9 GB, a 95 MB `__metadata__` added 461 MB; the functions have
 * 512 MiB). Each case runs readShardHeader — the path onCheckpointUpload takes — in a fresh Node
 * process over an in-memory store holding the real bytes, and reports that process's peak RSS
 * (VmHWM, reset after the fixture is built; the fixture's own bytes stay in the baseline) and wall time.
 *
 *   npm run bench -- headers
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CASES = [
  { name: 'dense-47k-tensors (3.9 MB, the largest admitted)', mode: 'tensors', count: 47_000 },
  { name: 'metadata-3.9MB (admitted)', mode: 'meta', count: 3_900_000 },
  { name: 'dense-1M-tensors (84 MB)', mode: 'tensors', count: 1_000_000 },
  { name: 'metadata-95MB', mode: 'meta', count: 95_000_000 },
] as const;

export interface HeaderCase {
  name: string;
  headerMB: number;
  verdict: string;
  wallMs: number;
  peakRssMiB: number;
  baselineRssMiB: number;
}

export async function run(): Promise<HeaderCase[]> {
  const out: HeaderCase[] = [];
  for (const c of CASES) {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'child', c.mode, String(c.count)], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (r.status !== 0) throw new Error(`headers bench ${c.name} failed: ${r.stderr}`);
    out.push({ name: c.name, ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<HeaderCase, 'name'>) });
  }
  return out;
}

function hwmMiB(): number {
  const s = readFileSync('/proc/self/status', 'utf8');
  return Math.round(Number(/^VmHWM:\s+(\d+)/m.exec(s)?.[1] ?? 0) / 1024);
}

/** The whole file's bytes (header and data); the header text is garbage once this returns. */
function fixture(mode: string, count: number): Uint8Array {
  const enc = new TextEncoder();
  let header: Uint8Array;
  let dataBytes = 2;
  if (mode === 'tensors') {
    const parts: string[] = [];
    for (let i = 0; i < count; i++) parts.push(`"model.layers.${i}.weight":{"dtype":"F16","shape":[1],"data_offsets":[${i * 2},${i * 2 + 2}]}`);
    header = enc.encode(`{${parts.join(',')}}`);
    dataBytes = count * 2;
  } else {
    header = enc.encode(`{"__metadata__":{"notes":"${'x'.repeat(count)}"},"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`);
  }
  const bytes = new Uint8Array(8 + header.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  return bytes;
}

async function child(mode: string, count: number): Promise<void> {
  const { readShardHeader } = await import('../../shared/app/validate-checkpoint.ts');
  const bytes = fixture(mode, count);
  const store = {
    location: 'mem://',
    stats: () => ({ requests: 0, bytesRead: 0 }),
    list: async () => [],
    read: async (_o: string, a: number, b: number) => bytes.slice(a, b),
  };
  // Peak RSS of the validation alone: drop the fixture's garbage, then reset VmHWM (clear_refs "5",
  // Linux ≥ 4.0) so building the fixture does not count.
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  const baselineRssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  const t0 = performance.now();
  const r = await readShardHeader(store as never, 'x/model.safetensors', { name: 'model.safetensors', size: bytes.length, generation: '1' });
  const wallMs = Math.round(performance.now() - t0);
  process.stdout.write(
    JSON.stringify({
      headerMB: Math.round((r.headerBytes / 1e6) * 10) / 10,
      verdict: r.ok ? 'valid' : r.findings.map((f) => f.code).join(','),
      wallMs,
      peakRssMiB: hwmMiB(),
      baselineRssMiB,
    }) + '\n',
  );
}

if (process.argv[2] === 'child') await child(process.argv[3]!, Number(process.argv[4]));

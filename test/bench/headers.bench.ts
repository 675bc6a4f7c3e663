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
  // model.safetensors.index.json, through readIndex (the path of validation and of the upload gate).
  { name: 'index: Kimi-K2-shaped (139,583 tensors, 62 shards)', mode: 'index-kimi', count: 0 },
  { name: 'index: densest admitted (short names, at the cap)', mode: 'index-dense', count: 0 },
  { name: 'index: densest, 64 MB (the old cap)', mode: 'index-dense', count: 64 * 1024 * 1024 },
  // ferry.manifest.json as `ferry upload` writes it (every entry with a sha256), at its cap.
  { name: 'manifest: at the cap (8 MB)', mode: 'manifest', count: 0 },
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

/** Tensor names of a Kimi-K2-shaped checkpoint (DeepSeek-V3 layout, 61 layers, the first dense, 384 experts, FP8 with weight_scale_inv). */
function kimiTensors(): string[] {
  const names = ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight'];
  const lin = (p: string) => [`${p}.weight`, `${p}.weight_scale_inv`];
  for (let l = 0; l < 61; l++) {
    const a = `model.layers.${l}.self_attn`;
    names.push(...lin(`${a}.q_a_proj`), `${a}.q_a_layernorm.weight`, ...lin(`${a}.q_b_proj`), ...lin(`${a}.kv_a_proj_with_mqa`));
    names.push(`${a}.kv_a_layernorm.weight`, ...lin(`${a}.kv_b_proj`), ...lin(`${a}.o_proj`));
    names.push(`model.layers.${l}.input_layernorm.weight`, `model.layers.${l}.post_attention_layernorm.weight`);
    const m = `model.layers.${l}.mlp`;
    const ffn = (p: string) => ['gate_proj', 'up_proj', 'down_proj'].flatMap((x) => lin(`${p}.${x}`));
    if (l === 0) names.push(...ffn(m));
    else {
      for (let e = 0; e < 384; e++) names.push(...ffn(`${m}.experts.${e}`));
      names.push(...ffn(`${m}.shared_experts`), `${m}.gate.weight`, `${m}.gate.e_score_correction_bias`);
    }
  }
  return names;
}

/**
 * An index as huggingface_hub writes it (`json.dump(index, f, indent=2)`). 'index-kimi': the
 * Kimi-K2-shaped one. 'index-dense': the most entries per byte (short tensor names, one short
 * shard name), `bytes` long (default MAX_INDEX_BYTES), padded with whitespace to exactly that.
 */
function indexFixture(mode: string, bytes: number, cap: number): Uint8Array {
  const wm: Record<string, string> = {};
  if (mode === 'index-kimi') {
    const names = kimiTensors().sort();
    names.forEach((n, i) => (wm[n] = `model-${String(1 + Math.floor((i * 62) / names.length)).padStart(5, '0')}-of-000062.safetensors`));
    return new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 1_029_000_000_000 }, weight_map: wm }, null, 2) + '\n');
  }
  const size = bytes || cap;
  const per = '    "t0000000": "a.safetensors",\n'.length;
  for (let i = 0; i < Math.floor((size - 64) / per); i++) wm[`t${String(i).padStart(7, '0')}`] = 'a.safetensors';
  const text = new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: wm }, null, 2));
  const out = new Uint8Array(size).fill(0x20);
  out.set(text.subarray(0, size));
  return out;
}

async function indexChild(mode: string, count: number): Promise<void> {
  const { readIndex } = await import('../../shared/app/validate-checkpoint.ts');
  const { MAX_INDEX_BYTES } = await import('../../shared/domain/checkpoint.ts');
  const bytes = indexFixture(mode, count, MAX_INDEX_BYTES);
  const store = {
    location: 'mem://',
    stats: () => ({ requests: 0, bytesRead: 0 }),
    list: async () => [],
    read: async (_o: string, a: number, b: number) => bytes.slice(a, b),
  };
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  const baselineRssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  const t0 = performance.now();
  const r = await readIndex(store as never, 'x/model.safetensors.index.json', { size: bytes.length, generation: '1' });
  const wallMs = Math.round(performance.now() - t0);
  process.stdout.write(
    JSON.stringify({
      headerMB: Math.round((bytes.length / 1e6) * 10) / 10,
      verdict: r === 'too-large' ? 'INDEX_TOO_LARGE_TO_VALIDATE' : r.ok ? `valid (${r.weightMap.size} tensors)` : r.findings.map((f) => f.code).join(','),
      wallMs,
      peakRssMiB: hwmMiB(),
      baselineRssMiB,
    }) + '\n',
  );
}

/** The largest manifest admitted: entries as `ferry upload` writes them (indent 1, with sha256) up to MAX_MANIFEST_BYTES. */
async function manifestChild(): Promise<void> {
  const { MAX_MANIFEST_BYTES, parseManifest } = await import('../../shared/domain/manifest.ts');
  const entry = (i: number) => ({
    name: `model-${String(i).padStart(5, '0')}-of-99999.safetensors`,
    size: 4_999_999_999,
    crc32c: 'AAAAAA==',
    sha256: 'a'.repeat(64),
  });
  const manifest = (n: number) =>
    JSON.stringify(
      {
        apiVersion: 'ferry/manifest/v1',
        tool: { name: 'ferry', version: '0.1.0' },
        uploader: 'bench',
        createdAt: new Date().toISOString(),
        files: Array.from({ length: n }, (_, i) => entry(i + 1)),
      },
      null,
      1,
    );
  const per = manifest(1000).length / 1000;
  let n = Math.floor(MAX_MANIFEST_BYTES / per);
  while (manifest(n).length > MAX_MANIFEST_BYTES) n -= 100;
  const bytes = new TextEncoder().encode(manifest(n));
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  const baselineRssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  const t0 = performance.now();
  const r = parseManifest(bytes);
  const wallMs = Math.round(performance.now() - t0);
  process.stdout.write(
    JSON.stringify({
      headerMB: Math.round((bytes.length / 1e6) * 10) / 10,
      verdict: r.ok ? `valid (${r.manifest.files.length} files)` : r.message,
      wallMs,
      peakRssMiB: hwmMiB(),
      baselineRssMiB,
    }) + '\n',
  );
}

async function child(mode: string, count: number): Promise<void> {
  if (mode === 'manifest') return manifestChild();
  if (mode.startsWith('index-')) return indexChild(mode, count);
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

/**
 * The verdict on a whole checkpoint (pure): from its files, index, config and parsed shard headers,
 * whether vLLM can load it (findings with reason codes) and its summary.
 */
import { error, warning, hasErrors, type Finding, type FindingCode } from './findings.ts';
import { DTYPES, type ParsedShardHeader } from './safetensors-format.ts';
import {
  CONFIG_FILE,
  type CheckpointFile,
  CheckpointSummary,
  INDEX_FILE,
  type Layout,
  MAX_CONFIG_BYTES,
  MAX_FINDINGS_PER_CODE,
  MAX_INDEX_BYTES,
  ModelConfigSummary,
  SINGLE_FILE,
  TOKENIZER_FILES,
  detectLayout,
  isSafetensors,
  isTopLevel,
} from './checkpoint.ts';
import { type ParsedIndex, list, parseConfig, parseShardName } from './checkpoint-files.ts';
import { IMAGE_VARIANTS, PINNED_STREAMERS, describeStreamer, streamedSafetensors } from './streamer-listing.ts';

// ───────────────────────────── the checkpoint ─────────────────────────────

export interface ShardHeaderInput {
  /** Relative name of the shard. */
  file: string;
  size: number;
  header: ParsedShardHeader;
}

export interface CheckpointInput {
  files: readonly CheckpointFile[];
  /** The parsed index, when the layout is sharded and the index was read. */
  index?: ParsedIndex | undefined;
  /** config.json content, when present and read. */
  config?: string | Uint8Array | undefined;
  /** Parsed headers of the shards returned by `shardsToRead`. */
  shards: readonly ShardHeaderInput[];
}

export interface CheckpointEvaluation {
  ok: boolean;
  findings: Finding[];
  summary: CheckpointSummary;
}

/** Every checkpoint-level rule plus the shards' own findings, and the derived summary. */
export function evaluateCheckpoint(input: CheckpointInput): CheckpointEvaluation {
  const { files, index, shards } = input;
  const byName = new Map(files.map((f) => [f.name, f]));
  const layout = detectLayout(files);
  const findings: Finding[] = [];
  const topSafetensors = files.filter((f) => isTopLevel(f.name) && isSafetensors(f.name)).map((f) => f.name);

  // Layout.
  if (layout === 'none') {
    const numbered = topSafetensors.filter((n) => parseShardName(n) !== undefined);
    if (numbered.length > 0) {
      findings.push(error('INDEX_MISSING', INDEX_FILE, `found sharded weights (${list(numbered)}) but no ${INDEX_FILE} that maps tensors to them`));
    } else {
      findings.push(
        error(
          'WEIGHTS_MISSING',
          SINGLE_FILE,
          topSafetensors.length > 0
            ? `neither ${SINGLE_FILE} nor ${INDEX_FILE} is present (found ${list(topSafetensors)})`
            : `no weights: neither ${SINGLE_FILE} nor ${INDEX_FILE} is present`,
        ),
      );
    }
  } else if (layout === 'single') {
    for (const n of topSafetensors.filter((n) => n !== SINGLE_FILE)) {
      findings.push(
        warning(
          'SHARD_NOT_IN_INDEX',
          n,
          `there is no index, so vLLM will also load this file next to ${SINGLE_FILE}; remove it unless it belongs to the model`,
        ),
      );
    }
  }

  // Index.
  const sharded = layout === 'sharded';
  const indexFile = byName.get(INDEX_FILE);
  if (sharded && indexFile && indexFile.size > MAX_INDEX_BYTES) {
    findings.push(
      error(
        'INDEX_TOO_LARGE_TO_VALIDATE',
        INDEX_FILE,
        `the index is ${indexFile.size} bytes, above ferry's ${MAX_INDEX_BYTES}-byte validation limit (the largest real indexes are ~14 MB), so it was not read`,
      ),
    );
  }
  const usableIndex = sharded && index !== undefined && index.weightMap.size > 0 ? index : undefined;
  if (sharded && index) findings.push(...index.findings);
  if (usableIndex) {
    const referenced = new Set(usableIndex.shardNames);
    const counts = new Map<string, number>();
    for (const s of usableIndex.weightMap.values()) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const s of usableIndex.shardNames) {
      if (!byName.has(s)) {
        const k = counts.get(s) ?? 0;
        findings.push(error('SHARD_MISSING', s, `the index maps ${k} tensor${k === 1 ? '' : 's'} to this shard, but it is not in the checkpoint`));
      }
    }
    // vLLM's Run:ai loader streams every listed *.safetensors of a gs:// model and filters nothing
    // by the index (docs/UPSTREAM.md V1, V2; streamer-listing.ts): a stray top-level file is loaded
    // on top of the indexed shards by both pinned images.
    for (const n of topSafetensors) {
      if (!referenced.has(n)) {
        findings.push(
          error(
            'SHARD_NOT_IN_INDEX',
            n,
            `the index does not name this file, but vLLM's Run:ai streamer loads every *.safetensors in the folder, the index filters nothing; delete ${n} or move it out of the checkpoint folder, or upload an index that names it`,
          ),
        );
      }
    }
  }
  findings.push(
    ...nestedSafetensorsFindings(
      files.map((f) => f.name),
      layout,
      usableIndex,
    ),
  );

  // Shards' own findings.
  for (const s of shards) findings.push(...s.header.findings);

  // Cross-shard consistency.
  const namesByShard = new Map<string, ReadonlySet<string>>();
  for (const s of shards) if (s.header.tensorNames) namesByShard.set(s.file, new Set(s.header.tensorNames));
  const holders = new Map<string, string[]>();
  for (const s of shards) {
    for (const t of s.header.tensorNames ?? []) {
      const h = holders.get(t);
      if (h) h.push(s.file);
      else holders.set(t, [s.file]);
    }
  }
  for (const [tensor, files] of holders) {
    if (files.length > 1) {
      const mapped = usableIndex?.weightMap.get(tensor);
      const extra = files.find((f) => f !== mapped && f !== files[0]) ?? files[1]!;
      findings.push(error('TENSOR_IN_MULTIPLE_SHARDS', extra, `the tensor is stored in ${files.length} shards: ${list(files)}`, tensor));
    }
  }
  if (usableIndex) {
    for (const [tensor, shard] of usableIndex.weightMap) {
      const names = namesByShard.get(shard);
      if (names === undefined || names.has(tensor)) continue; // missing/unsafe/unreadable shards are reported already
      const elsewhere = (holders.get(tensor) ?? []).filter((f) => f !== shard);
      if (elsewhere.length > 0) {
        findings.push(error('INDEX_WRONG_SHARD', INDEX_FILE, `the index maps the tensor to ${shard}, but it is stored in ${list(elsewhere)}`, tensor));
      } else {
        findings.push(error('INDEX_TENSOR_NOT_FOUND', INDEX_FILE, `the index maps the tensor to ${shard}, but no shard holds it`, tensor));
      }
    }
    for (const s of shards) {
      for (const t of s.header.tensorNames ?? []) {
        if (!usableIndex.weightMap.has(t)) {
          findings.push(error('TENSOR_NOT_IN_INDEX', s.file, `the shard holds this tensor, but the index does not map it`, t));
        }
      }
    }
  }

  // Summary.
  const summary = summarise(layout, shards);
  const allShardsClean = shards.length > 0 && shards.every((s) => s.header.ok);
  const complete = allShardsClean && (!usableIndex || usableIndex.shardNames.every((n) => byName.has(n)));
  if (complete && summary.tensors === 0) findings.push(error('NO_TENSORS', shards[0]!.file, 'the checkpoint holds no tensors'));
  if (complete && usableIndex?.totalSize !== undefined && usableIndex.totalSize !== summary.tensorBytes) {
    const ts = usableIndex.totalSize;
    if (ts === summary.shardBytes) {
      findings.push(
        warning(
          'INDEX_TOTAL_SIZE_MISMATCH',
          INDEX_FILE,
          `metadata.total_size is ${ts}, the sum of the shard file sizes; it should be the ${summary.tensorBytes} bytes of tensor data (some tools write file sizes)`,
        ),
      );
    } else {
      findings.push(
        error(
          'INDEX_TOTAL_SIZE_MISMATCH',
          INDEX_FILE,
          `metadata.total_size is ${ts}, but the shards' tensors hold ${summary.tensorBytes} bytes (difference ${ts - summary.tensorBytes}); the index does not describe these shards`,
        ),
      );
    }
  }
  if (complete && usableIndex?.totalParameters !== undefined && usableIndex.totalParameters !== summary.parameters) {
    findings.push(
      warning(
        'INDEX_TOTAL_PARAMETERS_MISMATCH',
        INDEX_FILE,
        `metadata.total_parameters is ${usableIndex.totalParameters}, but the tensors hold ${summary.parameters} elements (expected for packed/quantized weights)`,
      ),
    );
  }

  // config.json.
  const configFile = byName.get(CONFIG_FILE);
  let config: ModelConfigSummary | null = null;
  if (!configFile) {
    findings.push(error('CONFIG_MISSING', CONFIG_FILE, 'config.json is missing; vLLM needs it to know the architecture'));
  } else if (configFile.size > MAX_CONFIG_BYTES) {
    findings.push(error('FILE_TOO_LARGE', CONFIG_FILE, `config.json is ${configFile.size} bytes; more than ${MAX_CONFIG_BYTES} are refused`));
  } else if (input.config !== undefined) {
    const parsed = parseConfig(input.config);
    findings.push(...parsed.findings);
    config = parsed.config;
  }

  // Tokenizer.
  if (!TOKENIZER_FILES.some((t) => byName.has(t))) {
    findings.push(
      warning('TOKENIZER_MISSING', 'tokenizer.json', 'no tokenizer files (tokenizer.json or tokenizer.model); vLLM will need --tokenizer pointing elsewhere'),
    );
  }

  const capped = capPerCode(findings);
  return { ok: !hasErrors(capped), findings: capped, summary: { ...summary, config } };
}

/**
 * `*.safetensors` below the top level, judged per pinned image (streamer-listing.ts,
 * docs/UPSTREAM.md V3, V4, M7): a streamer that lists sub-folders streams a nested file the index
 * does not name; one that lists the top level only never loads a nested shard the index does name.
 * Either way the checkpoint is not what one of the images will load, so both are errors.
 */
function nestedSafetensorsFindings(names: readonly string[], layout: Layout, index: ParsedIndex | undefined): Finding[] {
  const nested = names.filter((n) => !isTopLevel(n) && isSafetensors(n));
  if (nested.length === 0) return [];
  const described = new Set<string>(index ? index.shardNames : layout === 'single' ? [SINGLE_FILE] : []);
  const out: Finding[] = [];
  for (const n of nested) {
    if (!described.has(n)) {
      const streams = IMAGE_VARIANTS.filter((v) => streamedSafetensors([n], PINNED_STREAMERS[v].listing).length > 0);
      out.push(
        error(
          'SAFETENSORS_IN_SUBFOLDER',
          n,
          `${streams.map(describeStreamer).join(' and ')} would stream this file too, although ${index ? 'the index does not name it' : layout === 'single' ? `only ${SINGLE_FILE} is the model` : 'nothing describes it'}; delete it or move it out of the checkpoint folder (sub-folders included)`,
        ),
      );
    } else {
      const misses = IMAGE_VARIANTS.filter((v) => streamedSafetensors([n], PINNED_STREAMERS[v].listing).length === 0);
      out.push(
        error(
          'SAFETENSORS_IN_SUBFOLDER',
          n,
          `the index names a shard in a sub-folder, which ${misses.map(describeStreamer).join(' and ')} never loads; move it next to the index and name it there without the folder`,
        ),
      );
    }
  }
  return out;
}

function summarise(layout: Layout, shards: readonly ShardHeaderInput[]): CheckpointSummary {
  let tensors = 0;
  let parameters = 0n;
  let tensorBytes = 0n;
  let headerBytes = 0;
  let shardBytes = 0;
  const byDtype = new Map<string, bigint>();
  for (const s of shards) {
    shardBytes += s.size;
    if (s.header.headerBytes > 0 || s.header.tensorNames !== null) headerBytes += 8 + s.header.headerBytes;
    for (const t of s.header.tensors) {
      tensors++;
      parameters += t.numel;
      if (t.end >= t.begin) tensorBytes += t.end - t.begin;
      byDtype.set(t.dtype, (byDtype.get(t.dtype) ?? 0n) + t.numel);
    }
  }
  const dtypes = DTYPES.map((d) => d.name as string).filter((d) => byDtype.has(d));
  return {
    layout,
    shards: shards.length,
    tensors,
    parameters: Number(parameters),
    parametersByDtype: Object.fromEntries(dtypes.map((d) => [d, Number(byDtype.get(d)!)])),
    tensorBytes: Number(tensorBytes),
    dtypes,
    headerBytes,
    shardBytes,
    config: null,
  };
}

function capPerCode(findings: Finding[]): Finding[] {
  const counts = new Map<FindingCode, number>();
  const out: Finding[] = [];
  const dropped: Finding[] = [];
  for (const f of findings) {
    const c = (counts.get(f.code) ?? 0) + 1;
    counts.set(f.code, c);
    if (c <= MAX_FINDINGS_PER_CODE || f.code === 'FINDINGS_TRUNCATED') out.push(f);
    else dropped.push(f);
  }
  if (dropped.length > 0) {
    const codes = [...new Set(dropped.map((f) => f.code))];
    out.push(
      warning(
        'FINDINGS_TRUNCATED',
        dropped[0]!.file,
        `${dropped.length} more findings (${codes.join(', ')}) are not listed; at most ${MAX_FINDINGS_PER_CODE} are shown per code`,
      ),
    );
  }
  return out;
}

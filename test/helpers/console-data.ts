/**
 * Records as ferry's own domain functions build them (versions validated through
 * applyValidationStart/applyValidationResult, rollouts through newRollout/transition, caches through
 * recordCacheEvent), served by in-memory ConsoleReads: for the console's unit tests and benchmark.
 */
import { DeployRequest } from '../../shared/domain/deploy-request.ts';
import { render } from '../../shared/domain/render.ts';
import { newRollout, transition, type Rollout, type RolloutPhase, type RolloutReason } from '../../shared/domain/rollout.ts';
import {
  applyLatestValid,
  applyValidationResult,
  applyValidationStart,
  newModelDoc,
  newVersionDoc,
  VersionBrief,
  type ModelDoc,
  type StoredFinding,
  type VersionDoc,
} from '../../shared/domain/version.ts';
import { admitRollout, newTargetState, releaseTarget, type TargetState } from '../../shared/domain/target-state.ts';
import { recordCacheEvent, type CacheRecord } from '../../shared/domain/cache-record.ts';
import { TeardownRun } from '../../shared/domain/teardown-run.ts';
import type { RejectedRequest } from '../../shared/ports/rollout-state.ts';
import type { ConsoleReads } from '../../shared/ports/console.ts';

export interface ConsoleData {
  models: ModelDoc[];
  versions: VersionDoc[];
  rollouts: Rollout[];
  targets: TargetState[];
  caches: CacheRecord[];
  runs: TeardownRun[];
  rejected: RejectedRequest[];
}

export const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);
export const at = (s: number) => new Date(T0 + s * 1000);

export function versionDoc(
  model: string,
  version: string,
  o: { createdAt: Date; valid: boolean; parameters: number; tensorBytes: number; shards: number; dtypes: string[]; errors?: StoredFinding[] },
): VersionDoc {
  const now = o.createdAt.toISOString();
  const doc = newVersionDoc(model, version, `gs://ferry-models/models/${model}/${version}/`, now);
  const files = Array.from({ length: o.shards }, (_, i) => ({
    name: `model-${String(i + 1).padStart(5, '0')}-of-${String(o.shards).padStart(5, '0')}.safetensors`,
    size: Math.round(o.tensorBytes / o.shards),
    generation: String(1000 + i),
  }));
  const started = applyValidationStart(doc, { contentKey: `ck-${version}`, generation: '1000', files, eventId: `ev-${version}`, now })!;
  return applyValidationResult(started, {
    contentKey: `ck-${version}`,
    generation: '1000',
    valid: o.valid,
    summary: { shards: o.shards, tensors: o.shards * 100, parameters: o.parameters, tensorBytes: o.tensorBytes, dtypes: o.dtypes },
    errors: o.errors ?? [],
    warnings: [],
    now: new Date(o.createdAt.getTime() + 2000).toISOString(),
  }).doc;
}

/** A rollout of model/version to target, moved through `path` (phase, reason, seconds after creation). */
export function rolloutDoc(
  id: string,
  o: {
    model: string;
    version: string;
    target?: string;
    previousGoodRolloutId?: string | null;
    createdAt: Date;
    path: Array<[RolloutPhase, RolloutReason, number, string?]>;
  },
): Rollout {
  const request = DeployRequest.parse({
    apiVersion: 'ferry/v1',
    model: o.model,
    version: o.version,
    target: { cluster: 'local', namespace: 'default', name: o.target ?? o.model },
    accelerator: { type: 'nvidia-l4' },
    requestedBy: { source: 'cli', principal: 'alice@example.com' },
  });
  const spec = render({
    request,
    rolloutId: id,
    bucket: 'ferry-models',
    checkpoint: { uri: `gs://ferry-models/models/${o.model}/${o.version}`, tensorBytes: 1e9, digest: 'sha256:aa', shards: 1 },
  });
  let r = newRollout({ id, request, spec, previousGoodRolloutId: o.previousGoodRolloutId ?? null, now: o.createdAt });
  for (const [phase, reason, s, message] of o.path) r = transition(r, phase, reason, new Date(o.createdAt.getTime() + s * 1000), message);
  return r;
}

const SUCCEED: Array<[RolloutPhase, RolloutReason, number, string?]> = [
  ['applying', 'Started', 1],
  ['progressing', 'Applied', 3],
  ['succeeded', 'RolloutComplete', 41, 'deployment "llama" successfully rolled out'],
];

/** The scenes the console must show: a valid and an invalid version, a succeeded and a rolled-back rollout, a cache, a teardown run, a rejected request. */
export function sampleData(): ConsoleData {
  const v1 = versionDoc('llama', 'v1', { createdAt: at(0), valid: true, parameters: 8_030_261_248, tensorBytes: 16_060_522_496, shards: 4, dtypes: ['BF16'] });
  const v2 = versionDoc('llama', 'v2', {
    createdAt: at(600),
    valid: false,
    parameters: 8_030_261_248,
    tensorBytes: 16_060_522_496,
    shards: 4,
    dtypes: ['BF16'],
    errors: [
      {
        code: 'OFFSETS_NOT_CONTIGUOUS',
        severity: 'error',
        file: 'model-00002-of-00004.safetensors',
        tensor: 'model.layers.3.mlp.up_proj.weight',
        message: 'data_offsets overlap',
      },
    ],
  });
  const v3 = versionDoc('llama', 'v3', {
    createdAt: at(1200),
    valid: true,
    parameters: 8_030_261_248,
    tensorBytes: 8_030_261_248,
    shards: 2,
    dtypes: ['F8_E4M3'],
  });
  let model = newModelDoc('llama', at(0).toISOString());
  model = applyLatestValid(model, { version: 'v1', validatedAt: v1.validatedAt!, contentKey: v1.contentKey! }, true);
  model = applyLatestValid(model, { version: 'v3', validatedAt: v3.validatedAt!, contentKey: v3.contentKey! }, true);

  const ok = rolloutDoc('r-ok-0001', { model: 'llama', version: 'v1', createdAt: at(100), path: SUCCEED });
  const bad = rolloutDoc('r-bad-0002', {
    model: 'llama',
    version: 'v3',
    previousGoodRolloutId: ok.id,
    createdAt: at(1300),
    path: [
      ['applying', 'Started', 1],
      ['progressing', 'Applied', 2],
      ['failed', 'CrashLoopBackOff', 95, 'container vllm: back-off restarting failed container'],
      ['rolling_back', 'RollingBack', 96, 'rolling back to r-ok-0001'],
      ['rolled_back', 'RolledBack', 130, 'llama/v1 is serving again'],
    ],
  });
  let target = newTargetState(ok.target, at(100));
  target = admitRollout(target, ok.id, at(100)).state;
  target = releaseTarget(target, ok, at(141)).state;
  target = admitRollout(target, bad.id, at(1300)).state;
  target = releaseTarget(target, bad, at(1430)).state;

  let cache = recordCacheEvent(undefined, {
    bucket: 'ferry-models',
    zone: 'us-central1-a',
    now: at(1290),
    action: 'create',
    use: { rolloutId: ok.id, targetKey: ok.targetKey, target: ok.target, requestedBy: null },
  });
  cache = recordCacheEvent(cache, {
    bucket: 'ferry-models',
    zone: 'us-central1-a',
    now: at(1295),
    live: {
      name: cache.name,
      bucket: 'ferry-models',
      zone: 'us-central1-a',
      state: 'running',
      rawState: 'RUNNING',
      ttlSeconds: 86_400,
      admissionPolicy: 'admit-on-first-miss',
      pendingUpdate: false,
    },
  });

  const run = TeardownRun.parse({
    schemaVersion: 1,
    id: 'td-0001',
    trigger: 'schedule',
    startedAt: at(2000).toISOString(),
    finishedAt: at(2003).toISOString(),
    dryRun: false,
    plan: {
      at: at(2000).toISOString(),
      dryRun: false,
      policy: {
        idleTtlSeconds: { cache: 21_600, deployment: 86_400, cluster: 86_400 },
        protectLabel: 'ferry-protect',
        dryRun: false,
        maxActions: 10,
        clusterMode: 'scale-to-zero',
        scaleDeployments: false,
      },
      actions: [],
      skipped: [
        {
          resource: { kind: 'cache', bucket: 'ferry-models', zone: 'us-central1-a' },
          reason: 'IN_USE_BY_DEPLOYMENT',
          message: 'local~default~llama runs from it',
        },
      ],
    },
    results: [],
    inventoryWarnings: [],
    summary: { planned: 0, done: 0, started: 0, skipped: 1, failed: 0 },
  });
  const rejected: RejectedRequest = {
    messageId: 'msg-77',
    reason: 'VERSION_INVALID',
    message: 'llama/v2 is invalid (OFFSETS_NOT_CONTIGUOUS)',
    issues: [{ path: 'version', message: 'not a valid version' }],
    source: 'cli',
    receivedAt: at(700).toISOString(),
    model: 'llama',
  };
  return { models: [model], versions: [v1, v2, v3], rollouts: [ok, bad], targets: [target], caches: [cache], runs: [run], rejected: [rejected] };
}

/** `models` models × `versions` versions each (every fifth invalid), for the benchmark. */
export function bulkData(models: number, versions: number): ConsoleData {
  const d: ConsoleData = { models: [], versions: [], rollouts: [], targets: [], caches: [], runs: [], rejected: [] };
  for (let m = 0; m < models; m++) {
    const name = `model-${String(m).padStart(3, '0')}`;
    let model = newModelDoc(name, at(0).toISOString());
    for (let v = 0; v < versions; v++) {
      const valid = v % 5 !== 4;
      const doc = versionDoc(name, `v${v + 1}`, {
        createdAt: at(m * 10_000 + v * 60),
        valid,
        parameters: 7_000_000_000 + v * 1_000_000,
        tensorBytes: 14_000_000_000 + v * 2_000_000,
        shards: 4 + (v % 3),
        dtypes: v % 2 ? ['BF16'] : ['BF16', 'F32'],
        ...(valid
          ? {}
          : {
              errors: [
                { code: 'OFFSETS_NOT_CONTIGUOUS', severity: 'error' as const, file: 'model-00001-of-00004.safetensors', message: 'data_offsets overlap' },
              ],
            }),
      });
      if (valid) model = applyLatestValid(model, { version: doc.version, validatedAt: doc.validatedAt!, contentKey: doc.contentKey! }, true);
      d.versions.push(doc);
    }
    d.models.push(model);
  }
  return d;
}

export function memoryReads(d: ConsoleData): ConsoleReads {
  const clone = <T>(x: T): T => structuredClone(x);
  return {
    versions: {
      listModels: async () => clone(d.models),
      getModel: async (m) => clone(d.models.find((x) => x.model === m)),
      listVersions: async (m) => clone(d.versions.filter((v) => v.model === m)),
      listVersionBriefs: async () => d.versions.map((v) => VersionBrief.parse(v)),
      getTensorBytes: async (refs) =>
        refs.flatMap((r) =>
          d.versions
            .filter((v) => v.model === r.model && v.version === r.version)
            .map((v) => ({ model: v.model, version: v.version, tensorBytes: v.summary?.tensorBytes ?? null })),
        ),
      getVersion: async (m, v) => clone(d.versions.find((x) => x.model === m && x.version === v)),
    },
    rollouts: {
      getRollout: async (id) => clone(d.rollouts.find((r) => r.id === id)),
      getRollouts: async (ids) => clone(d.rollouts.filter((r) => ids.includes(r.id))),
      listRollouts: async (f) =>
        clone(
          d.rollouts
            .filter((r) => (f.model === undefined || r.model === f.model) && (f.targetKey === undefined || r.targetKey === f.targetKey))
            .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
            .slice(0, f.limit ?? 50),
        ),
      listRejected: async (model, limit = 50) => clone(d.rejected.filter((r) => model === undefined || r.model === model).slice(0, limit)),
    },
    caches: { list: async () => clone(d.caches) },
    teardown: { listRuns: async (limit = 20) => clone(d.runs.slice(0, limit)), listTargets: async () => clone(d.targets) },
  };
}

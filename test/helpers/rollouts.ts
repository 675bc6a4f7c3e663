/**
 * Builders for the rollout state machine's unit tests (test/unit/domain/rollout*.test.ts): a
 * rendered rollout, Deployment and Pod objects as the API server returns them, observations, and a
 * `step` that checks every step is pure and idempotent.
 */
import assert from 'node:assert/strict';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { DeployRequest } from '../../shared/domain/deploy-request.ts';
import { render } from '../../shared/domain/render.ts';
import { ANNOTATIONS } from '../../shared/domain/rendered-spec.ts';
import { newRollout, type Rollout } from '../../shared/domain/rollout.ts';
import { nextStep, type Action, type Observation, type StepResult } from '../../shared/domain/rollout-step.ts';
import type { RolloutCachePlan } from '../../shared/domain/cache.ts';
import type { Gate } from '../../shared/domain/gate.ts';

export const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);
export const at = (s: number) => new Date(T0 + s * 1000);

export const request = DeployRequest.parse({
  apiVersion: 'ferry/v1',
  model: 'llama',
  version: 'v2',
  target: { cluster: 'local', namespace: 'default', name: 'llama' },
  accelerator: { type: 'nvidia-l4' },
  requestedBy: { source: 'cli', principal: 'alice' },
});

export const cachePlan = (over: Partial<RolloutCachePlan> = {}): RolloutCachePlan => ({
  bucket: 'bkt',
  mode: 'all-zones',
  zones: ['us-central1-a', 'us-central1-b'],
  pinnedZone: null,
  ttlSeconds: null,
  admissionPolicy: null,
  maxWaitSeconds: 600,
  observed: [],
  warnings: [],
  ...over,
});

export function makeRollout(
  id = 'r-new',
  opts: { previousGoodRolloutId?: string | null; timeoutSeconds?: number | null; cache?: RolloutCachePlan | null; gate?: Gate | null } = {},
): Rollout {
  const rendered = render({
    request,
    rolloutId: id,
    bucket: 'bkt',
    checkpoint: { uri: 'gs://bkt/models/llama/v2', tensorBytes: 1e9, digest: 'sha256:aa', shards: 1 },
  });
  return newRollout({
    id,
    request,
    spec: rendered,
    timeoutSeconds: opts.timeoutSeconds === undefined ? rendered.rolloutTimeoutSeconds : opts.timeoutSeconds,
    previousGoodRolloutId: opts.previousGoodRolloutId ?? null,
    cache: opts.cache ?? null,
    gate: opts.gate ?? null,
    now: at(0),
  });
}

export interface DepOpts {
  rolloutId?: string | undefined;
  generation?: number;
  observedGeneration?: number;
  specReplicas?: number | undefined;
  replicas?: number;
  updated?: number;
  available?: number;
  progressingReason?: string;
}
export function dep(o: DepOpts = {}): V1Deployment {
  const annotations: Record<string, string> = o.rolloutId === undefined ? {} : { [ANNOTATIONS.rolloutId]: o.rolloutId };
  return {
    metadata: { name: 'llama', namespace: 'default', generation: o.generation ?? 2 },
    spec: {
      ...('specReplicas' in o && o.specReplicas === undefined ? {} : { replicas: o.specReplicas ?? 1 }),
      selector: { matchLabels: { a: 'b' } },
      template: { metadata: { annotations } },
    },
    status: {
      observedGeneration: o.observedGeneration ?? 2,
      replicas: o.replicas ?? 1,
      updatedReplicas: o.updated ?? 1,
      availableReplicas: o.available ?? 1,
      conditions: o.progressingReason
        ? [{ type: 'Progressing', status: o.progressingReason === 'ProgressDeadlineExceeded' ? 'False' : 'True', reason: o.progressingReason }]
        : [],
    },
  };
}
export const inProgress = (rolloutId: string) => dep({ rolloutId, replicas: 2, updated: 1, available: 1, progressingReason: 'ReplicaSetUpdated' });
export const complete = (rolloutId: string) => dep({ rolloutId, progressingReason: 'NewReplicaSetAvailable' });

export function pod(name: string, rolloutId: string, waiting?: string, restartCount = 0, extra: Partial<V1Pod['metadata']> = {}): V1Pod {
  return {
    metadata: { name, annotations: { [ANNOTATIONS.rolloutId]: rolloutId }, labels: { 'pod-template-hash': `h-${rolloutId}` }, ...extra },
    status: {
      containerStatuses: [
        {
          name: 'vllm',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount,
          ...(waiting ? { state: { waiting: { reason: waiting, message: `${waiting} happened` } } } : { state: { running: {} } }),
          ...(waiting === 'CrashLoopBackOff' ? { lastState: { terminated: { exitCode: 1, reason: 'Error' } } } : {}),
        },
      ],
    },
  };
}

export const cluster = (deployment: V1Deployment | null, pods: V1Pod[] = [], lastGoodRolloutId?: string | null): Observation => ({
  kind: 'cluster',
  deployment,
  pods,
  ...(lastGoodRolloutId !== undefined ? { lastGoodRolloutId } : {}),
});

export function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** nextStep on a frozen input (catches mutation), checked to be idempotent on its own output. */
export function step(r: Rollout, obs: Observation, now: Date): StepResult {
  const out = nextStep(deepFreeze(structuredClone(r)), obs, now);
  const again = nextStep(structuredClone(out.rollout), obs, now);
  assert.deepEqual(again.rollout, out.rollout, 'the same observation twice must not change the rollout again');
  return out;
}
export const phases = (r: Rollout) => r.history.map((h) => h.phase);
export const kinds = (actions: Action[]) => actions.map((a) => a.kind);

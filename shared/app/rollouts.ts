/**
 * Use cases for deploys: turn a deploy request message into (at most) one rollout, and advance
 * rollouts by observing the cluster and applying the pure state machine's actions. Every step
 * recomputes from stored + observed state, so a crash or timeout anywhere is finished by the next
 * call (the scheduled reconciler calls advanceAll every minute).
 */
import { createHash } from 'node:crypto';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { parseDeployRequest, isLatest, type DeployRequest } from '../domain/deploy-request.ts';
import { targetKey, parseClusterName } from '../domain/names.ts';
import { render } from '../domain/render.ts';
import { versionBucketTrusted } from '../domain/upload.ts';
import { checkDeploy, originOf, parsePolicy, type PolicyDecision } from '../domain/policy.ts';
import type { PolicyStore } from '../ports/policy-store.ts';
import { objectsToApply, staleObjects, templateRolloutId, NODE_PROVISION_SECONDS, type Rendered, type RenderedSpec } from '../domain/rendered-spec.ts';
import { resolveAccelerator } from '../domain/serving-plan.ts';
import { newRollout, isTerminalPhase, type Rollout } from '../domain/rollout.ts';
import { claimAction, claimGateRun, isClaimed, nextStep, type Action, type Observation, type StepResult } from '../domain/rollout-step.ts';
import { FerryError, asFerryError } from '../domain/errors.ts';
import type { DeployRefusal, DeployRejectReason } from '../domain/reasons/deploy.ts';
import type { VersionDoc } from '../domain/version.ts';
import type { CheckpointState } from '../ports/checkpoint-state.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { ClusterProvider, ClusterClient } from '../ports/cluster.ts';
import type { Publisher } from '../ports/publisher.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { RolloutCachePlan, CacheObservation } from '../domain/cache.ts';
import { planRolloutCaches, ensureCaches, type CacheDeps } from './caches.ts';
import type { ClusterCapacity } from '../ports/cluster-directory.ts';
import type { ScaledDownPools } from '../ports/teardown-store.ts';
import { ensureClusterCapacity } from './cluster-capacity.ts';
import { assertValidatedContent, renderedContentKey } from './integrity.ts';
import { holdVersion } from './holds.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { GateStore } from '../ports/gate-store.ts';
import { effectiveGate, type Gate } from '../domain/gate.ts';
import { runGate } from './gate-run.ts';
import { measureColdStart } from './cold-start.ts';
import { deploymentStatus } from '../domain/deployment-status.ts';
import { predictLoad, streamedBytes, summarizeColdStarts } from '../domain/cold-start.ts';

export interface RolloutDeps {
  rollouts: RolloutState;
  /** The deploy policy every request is checked against before it is admitted (shared/domain/policy.ts). */
  policy: PolicyStore;
  versions: CheckpointState;
  clusters: ClusterProvider;
  publisher: Publisher;
  clock: Clock;
  logger: Logger;
  config: {
    /** Where rejections and terminal rollout results are published (optional). */
    resultsTopic?: string | undefined;
    serviceAccountName?: string | undefined;
    /** FERRY_MODEL_BUCKETS: a version stored outside them is refused (VERSION_BUCKET_FOREIGN). Unset: not checked. */
    modelBuckets?: readonly string[] | undefined;
    /** FERRY_SERVING_NAMESPACES: where the vLLM service account may read the bucket. Unset: not checked. */
    servingNamespaces?: readonly string[] | undefined;
    /**
     * FERRY_FOLLOW_TOPIC: after admitting and starting a rollout, the deploy request publishes
     * `{rolloutId}` here and returns (its push is acked at once); followRollout follows it on its
     * own subscription (shared/app/follow-request.ts). Unset: the reconciler's ticks advance it.
     */
    followTopic?: string | undefined;
    /**
     * FERRY_DEPLOY_FOLLOW_SECONDS: how long followRollout follows a rollout at most
     * (shared/app/follow-deployment.ts); 0: no follow (nothing is published to followTopic either).
     */
    followSeconds?: number | undefined;
  };
  /** Anywhere Cache management; without it a request with cache.mode other than off is refused. */
  caches?: CacheDeps | undefined;
  /**
   * GKE clusters (teardown's port): with it, a deploy to a deleted cluster is refused
   * (CLUSTER_DELETED) and node pools teardown scaled to zero are brought back before admitting.
   */
  clusterDirectory?: ClusterCapacity | null | undefined;
  /** The sizes teardown remembered (`scaledDownClusters`); without it pools come back at 1 node. */
  scaledDown?: ScaledDownPools | null | undefined;
  /**
   * The bucket: with it, the version is re-listed right before each apply and a content that is not
   * the validated one is refused (CONTENT_CHANGED; shared/app/integrity.ts); where the store offers
   * setTemporaryHold, the version's objects are then held (shared/app/holds.ts).
   */
  objects?: ((bucket: string) => ObjectStore) | undefined;
  /** Models' default promotion gates (`ferry gate set`); a request's own `gate` wins. */
  gates?: GateStore | undefined;
}

export interface DeployMessage {
  data: Uint8Array;
  messageId: string;
  /** The Pub/Sub topic it arrived on (from the push's CloudEvent source); what policy grants go by. */
  topic?: string | null | undefined;
  publishTime?: string | undefined;
  attributes?: Record<string, string> | undefined;
}

export type DeployOutcome =
  | { outcome: 'rejected'; reason: DeployRejectReason; message: string }
  | { outcome: 'duplicate'; by: string; rolloutId: string | null }
  | { outcome: 'admitted'; rolloutId: string; decision: 'start' | 'queued'; phase: string; follow?: 'requested' | 'not-requested' };

/** Rollout ids derive from the message, so a redelivered message maps to the same rollout. */
export function rolloutIdFor(messageId: string, publishTime: string | undefined): string {
  const t = publishTime && !Number.isNaN(Date.parse(publishTime)) ? new Date(publishTime) : undefined;
  const stamp = t ? t.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-') : 'x';
  return `ro-${stamp}-${createHash('sha256').update(messageId).digest('hex').slice(0, 10)}`;
}

function peekModel(data: Uint8Array): string | null {
  try {
    const m = (JSON.parse(new TextDecoder().decode(data)) as { model?: unknown }).model;
    return typeof m === 'string' && m.length <= 63 ? m : null;
  } catch {
    return null;
  }
}

export async function handleDeployRequest(msg: DeployMessage, deps: RolloutDeps): Promise<DeployOutcome> {
  const log = deps.logger.child({ messageId: msg.messageId });
  const now = deps.clock.now();
  const reject = async (
    reason: DeployRejectReason,
    message: string,
    issues: Array<{ path: string; message: string }> = [],
    source = 'unknown',
  ): Promise<DeployOutcome> => {
    await deps.rollouts.recordRejected({
      messageId: msg.messageId,
      reason,
      message,
      issues,
      source,
      receivedAt: now.toISOString(),
      model: peekModel(msg.data),
    });
    log.warn(`deploy request rejected: ${message}`, { reason, issues });
    await publishResult(deps, { kind: 'rejected', messageId: msg.messageId, reason, message, issues }, log);
    return { outcome: 'rejected', reason, message };
  };

  const parsed = parseDeployRequest(msg.data);
  if (!parsed.ok) return reject(parsed.reason, parsed.message, parsed.issues ?? []);
  const ns = parsed.request.target.namespace;
  if (deps.config.servingNamespaces && !deps.config.servingNamespaces.includes(ns)) {
    return reject(
      'NAMESPACE_NOT_SERVING',
      `namespace ${ns} is not a serving namespace (${deps.config.servingNamespaces.join(', ') || 'none'}): its vLLM service account cannot read the model bucket`,
      [],
      parsed.request.requestedBy.source,
    );
  }
  const rlog = log.child({ model: parsed.request.model, version: parsed.request.version, target: targetKey(parsed.request.target) });

  const resolved = await resolveVersion(parsed.request, deps.versions);
  if ('reason' in resolved) return reject(resolved.reason, resolved.message, [], parsed.request.requestedBy.source);
  const version = resolved.doc;
  if (deps.config.modelBuckets && versionBucketTrusted(version.uri, deps.config.modelBuckets) === null) {
    return reject(
      'VERSION_BUCKET_FOREIGN',
      `${version.model}/${version.version} is stored at ${version.uri}, outside the model bucket(s) ${deps.config.modelBuckets.join(', ') || '(none configured)'}; it is never deployed`,
      [],
      parsed.request.requestedBy.source,
    );
  }

  // Serving profile: an absent accelerator gets the recommendation from the checkpoint's own
  // numbers; one that cannot hold the model is refused with them.
  const sized = resolveAccelerator(parsed.request, version.summary);
  if ('reject' in sized) return reject(sized.reject.reason, sized.reject.message, [], parsed.request.requestedBy.source);
  for (const w of sized.warnings) rlog.warn(`sizing: ${w}`);
  if (sized.recommended) rlog.info('accelerator chosen from the checkpoint', { accelerator: sized.request.accelerator });
  const request = sized.request;

  // The deploy policy: one pure check for every path (Pub/Sub, Slack, autodeploy, CLI), before
  // anything else is done for the request (node pools brought back, caches, the rollout admitted).
  const verdict = await checkPolicy(request, msg.topic ?? null, deps);
  if (!verdict.ok) return reject(verdict.reason, verdict.message, [], request.requestedBy.source);
  rlog.info('deploy request allowed by policy', { grant: verdict.grant, policyVersion: verdict.version, topic: msg.topic ?? null });

  // A cluster teardown deleted is refused; node pools it scaled to zero come back before applying,
  // and the rollout then allows for the nodes being created.
  let capacityWaitSeconds = 0;
  if (deps.clusterDirectory && parseClusterName(request.target.cluster)?.kind === 'gke') {
    try {
      const capacity = await ensureClusterCapacity(request.target.cluster, deps.clusterDirectory, deps.scaledDown ?? null, { now });
      if (!capacity.ok) return reject(capacity.reason, capacity.message, [], request.requestedBy.source);
      if (capacity.restored.length || capacity.pending.length) {
        capacityWaitSeconds = NODE_PROVISION_SECONDS;
        rlog.info('bringing node pools scaled to zero back up; the progress deadline allows for node creation', {
          restored: capacity.restored,
          pending: capacity.pending,
          capacityWaitSeconds,
        });
      }
      if (capacity.pending.length) {
        rlog.warn(
          `node pools ${capacity.pending.join(', ')} could not be resized yet (another GKE operation is running on the cluster); the next deploy retries them`,
          { code: 'CLUSTER_CONFLICT' },
        );
      }
    } catch (e) {
      const err = asFerryError(e, 'CLUSTER_UNAVAILABLE', true);
      if (err.retryable) throw err;
      rlog.warn(`could not check the cluster's node pools; deploying anyway: ${err.message}`, { code: err.code });
    }
  }

  const rolloutId = rolloutIdFor(msg.messageId, msg.publishTime);
  const prepared = await renderRollout(request, version, {
    rolloutId,
    capacityWaitSeconds,
    caches: deps.caches,
    serviceAccountName: deps.config.serviceAccountName,
    logger: rlog,
  });
  if ('reject' in prepared) return reject(prepared.reject.reason, prepared.reject.message, [], request.requestedBy.source);
  const { rendered, cachePlan } = prepared;
  for (const w of rendered.warnings) rlog.warn(`render: ${w}`);
  const gate = await gateFor(request, deps);
  const rollout = newRollout({
    coldStart: predictedColdStart(version, cachePlan),
    id: rolloutId,
    request,
    version: version.version,
    spec: rendered,
    timeoutSeconds: rendered.rolloutTimeoutSeconds,
    cache: cachePlan,
    gate,
    now,
  });
  const admitted = await deps.rollouts.admit({
    messageId: msg.messageId,
    idempotencyKey: request.idempotencyKey,
    rollout,
    now,
    supersede: (queued) => nextStep(queued, { kind: 'superseded', byRolloutId: rolloutId }, now).rollout,
  });
  if (admitted.outcome === 'duplicate') {
    rlog.info('duplicate deploy request; no new rollout', { by: admitted.by, rolloutId: admitted.rolloutId });
    return { outcome: 'duplicate', by: admitted.by, rolloutId: admitted.rolloutId };
  }
  rlog.info(`rollout ${rolloutId} ${admitted.decision === 'start' ? 'started' : 'queued behind the active rollout'}`, {
    rolloutId,
    resolvedVersion: version.version,
    specDigest: rendered.specDigest,
    superseded: admitted.superseded?.id,
  });
  if (admitted.superseded) await publishResult(deps, resultOf(admitted.superseded), rlog);
  let phase: string = rollout.phase;
  if (admitted.decision === 'start') {
    try {
      phase = (await advanceRollout(rolloutId, deps)).phase ?? phase;
    } catch (e) {
      // Admitted is what matters here: the reconciler carries the rollout on from its stored state.
      rlog.warn('first rollout step failed; the reconciler will retry it', { rolloutId, error: asFerryError(e) });
    }
    // Hand it to followRollout (its own subscription) instead of following here: a follow inside
    // this push would hold it, and Pub/Sub paces a subscription's pushes by their acks
    // (docs/UPSTREAM.md F5), so later deploy requests would wait for it.
    if (deps.config.followTopic && deps.config.followSeconds && !isTerminalPhase(phase as Rollout['phase'])) {
      const follow = await requestFollow(rolloutId, deps, rlog);
      return { outcome: 'admitted', rolloutId, decision: admitted.decision, phase, follow };
    }
  }
  return { outcome: 'admitted', rolloutId, decision: admitted.decision, phase };
}

/**
 * Publishes the follow request `{rolloutId}` (FollowRequest, shared/app/follow-request.ts) to
 * deps.config.followTopic. Never throws: the rollout is admitted, and without a follow the
 * reconciler's ticks carry it on.
 */
async function requestFollow(rolloutId: string, deps: RolloutDeps, log: Logger): Promise<'requested' | 'not-requested'> {
  try {
    await deps.publisher.publishJson(deps.config.followTopic!, { rolloutId });
    log.info('follow requested', { rolloutId, topic: deps.config.followTopic });
    return 'requested';
  } catch (e) {
    const err = asFerryError(e, 'PUBLISH_FAILED', true);
    log.warn(`could not request a follow of ${rolloutId}; the reconciler carries it on: ${err.message}`, { code: err.code, rolloutId });
    return 'not-requested';
  }
}

/**
 * The load predicted before applying: the bytes the streamer reads ÷ the expected rate from where
 * they come (a zonal cache when the rollout plans one, else the bucket; cold-start.ts predictLoad).
 */
function predictedColdStart(version: VersionDoc, cachePlan: RolloutCachePlan | null) {
  const bytes = streamedBytes(version.summary as Parameters<typeof streamedBytes>[0]);
  return bytes === null ? null : summarizeColdStarts([], predictLoad(bytes, cachePlan ? 'cache' : 'bucket'));
}

/**
 * The gate a rollout of `request` must pass: the request's own, else the model's default gate
 * (`ferry gate set`), else none. A store that cannot be read fails the delivery (retryable: Pub/Sub
 * redelivers) rather than deploying ungated what should be gated.
 */
async function gateFor(request: DeployRequest, deps: RolloutDeps): Promise<Gate | null> {
  const modelDefault = request.gate || !deps.gates ? null : ((await deps.gates.get(request.model))?.gate ?? null);
  return effectiveGate(request.gate, modelDefault)?.gate ?? null;
}

/** The stored policy, parsed, and the decision for this request (a bad stored policy refuses everything). */
async function checkPolicy(
  request: DeployRequest,
  topic: string | null,
  deps: RolloutDeps,
): Promise<(PolicyDecision & { ok: true; version: number }) | (PolicyDecision & { ok: false })> {
  const stored = await deps.policy.current();
  const origin = originOf(request.requestedBy, topic);
  if (!stored) return checkDeploy(null, { request, origin }) as PolicyDecision & { ok: false };
  const parsed = parsePolicy(stored.policy);
  if (!parsed.ok) {
    const first = parsed.issues[0];
    return {
      ok: false,
      reason: 'POLICY_INVALID',
      rule: 'policy',
      message: `refused by policy rule policy: the stored policy (version ${stored.version}) is invalid${first ? ` at ${first.path}: ${first.message}` : ''}`,
    };
  }
  const d = checkDeploy(parsed.policy, { request, origin });
  return d.ok ? { ...d, version: stored.version } : d;
}

export async function resolveVersion(
  request: DeployRequest,
  versions: CheckpointState,
): Promise<{ doc: VersionDoc } | { reason: DeployRefusal; message: string }> {
  if (isLatest(request)) {
    const doc = await versions.latestValidVersion(request.model);
    if (doc) return { doc };
    const model = await versions.getModel(request.model);
    return model
      ? { reason: 'NO_VALID_VERSION', message: `model ${request.model} has no valid version yet; upload one or wait for validation` }
      : { reason: 'UNKNOWN_MODEL', message: `no model named ${request.model}; upload a checkpoint to gs://<bucket>/models/${request.model}/<version>/ first` };
  }
  const doc = await versions.getVersion(request.model, request.version);
  if (!doc) {
    const model = await versions.getModel(request.model);
    return model
      ? { reason: 'UNKNOWN_VERSION', message: `model ${request.model} has no version ${request.version}` }
      : { reason: 'UNKNOWN_MODEL', message: `no model named ${request.model}` };
  }
  if (doc.status === 'valid') return { doc };
  if (doc.status === 'invalid') {
    return {
      reason: 'VERSION_INVALID',
      message: `${request.model}/${request.version} is invalid (${doc.errors
        .map((e) => e.code)
        .slice(0, 3)
        .join(', ')}); it will never be deployed`,
    };
  }
  return {
    reason: 'VERSION_NOT_READY',
    message: `${request.model}/${request.version} is ${doc.status}${doc.missing.length ? ` (missing ${doc.missing.slice(0, 3).join(', ')})` : ''}; deploy it once it is valid (or set an autodeploy policy)`,
  };
}

export interface RenderedRollout {
  rendered: Rendered;
  /** The zonal caches to have running before applying (null: cache.mode off). */
  cachePlan: RolloutCachePlan | null;
}

/**
 * What a rollout of a sized request (accelerator resolved) and a resolved version would apply: the
 * cache plan (pin-one-zone adds a zone node selector) and the rendered objects. Reads only (bucket
 * location, cluster zones, cache states); the deploy path and `ferry render` share it, so a preview
 * is exactly what a deploy would apply.
 */
export async function renderRollout(
  request: DeployRequest,
  version: VersionDoc,
  opts: { rolloutId: string; capacityWaitSeconds?: number; caches?: CacheDeps | undefined; serviceAccountName?: string | undefined; logger: Logger },
): Promise<RenderedRollout | { reject: { reason: DeployRejectReason; message: string } }> {
  const rlog = opts.logger;
  const reject = (reason: DeployRejectReason, message: string) => ({ reject: { reason, message } });
  const summary = (version.summary ?? {}) as Record<string, unknown>;
  const bucket = /^gs:\/\/([^/]+)\//.exec(version.uri)?.[1];
  if (!bucket) return reject('VERSION_URI_INVALID', `version ${version.model}/${version.version} has no gs:// uri`);
  // Caches: planned now, because pin-one-zone changes what is rendered (a zone node selector).
  let cachePlan: RolloutCachePlan | null = null;
  let nodeSelectorExtra: Record<string, string> = {};
  if (request.cache.mode !== 'off') {
    const accelerator = request.accelerator?.type;
    if (!opts.caches) return reject('CACHE_NOT_CONFIGURED', 'this ferry has no Anywhere Cache control configured; send cache.mode "off"');
    if (!accelerator) return reject('CACHE_NO_ACCELERATOR', 'cannot plan caches before the accelerator is known');
    let planned;
    try {
      planned = await planRolloutCaches(request, { bucket, accelerator }, opts.caches, rlog);
    } catch (e) {
      const err = asFerryError(e, 'CACHE_PLAN_FAILED', true);
      if (err.retryable) throw err;
      return reject(err.code, err.message);
    }
    if (!planned.ok) return reject(planned.reason, planned.message);
    for (const w of planned.warnings) rlog.warn(`cache: ${w}`);
    cachePlan = planned.plan;
    nodeSelectorExtra = planned.nodeSelectorExtra;
  }
  try {
    const rendered = render({
      request: { ...request, version: version.version },
      rolloutId: opts.rolloutId,
      bucket,
      checkpoint: {
        uri: version.uri,
        tensorBytes: Number(summary['tensorBytes'] ?? 0),
        digest: version.contentKey ?? 'unknown',
        shards: Number(summary['shards'] ?? 0),
      },
      ...(opts.serviceAccountName ? { serviceAccountName: opts.serviceAccountName } : {}),
      ...(Object.keys(nodeSelectorExtra).length ? { nodeSelectorExtra } : {}),
      ...(opts.capacityWaitSeconds ? { capacityWaitSeconds: opts.capacityWaitSeconds } : {}),
    });
    return { rendered, cachePlan };
  } catch (e) {
    const err = asFerryError(e, 'RENDER_FAILED');
    return reject(err.code, err.message);
  }
}

/**
 * One reconcile step for one rollout: observe, decide (pure), act, save. Safe to call any number
 * of times, from any number of workers: actions are idempotent and the save is conditional.
 */
export async function advanceRollout(id: string, deps: RolloutDeps): Promise<{ phase: string | undefined; changed: boolean }> {
  const r = await deps.rollouts.getRollout(id);
  if (!r) return { phase: undefined, changed: false };
  if (isTerminalPhase(r.phase)) return { phase: r.phase, changed: false };
  // Another worker is acting for it right now (claimAction): its save comes next; look later.
  if (isClaimed(r, deps.clock.now())) return { phase: r.phase, changed: false };
  const log = deps.logger.child({ rolloutId: r.id, model: r.model, version: r.version, target: r.targetKey });
  const target = await deps.rollouts.getTarget(r.target);
  if (target?.activeRolloutId !== r.id) return { phase: r.phase, changed: false }; // queued behind another

  if (r.cache && (r.phase === 'pending' || r.phase === 'caching')) {
    // The caching phase: make the zonal caches exist and run; the machine decides when it ends.
    const caches = await observeCaches(r, r.cache, deps, log);
    const step = nextStep(r, { kind: 'caches', caches, lastGoodRolloutId: target.lastGood?.rolloutId ?? null }, deps.clock.now());
    const done = await finish(r, step, deps, log);
    // Caches ready (or waited for long enough): apply in the same call.
    if (done.changed && done.phase === 'applying') return { ...(await advanceRollout(id, deps)), changed: true };
    return done;
  }

  let cluster: ClusterClient;
  try {
    cluster = await deps.clusters.get(r.target.cluster);
  } catch (e) {
    const err = asFerryError(e, 'CLUSTER_UNAVAILABLE', true);
    if (err.retryable) throw err;
    // A cluster that cannot be reached for good (deleted, not configured): the rollout fails here.
    return finish(r, nextStep(r, { kind: 'apply-rejected', action: 'apply', message: err.message, code: err.code }, deps.clock.now()), deps, log);
  }
  const now = deps.clock.now();
  const [deployment, pods] = await Promise.all([
    cluster.getDeployment(r.target.namespace, r.target.name),
    cluster.listPods(r.target.namespace, `app.kubernetes.io/instance=${r.target.name}`),
  ]);
  // The Deployment already rolls to this rollout and is done: measure the new pods' cold start
  // before the machine leaves progressing (one step can go applying → progressing → done when the
  // pods were quick).
  const done =
    (r.phase === 'applying' || r.phase === 'progressing') &&
    deployment &&
    templateRolloutId(deployment) === r.id &&
    deploymentStatus(deployment, pods, { rolloutId: r.id }).state === 'done';
  const coldStart = done ? await measureColdStart(r, cluster, pods, deps.rollouts, log) : undefined;
  const obs: Observation = {
    kind: 'cluster',
    deployment: deployment ?? null,
    pods,
    lastGoodRolloutId: target.lastGood?.rolloutId ?? null,
    ...(coldStart ? { coldStart } : {}),
  };
  const step = nextStep(r, obs, now);
  if (step.actions.some((a) => a.kind === 'run-gate')) return verify(r, step, cluster, deps, log);
  return actAndFinish(r, step, cluster, deps, log, now);
}

/** Carry out a step's actions (an apply the cluster refuses for good becomes apply-rejected), then save. */
async function actAndFinish(
  r: Rollout,
  first: StepResult,
  cluster: ClusterClient,
  deps: RolloutDeps,
  log: Logger,
  now: Date,
): Promise<{ phase: string; changed: boolean }> {
  let base = r;
  let step = first;
  if (first.actions.length > 0) {
    // Claim before acting (claimAction says why); the final save clears the claim.
    const claimed = claimAction(r, now, new Date(now.getTime() + ACTION_CLAIM_MS));
    const saved = await deps.rollouts.saveStep(claimed, r.updatedAt, now);
    if (!saved.saved) return { phase: r.phase, changed: false }; // another worker advanced it first
    base = claimed;
    const updatedAt = first.rollout.updatedAt > claimed.updatedAt ? first.rollout.updatedAt : claimed.updatedAt;
    step = { rollout: { ...first.rollout, actingUntil: null, updatedAt }, actions: first.actions };
  }
  try {
    await carryOut(step.actions, cluster, deps, log, r);
  } catch (e) {
    const err = asFerryError(e, 'APPLY_FAILED');
    if (err.retryable) {
      // Give the claim back, so the next tick retries at once rather than after it runs out.
      if (base !== r) await deps.rollouts.saveStep({ ...base, actingUntil: null }, base.updatedAt, now).catch(() => undefined);
      throw err;
    }
    const failed = step.actions.find((a) => a.kind === 'apply' || a.kind === 'reapply-previous') as
      Extract<Action, { kind: 'apply' | 'reapply-previous' }> | undefined;
    if (!failed) throw err;
    log.error(`the cluster refused the ${failed.kind}: ${err.message}`, { code: err.code });
    step = nextStep(step.rollout, { kind: 'apply-rejected', action: failed.kind, message: err.message, code: err.code }, now);
    await carryOut(step.actions, cluster, deps, log);
  }
  return finish(base, step, deps, log);
}

/** How long a claim to act holds (an apply with its content check and holds, a notification). */
const ACTION_CLAIM_MS = 120_000;

/** Longest single gate run inside one function invocation; a longer gate goes on in the next call. */
const MAX_GATE_RUN_MS = 300_000;

/**
 * The `verifying` phase's run-gate action: claim the run (a conditional save, so one worker asks
 * the pods), ask them every prompt, then feed the outcome back to the state machine and save.
 */
async function verify(r: Rollout, step: StepResult, cluster: ClusterClient, deps: RolloutDeps, log: Logger): Promise<{ phase: string; changed: boolean }> {
  const current = step.rollout;
  const gate = current.gate;
  const v = current.verification;
  if (!gate || !v) return finish(r, step, deps, log);
  const now = deps.clock.now();
  const left = Date.parse(v.startedAt) + gate.timeoutSeconds * 1000 - now.getTime();
  const until = new Date(now.getTime() + Math.max(0, Math.min(left, MAX_GATE_RUN_MS)));
  const claimed = claimGateRun(current, now, until);
  const claim = await finish(r, { rollout: claimed, actions: step.actions.filter((a) => a.kind !== 'run-gate') }, deps, log);
  if (!claim.changed) return claim; // another worker runs it
  const baseline = await baselineFor(current, deps);
  log.info(`gate: asking the new pods ${gate.prompts.length} prompt(s)`, {
    attempt: claimed.verification?.attempts,
    baselineFrom: baseline?.rolloutId ?? null,
  });
  const outcome = await runGate({ rollout: claimed, gate, cluster, baseline, deadline: until, now: () => deps.clock.now() });
  if (outcome.kind === 'unreachable')
    log.warn(`gate: no verdict yet (the rollout fails GateTimeout if none comes in time): ${outcome.message}`, { pods: outcome.pods });
  const after = nextStep(claimed, { kind: 'gate', outcome }, deps.clock.now());
  return actAndFinish(claimed, after, cluster, deps, log, deps.clock.now());
}

/**
 * The `sameAsPrevious` baseline: the answers recorded by the target's previous good rollout when it
 * passed its gate — only when it served the same model (a target switched to another model has no
 * previous answers to keep).
 */
async function baselineFor(r: Rollout, deps: RolloutDeps): Promise<{ rolloutId: string; answers: Record<string, string> } | null> {
  if (!r.previousGoodRolloutId) return null;
  const prev = await deps.rollouts.getRollout(r.previousGoodRolloutId);
  if (!prev || prev.model !== r.model || !prev.verification?.verdict?.passed) return null;
  return { rolloutId: prev.id, answers: prev.verification.verdict.answers };
}

async function observeCaches(r: Rollout, plan: RolloutCachePlan, deps: RolloutDeps, log: Logger): Promise<CacheObservation[]> {
  if (!deps.caches) return plan.zones.map((zone) => ({ zone, state: 'unknown' as const, message: 'no cache control configured' }));
  const use = { rolloutId: r.id, targetKey: r.targetKey, target: r.target, requestedBy: r.request.requestedBy };
  return ensureCaches(plan, use, deps.caches, deps.clock, log);
}

async function finish(
  before: Rollout,
  step: { rollout: Rollout; actions: Action[] },
  deps: RolloutDeps,
  log: Logger,
): Promise<{ phase: string; changed: boolean }> {
  const after = step.rollout;
  if (after === before || JSON.stringify(after) === JSON.stringify(before)) return { phase: after.phase, changed: false };
  const saved = await deps.rollouts.saveStep(after, before.updatedAt, deps.clock.now());
  if (!saved.saved) return { phase: before.phase, changed: false }; // another worker advanced it first
  if (after.phase !== before.phase) {
    const entry = { from: before.phase, to: after.phase, reason: after.reason, detail: after.message };
    const warning = after.phase === 'failed' || after.phase === 'rolling_back' || after.reason === 'CacheWaitExceeded' || after.reason === 'CachesUnavailable';
    if (warning) log.warn(`rollout ${after.phase}: ${after.message}`, entry);
    else log.info(`rollout ${after.phase}`, entry);
  }
  if (saved.next) {
    log.info(`target free: starting queued rollout ${saved.next}`);
    await advanceRollout(saved.next, deps);
  }
  return { phase: after.phase, changed: true };
}

async function carryOut(actions: Action[], cluster: ClusterClient, deps: RolloutDeps, log: Logger, rollout?: Rollout): Promise<void> {
  for (const a of actions) {
    switch (a.kind) {
      case 'apply': {
        // The bytes served are the bytes validated: re-list the version right before applying.
        if (deps.objects && rollout) {
          const version = await deps.versions.getVersion(rollout.model, rollout.version);
          if (version) {
            await assertValidatedContent(version, deps.objects, renderedContentKey(rollout));
            await pinVersion(version, rollout.id, deps, log);
          }
        }
        // What the target ran before (its last good spec) tells which of its extras are now stale.
        const target = await deps.rollouts.getTarget(a.target);
        const before = target?.lastGood ? await deps.rollouts.getRollout(target.lastGood.rolloutId) : undefined;
        await applySpec(cluster, a.spec, before?.spec);
        log.info(`applied ${a.target.namespace}/${a.target.name} (server-side apply, field manager ferry)`, { action: a.kind });
        break;
      }
      case 'reapply-previous': {
        const prev = await deps.rollouts.getRollout(a.rolloutId);
        if (!prev) throw new FerryError('PREVIOUS_ROLLOUT_MISSING', `rollout ${a.rolloutId} (the previous good one) is gone; cannot roll back`);
        const failed = await deps.rollouts.getRollout(a.failedRolloutId);
        await applySpec(cluster, prev.spec, failed?.spec);
        log.warn(`rolling back ${a.target.namespace}/${a.target.name} to ${a.rolloutId} (${prev.model}/${prev.version})`, { action: a.kind });
        break;
      }
      case 'scale-to-zero':
        try {
          await cluster.scaleDeployment(a.target.namespace, a.target.name, 0);
        } catch (e) {
          if (asFerryError(e).code !== 'CLUSTER_NOT_FOUND') throw e;
        }
        log.warn(`scaled ${a.target.namespace}/${a.target.name} to zero: no previous good version to roll back to`, { action: a.kind });
        break;
      case 'notify':
        await publishResult(
          deps,
          {
            kind: 'rollout',
            rolloutId: a.rolloutId,
            target: a.target,
            phase: a.phase,
            reason: a.reason,
            message: a.message,
            ...(a.gate ? { gate: a.gate } : {}),
          },
          log,
        );
        break;
    }
  }
}

/** Holds reported unsupported already (logged once per process, HOLDS_UNSUPPORTED). */
let holdsUnsupportedLogged = false;

/**
 * Temporary holds on the version's objects before applying (shared/app/holds.ts). A failure to hold
 * does not stop the rollout: the re-listing just before (CONTENT_CHANGED) and the reconciler's drift
 * check still guard the content, and refusing would turn a missing IAM grant or a GCS hiccup into
 * an outage of every deploy. It is logged on the rollout with HOLD_FAILED and the next step; only a
 * content change found while holding refuses the apply.
 */
async function pinVersion(version: VersionDoc, rolloutId: string, deps: RolloutDeps, log: Logger): Promise<void> {
  if (!deps.objects) return;
  try {
    const r = await holdVersion(version, rolloutId, { objects: deps.objects, versions: deps.versions, clock: deps.clock, logger: log });
    if (r.status === 'held')
      log.info(`held ${r.held} object(s) of ${version.model}/${version.version} (GCS temporary holds)`, { held: r.held, heldByOthers: r.others });
    else if (!holdsUnsupportedLogged) {
      holdsUnsupportedLogged = true;
      log.warn('holds unsupported here (the Storage emulator answers 501 to object PATCH): rolling out without temporary holds; the drift check is the guard', {
        code: 'HOLDS_UNSUPPORTED',
      });
    }
  } catch (e) {
    const err = asFerryError(e, 'HOLD_FAILED');
    if (err.code === 'CONTENT_CHANGED') throw err;
    log.warn(`could not hold ${version.model}/${version.version}'s objects; applying without temporary holds: ${err.message}`, {
      code: 'HOLD_FAILED',
      cause: err.code,
      hint: err.hint ?? "Grant the function's service account storage.objects.update on the model bucket (infra/iam.tf model_object_holder).",
    });
  }
}

/**
 * Server-side applies every object of a rendered spec in order (ComputeClass, Service, Deployment,
 * PodMonitoring, HPA), then deletes the per-target extras `replaced` had and `spec` no longer has
 * (e.g. an HPA when autoscaling is turned off, or on rollback to a spec without one).
 */
async function applySpec(cluster: ClusterClient, spec: RenderedSpec, replaced?: RenderedSpec): Promise<void> {
  const ns = spec.deployment.metadata?.namespace;
  if (ns) await cluster.ensureNamespace(ns);
  for (const obj of objectsToApply(spec)) {
    if (obj.kind === 'Deployment' && obj.apiVersion === 'apps/v1') await cluster.applyDeployment(obj as V1Deployment);
    else if (obj.kind === 'Service' && obj.apiVersion === 'v1') await cluster.applyService(obj as V1Service);
    else await cluster.applyObject(obj);
  }
  for (const ref of staleObjects(replaced, spec)) await cluster.deleteObject(ref);
}

function resultOf(r: Rollout) {
  return { kind: 'rollout', rolloutId: r.id, target: r.target, phase: r.phase, reason: r.reason, message: r.message };
}

async function publishResult(deps: RolloutDeps, result: Record<string, unknown>, log: Logger): Promise<void> {
  if (!deps.config.resultsTopic) return;
  try {
    await deps.publisher.publishJson(deps.config.resultsTopic, result, { kind: String(result['kind']) });
  } catch (e) {
    // A lost notification must not undo or stall a rollout; it is logged with its reason.
    log.error('could not publish a deploy result', { error: asFerryError(e), result });
  }
}

/** The scheduled reconciler: advance every rollout in flight; one failing never blocks the others. */
export async function advanceAll(deps: RolloutDeps): Promise<{ advanced: number; changed: number; failed: number }> {
  const inflight = await deps.rollouts.listInFlight();
  let changed = 0;
  let failed = 0;
  for (const r of inflight) {
    try {
      if ((await advanceRollout(r.id, deps)).changed) changed++;
    } catch (e) {
      failed++;
      deps.logger.warn(`could not advance rollout ${r.id}; the next tick retries`, { rolloutId: r.id, error: asFerryError(e) });
    }
  }
  return { advanced: inflight.length, changed, failed };
}

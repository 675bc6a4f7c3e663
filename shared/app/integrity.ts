/**
 * Integrity of what is served (issue #20): the version's content — its set of (object, generation)
 * — is re-listed and compared with the one ferry validated, right before a rollout applies
 * (CONTENT_CHANGED refuses it) and on every reconcile tick for the versions targets serve or are
 * rolling out (drift: flagged on the version, logged, published on the results topic and, when
 * FERRY_ALERTS_SLACK_WEBHOOK_URL is set, posted to Slack). One
 * listing of the version's prefix per version; no object is read.
 *
 * "The validated content" is two things, both checked: the version's `files` (what its last
 * validation read), and the content key the rollout was rendered with (the Deployment's
 * `ferry.dev/checkpoint-digest`, = upload.ts contentKey at deploy time). The second catches an
 * overwrite that was itself validated again after the deploy: the pods that start later would
 * read bytes other than those validated when the target was deployed.
 */
import { FerryError, asFerryError } from '../domain/errors.ts';
import { contentIsSame, describeContentDiff, diffContent, type ContentDiff } from '../domain/manifest.ts';
import { contentKey } from '../domain/upload.ts';
import { ANNOTATIONS } from '../domain/rendered-spec.ts';
import type { Rollout } from '../domain/rollout.ts';
import type { TargetState } from '../domain/target-state.ts';
import type { VersionDoc } from '../domain/version.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { CheckpointState } from '../ports/checkpoint-state.ts';
import type { RolloutState } from '../ports/rollout-state.ts';
import type { Publisher } from '../ports/publisher.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Notify } from '../ports/notifier.ts';
import { driftMessage } from '../domain/chat-drift.ts';

/** gs://bucket/models/m/v → bucket and the version's prefix (ending in `/`). */
export function versionLocation(uri: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([^/]+)\/(.+?)\/?$/.exec(uri);
  if (!m) throw new FerryError('INTERNAL', `version uri ${JSON.stringify(uri)} is not gs://bucket/prefix`);
  return { bucket: m[1]!, prefix: `${m[2]}/` };
}

export interface ContentCheck {
  same: boolean;
  /** Against the version's validated `files`. */
  diff: ContentDiff;
  /** The content key of what the bucket holds now. */
  key: string;
  /** Why it is not the same, in words (empty when it is). */
  why: string;
}

/** The bucket now against the version's validated files and, when given, the key a rollout was rendered with. */
export async function checkContent(version: VersionDoc, objects: (bucket: string) => ObjectStore, renderedKey?: string): Promise<ContentCheck> {
  const { bucket, prefix } = versionLocation(version.uri);
  const listing = await objects(bucket).list(prefix);
  const diff = diffContent(version.files, listing, prefix);
  const key = contentKey(version.model, version.version, listing);
  const filesSame = contentIsSame(diff);
  const keySame = renderedKey === undefined || renderedKey === 'unknown' || renderedKey === key;
  const why = !filesSame
    ? describeContentDiff(diff)
    : !keySame
      ? `the files were replaced and validated again after this rollout was rendered (content ${renderedKey} → ${key})`
      : '';
  return { same: filesSame && keySame, diff, key, why };
}

/** The content key a rollout was rendered with (its Deployment's checkpoint-digest annotation). */
export const renderedContentKey = (r: Pick<Rollout, 'spec'>): string | undefined => r.spec.deployment.metadata?.annotations?.[ANNOTATIONS.checkpointDigest];

/** Refuses (CONTENT_CHANGED, not retryable) when the bucket no longer holds the validated content. */
export async function assertValidatedContent(version: VersionDoc, objects: (bucket: string) => ObjectStore, renderedKey?: string): Promise<void> {
  const c = await checkContent(version, objects, renderedKey);
  if (c.same) return;
  throw new FerryError('CONTENT_CHANGED', `${version.model}/${version.version} is not the content ferry validated (${c.why}); not applying it`, {
    details: { model: version.model, version: version.version, ...c.diff },
  });
}

export interface DriftDeps {
  /** Every target's state (teardown's store lists them). */
  targets: () => Promise<TargetState[]>;
  rollouts: Pick<RolloutState, 'getRollout'>;
  versions: Pick<CheckpointState, 'getVersion' | 'recordDrift'>;
  objects: (bucket: string) => ObjectStore;
  publisher: Publisher;
  resultsTopic?: string | undefined;
  /** Optional Slack alert (FERRY_ALERTS_SLACK_WEBHOOK_URL), posted with the results message: once per change. */
  alert?: Notify | undefined;
  clock: Clock;
  logger: Logger;
}

/**
 * The reconciler's drift check: each version a target serves (its last good rollout) or is rolling
 * out (its active rollout), against its validated content and the content key that rollout was
 * rendered with. A change is flagged on the version (`drift`, with the targets), logged as an error
 * and published once on the results topic (`kind: integrity`, code CONTENT_CHANGED) and to the
 * alerts webhook (a failed post is logged with its code, never fatal); when the
 * content is the validated one again, the flag is cleared.
 */
export async function checkServedContent(d: DriftDeps): Promise<{ checked: number; drifted: number; cleared: number; failed: number }> {
  const served = new Map<string, { model: string; version: string; targets: Set<string>; keys: Set<string> }>();
  const add = (model: string, version: string, target: string, key: string | undefined) => {
    const k = `${model}/${version}`;
    const e = served.get(k) ?? { model, version, targets: new Set<string>(), keys: new Set<string>() };
    e.targets.add(target);
    if (key) e.keys.add(key);
    served.set(k, e);
  };
  for (const t of await d.targets()) {
    for (const id of new Set([t.lastGood?.rolloutId, t.activeRolloutId].filter((x): x is string => !!x))) {
      const r = await d.rollouts.getRollout(id);
      if (r) add(r.model, r.version, t.key, renderedContentKey(r));
    }
  }
  let drifted = 0;
  let cleared = 0;
  let failed = 0;
  for (const s of served.values()) {
    const log = d.logger.child({ model: s.model, version: s.version });
    try {
      const v = await d.versions.getVersion(s.model, s.version);
      if (!v || v.files.length === 0) continue;
      // Each rendered key is checked; the first one that differs says why.
      let check = await checkContent(v, d.objects);
      for (const key of s.keys) {
        if (!check.same) break;
        check = await checkContent(v, d.objects, key);
      }
      const targets = [...s.targets].sort();
      if (check.same) {
        if (v.drift) {
          await d.versions.recordDrift(s.model, s.version, null);
          cleared++;
          log.info('served content is the validated one again; drift flag cleared', { targets });
        }
        continue;
      }
      drifted++;
      const drift = { ...check.diff, targets, seenAt: d.clock.now().toISOString() };
      const known = v.drift && JSON.stringify({ ...v.drift, seenAt: '' }) === JSON.stringify({ ...drift, seenAt: '' });
      if (known) continue; // flagged and announced already
      await d.versions.recordDrift(s.model, s.version, drift);
      const message = `${s.model}/${s.version}, served by ${targets.join(', ')}, is not the content ferry validated: ${check.why}. Pods that start now read other bytes; upload it again as a new version and deploy that.`;
      log.error(message, { code: 'CONTENT_CHANGED', targets, ...check.diff });
      if (d.resultsTopic) {
        await d.publisher
          .publishJson(
            d.resultsTopic,
            { kind: 'integrity', code: 'CONTENT_CHANGED', model: s.model, version: s.version, targets, message, ...check.diff },
            { kind: 'integrity' },
          )
          .catch((e: unknown) => log.error('could not publish the drift', { error: asFerryError(e) }));
      }
      if (d.alert) {
        await d.alert(driftMessage({ model: s.model, version: s.version, targets, why: check.why, ...check.diff })).catch((e: unknown) => {
          const err = asFerryError(e);
          log.error(`could not post the drift alert to Slack: ${err.message}`, { code: err.code, error: err });
        });
      }
    } catch (e) {
      failed++;
      log.warn('could not check the served content; the next tick tries again', { error: asFerryError(e) });
    }
  }
  return { checked: served.size, drifted, cleared, failed };
}

/**
 * In-memory fakes for the chat-ops ports, for unit tests. The command store applies the same pure
 * decisions (decideChatClaim, decidePost) the Firestore adapter runs in its transactions.
 */
import { decideChatClaim, decidePost, type ChatCommandRecord, type PostDecision } from '../../shared/domain/chat-command-record.ts';
import type { ChatMessage } from '../../shared/domain/chat-blocks.ts';
import type { Chat, ChatCommandStore, ClaimResult } from '../../shared/ports/chat.ts';
import type { Publisher } from '../../shared/ports/publisher.ts';
import type { Rollout } from '../../shared/domain/rollout.ts';
import type { TargetState } from '../../shared/domain/target-state.ts';
import type { RejectedRequest, RolloutState } from '../../shared/ports/rollout-state.ts';
import type { CheckpointState } from '../../shared/ports/checkpoint-state.ts';
import { VersionBrief, type ModelDoc, type VersionDoc } from '../../shared/domain/version.ts';
import { targetKey, type Target } from '../../shared/domain/names.ts';
import { slackSignature } from '../../shared/domain/slack.ts';

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryChatCommands implements ChatCommandStore {
  readonly docs = new Map<string, ChatCommandRecord>();
  async create(record: ChatCommandRecord): Promise<'created' | 'duplicate'> {
    if (this.docs.has(record.id)) return 'duplicate';
    this.docs.set(record.id, clone(record));
    return 'created';
  }
  async get(id: string) {
    const r = this.docs.get(id);
    return r ? clone(r) : undefined;
  }
  async claim(id: string, now: Date, leaseMs: number): Promise<ClaimResult> {
    const r = this.docs.get(id);
    if (!r) return { outcome: 'skip', reason: 'MISSING' };
    const d = decideChatClaim(r, now, leaseMs);
    if (d.action === 'skip') return { outcome: 'skip', reason: d.reason };
    this.docs.set(id, clone(d.record));
    return { outcome: 'claimed', record: clone(d.record) };
  }
  async release(id: string, now: Date) {
    const r = this.docs.get(id);
    if (r?.status === 'running') this.docs.set(id, { ...r, status: 'queued', leaseUntil: null, updatedAt: now.toISOString() });
  }
  async note(id: string, fields: Partial<Pick<ChatCommandRecord, 'deployMessageId' | 'rolloutId'>>, now: Date) {
    const r = this.docs.get(id);
    if (r) this.docs.set(id, { ...r, ...fields, updatedAt: now.toISOString() });
  }
  async finish(id: string, result: { status: 'done' | 'failed'; outcome: { code: string; message: string } }, now: Date) {
    const r = this.docs.get(id);
    if (r)
      this.docs.set(id, {
        ...r,
        status: result.status,
        outcome: result.outcome,
        leaseUntil: null,
        finishedAt: now.toISOString(),
        updatedAt: now.toISOString(),
      });
  }
  async reservePost(id: string, key: string, now: Date): Promise<{ decision: PostDecision; record: ChatCommandRecord | undefined }> {
    const r = this.docs.get(id);
    if (!r) return { decision: { action: 'skip', reason: 'ALREADY_POSTED' }, record: undefined };
    const decision = decidePost(r, key, now);
    if (decision.action === 'post') this.docs.set(id, clone(decision.record));
    return { decision, record: clone(r) };
  }
  async findByDeployMessage(messageId: string) {
    return [...this.docs.values()].find((r) => r.deployMessageId === messageId);
  }
}

export interface Published {
  topic: string;
  data: unknown;
  attributes: Record<string, string>;
  messageId: string;
}

/** Records publishes; `onPublish` may act like a subscriber (it is called, not awaited). */
export class RecordingPublisher implements Publisher {
  readonly published: Published[] = [];
  fail: Error | undefined;
  onPublish: ((p: Published) => void) | undefined;
  /** When set, every publish waits for it first (a slow or stuck broker). */
  hold: Promise<void> | undefined;
  private n = 0;
  async publishJson(topic: string, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
    if (this.hold) await this.hold;
    if (this.fail) throw this.fail;
    const p = { topic, data: clone(data), attributes, messageId: `msg-${++this.n}` };
    this.published.push(p);
    this.onPublish?.(p);
    return p.messageId;
  }
}

/** Records posts. `gate`, when set, holds every post until it resolves (a slow or stuck Slack). */
export class RecordingChat implements Chat {
  readonly posts: Array<{ url: string; message: ChatMessage }> = [];
  gate: Promise<void> | undefined;
  fail: Error | undefined;
  async respond(url: string, message: ChatMessage): Promise<void> {
    if (this.gate) await this.gate;
    if (this.fail) throw this.fail;
    this.posts.push({ url, message: clone(message) });
  }
}

const notUsed = (name: string) => async (): Promise<never> => {
  throw new Error(`${name} is not used by chat commands`);
};

/** The parts of RolloutState chat commands read, backed by maps tests fill. */
export class FakeRollouts implements RolloutState {
  readonly rollouts = new Map<string, Rollout>();
  readonly targets = new Map<string, TargetState>();
  readonly byMessage = new Map<string, string>();
  readonly rejected: RejectedRequest[] = [];
  admit = notUsed('admit') as RolloutState['admit'];
  recordRejected = notUsed('recordRejected') as RolloutState['recordRejected'];
  saveStep = notUsed('saveStep') as RolloutState['saveStep'];
  listInFlight = notUsed('listInFlight') as RolloutState['listInFlight'];
  async rolloutIdForMessage(messageId: string) {
    return this.byMessage.get(messageId) ?? null;
  }
  async listRejected(model?: string) {
    return this.rejected.filter((r) => model === undefined || r.model === model);
  }
  async getRollout(id: string) {
    return this.rollouts.get(id);
  }
  async getRollouts(ids: readonly string[]) {
    return ids.flatMap((id) => this.rollouts.get(id) ?? []);
  }
  async getTarget(target: Target) {
    return this.targets.get(targetKey(target));
  }
  async listRollouts(filter: { model?: string; targetKey?: string; limit?: number }) {
    return [...this.rollouts.values()]
      .filter((r) => (!filter.model || r.model === filter.model) && (!filter.targetKey || r.targetKey === filter.targetKey))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, filter.limit ?? 100);
  }
  async recentLoadRates(model: string, limit: number) {
    return [...this.rollouts.values()]
      .filter((r) => r.model === model && r.phase === 'succeeded')
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .flatMap((r) => {
        const rate = (r as { coldStart?: { measured?: { gibPerSecond?: unknown } | null } }).coldStart?.measured?.gibPerSecond;
        return typeof rate === 'number' && rate > 0 ? [rate] : [];
      })
      .slice(0, limit);
  }
}

/** The parts of CheckpointState chat commands read. `block`, when set, holds every read. */
export class FakeVersions implements CheckpointState {
  readonly models = new Map<string, ModelDoc>();
  readonly versions = new Map<string, VersionDoc>();
  block: Promise<void> | undefined;
  recordIncomplete = notUsed('recordIncomplete') as CheckpointState['recordIncomplete'];
  claimValidation = notUsed('claimValidation') as CheckpointState['claimValidation'];
  finishValidation = notUsed('finishValidation') as CheckpointState['finishValidation'];
  releaseClaim = notUsed('releaseClaim') as CheckpointState['releaseClaim'];
  failValidation = notUsed('failValidation') as CheckpointState['failValidation'];
  takePendingAutodeploy = notUsed('takePendingAutodeploy') as CheckpointState['takePendingAutodeploy'];
  autodeployPublished = notUsed('autodeployPublished') as CheckpointState['autodeployPublished'];
  getClaim = notUsed('getClaim') as CheckpointState['getClaim'];
  setAutodeploy = notUsed('setAutodeploy') as CheckpointState['setAutodeploy'];
  recordDrift = notUsed('recordDrift') as CheckpointState['recordDrift'];
  recordHolds = notUsed('recordHolds') as CheckpointState['recordHolds'];
  listHeldVersions = notUsed('listHeldVersions') as CheckpointState['listHeldVersions'];
  private async wait() {
    if (this.block) await this.block;
  }
  async getModel(model: string) {
    await this.wait();
    return this.models.get(model);
  }
  async getVersion(model: string, version: string) {
    await this.wait();
    return this.versions.get(`${model}/${version}`);
  }
  async listModels() {
    await this.wait();
    return [...this.models.values()];
  }
  async listVersions(model: string) {
    await this.wait();
    return [...this.versions.values()].filter((v) => v.model === model);
  }
  async getTensorBytes(refs: ReadonlyArray<{ model: string; version: string }>) {
    await this.wait();
    return refs.flatMap((r) => {
      const v = this.versions.get(`${r.model}/${r.version}`);
      return v ? [{ model: v.model, version: v.version, tensorBytes: v.summary?.tensorBytes ?? null }] : [];
    });
  }
  async listVersionBriefs() {
    await this.wait();
    return [...this.versions.values()].map((v) => VersionBrief.parse(v));
  }
  async listVersionsWithStatus(model: string, status: VersionDoc['status']) {
    return (await this.listVersions(model)).filter((v) => v.status === status);
  }
  async latestValidVersion(model: string) {
    await this.wait();
    return [...this.versions.values()]
      .filter((v) => v.model === model && v.status === 'valid')
      .sort((a, b) => String(b.validatedAt).localeCompare(String(a.validatedAt)))[0];
  }
}

/** A slash-command request as Slack sends it: form body, timestamp and v0 signature. */
export function slackRequest(
  secret: string,
  fields: Record<string, string>,
  opts: { timestamp?: number; now?: Date } = {},
): { rawBody: Uint8Array; timestamp: string; signature: string; body: string } {
  const body = new URLSearchParams({
    token: 'ignored',
    team_id: 'T0001',
    team_domain: 'ferry',
    channel_id: 'C0001',
    channel_name: 'ops',
    user_id: 'ULOCALDEV',
    user_name: 'dev',
    command: '/ferry',
    text: '',
    response_url: 'https://hooks.slack.com/commands/T0001/1/abc',
    trigger_id: `${Math.random()}`.slice(2),
    ...fields,
  }).toString();
  const ts = String(opts.timestamp ?? Math.floor((opts.now ?? new Date()).getTime() / 1000));
  return { rawBody: new TextEncoder().encode(body), timestamp: ts, signature: slackSignature(secret, ts, body), body };
}

/** A promise with its resolve, for holding fakes until a test lets go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

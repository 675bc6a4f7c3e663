/**
 * Firestore storage for chat commands: `chatCommands/{id}`, one document per accepted command
 * (who, what, when, the reply address, what the worker did). Claims and post reservations run in
 * transactions that ask the pure decisions in domain/chat-command-record.ts what to write.
 */
import type { Firestore, Transaction } from '@google-cloud/firestore';
import { ChatCommandRecord, decideChatClaim, decidePost, type PostDecision } from '../domain/chat-command-record.ts';
import type { ChatCommandStore, ClaimResult } from '../ports/chat.ts';
import { FerryError } from '../domain/errors.ts';
import { firestoreError, runTransaction } from './firestore.ts';

const ALREADY_EXISTS = 6;

function parse(data: unknown, path: string): ChatCommandRecord {
  const r = ChatCommandRecord.safeParse(data);
  if (!r.success) {
    throw new FerryError(
      'STATE_CORRUPT',
      `document ${path} does not match its schema: ${r.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`,
    );
  }
  return r.data;
}

const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class FirestoreChatCommands implements ChatCommandStore {
  private readonly db: Firestore;
  constructor(db: Firestore) {
    this.db = db;
  }

  private ref(id: string) {
    return this.db.collection('chatCommands').doc(id);
  }

  private async tx<T>(what: string, fn: (t: Transaction) => Promise<T>): Promise<T> {
    try {
      return await runTransaction(this.db, fn, 10);
    } catch (e) {
      throw firestoreError(e, what);
    }
  }

  async create(record: ChatCommandRecord): Promise<'created' | 'duplicate'> {
    try {
      await this.ref(record.id).create(plain(record));
      return 'created';
    } catch (e) {
      if ((e as { code?: unknown }).code === ALREADY_EXISTS) return 'duplicate';
      throw firestoreError(e, 'createChatCommand');
    }
  }

  async get(id: string): Promise<ChatCommandRecord | undefined> {
    try {
      const snap = await this.ref(id).get();
      return snap.exists ? parse(snap.data(), snap.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'getChatCommand');
    }
  }

  async claim(id: string, now: Date, leaseMs: number): Promise<ClaimResult> {
    return this.tx('claimChatCommand', async (t) => {
      const snap = await t.get(this.ref(id));
      if (!snap.exists) return { outcome: 'skip', reason: 'MISSING' };
      const d = decideChatClaim(parse(snap.data(), snap.ref.path), now, leaseMs);
      if (d.action === 'skip') return { outcome: 'skip', reason: d.reason };
      t.set(snap.ref, plain(d.record));
      return { outcome: 'claimed', record: d.record };
    });
  }

  async release(id: string, now: Date): Promise<void> {
    await this.tx('releaseChatCommand', async (t) => {
      const snap = await t.get(this.ref(id));
      if (!snap.exists) return;
      const rec = parse(snap.data(), snap.ref.path);
      if (rec.status === 'running') t.set(snap.ref, plain({ ...rec, status: 'queued', leaseUntil: null, updatedAt: now.toISOString() }));
    });
  }

  async note(id: string, fields: Partial<Pick<ChatCommandRecord, 'deployMessageId' | 'rolloutId'>>, now: Date): Promise<void> {
    try {
      await this.ref(id).update({ ...plain(fields), updatedAt: now.toISOString() });
    } catch (e) {
      throw firestoreError(e, 'noteChatCommand');
    }
  }

  async finish(id: string, result: { status: 'done' | 'failed'; outcome: { code: string; message: string } }, now: Date): Promise<void> {
    const at = now.toISOString();
    try {
      await this.ref(id).update({ status: result.status, outcome: plain(result.outcome), leaseUntil: null, finishedAt: at, updatedAt: at });
    } catch (e) {
      throw firestoreError(e, 'finishChatCommand');
    }
  }

  async reservePost(id: string, key: string, now: Date): Promise<{ decision: PostDecision; record: ChatCommandRecord | undefined }> {
    return this.tx('reserveChatPost', async (t) => {
      const snap = await t.get(this.ref(id));
      if (!snap.exists) return { decision: { action: 'skip', reason: 'ALREADY_POSTED' } as PostDecision, record: undefined };
      const rec = parse(snap.data(), snap.ref.path);
      const decision = decidePost(rec, key, now);
      if (decision.action === 'post') t.set(snap.ref, plain(decision.record));
      return { decision, record: rec };
    });
  }

  async findByDeployMessage(messageId: string): Promise<ChatCommandRecord | undefined> {
    try {
      const snap = await this.db.collection('chatCommands').where('deployMessageId', '==', messageId).limit(1).get();
      const d = snap.docs[0];
      return d ? parse(d.data(), d.ref.path) : undefined;
    } catch (e) {
      throw firestoreError(e, 'findChatCommandByDeployMessage');
    }
  }
}

/**
 * Models' default promotion gates in Firestore: one document `models/{model}/settings/gate`
 * {schemaVersion: 1, model, gate, updatedAt, updatedBy, revision}. A subcollection of its own (`settings`), so the
 * collection-group query over `versions` (listVersionBriefs) and the listings of `models` and
 * `models/{m}/versions` never see it; writing it does not create the model's own document either.
 * What is read back is parsed with the gate's schema: a gate stored by an incompatible ferry (or
 * edited by hand) is STATE_CORRUPT, never used.
 */
import type { Firestore, DocumentReference } from '@google-cloud/firestore';
import { z } from 'zod';
import type { GateStore, StoredGate } from '../ports/gate-store.ts';
import { Gate } from '../domain/gate.ts';
import { FerryError } from '../domain/errors.ts';
import { firestoreError, parseDoc, runTransaction } from './firestore.ts';

const StoredGateDoc = z.object({
  schemaVersion: z.literal(1),
  model: z.string(),
  gate: Gate,
  updatedAt: z.string(),
  updatedBy: z.string(),
  revision: z.int().min(1),
});

const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class FirestoreGateStore implements GateStore {
  private readonly db: Firestore;
  constructor(db: Firestore) {
    this.db = db;
  }

  private ref(model: string): DocumentReference {
    return this.db.collection('models').doc(model).collection('settings').doc('gate');
  }

  private parse(data: unknown, path: string, model: string): StoredGate {
    try {
      const { schemaVersion: _, ...stored } = parseDoc(StoredGateDoc, data, path);
      return stored;
    } catch (e) {
      if (e instanceof FerryError && e.code === 'STATE_CORRUPT')
        throw new FerryError(e.code, `the default gate of ${model} is unreadable: ${e.message}`, {
          cause: e,
          hint: `Replace it with \`ferry gate set ${model} -f gate.json\`, or remove it with \`ferry gate clear ${model}\` (docs/gate.md).`,
        });
      throw e;
    }
  }

  async get(model: string): Promise<StoredGate | null> {
    try {
      const snap = await this.ref(model).get();
      return snap.exists ? this.parse(snap.data(), snap.ref.path, model) : null;
    } catch (e) {
      throw firestoreError(e, `read the default gate of ${model}`);
    }
  }

  async set(model: string, gate: Gate, by: string, now: Date): Promise<StoredGate> {
    try {
      return await runTransaction(this.db, async (t) => {
        const ref = this.ref(model);
        const snap = await t.get(ref);
        // The revision counts on even past a corrupt document (it is being replaced).
        const prev = snap.exists ? z.object({ revision: z.int().min(1) }).safeParse(snap.data()) : null;
        const stored: StoredGate = {
          model,
          gate: plain(gate),
          updatedAt: now.toISOString(),
          updatedBy: by,
          revision: (prev?.success ? prev.data.revision : 0) + 1,
        };
        t.set(ref, { schemaVersion: 1, ...stored });
        return stored;
      });
    } catch (e) {
      throw firestoreError(e, `write the default gate of ${model}`);
    }
  }

  async delete(model: string): Promise<boolean> {
    try {
      return await runTransaction(this.db, async (t) => {
        const ref = this.ref(model);
        const snap = await t.get(ref);
        if (!snap.exists) return false;
        t.delete(ref);
        return true;
      });
    } catch (e) {
      throw firestoreError(e, `remove the default gate of ${model}`);
    }
  }
}

/**
 * RolloutWatch on Firestore realtime listeners (`DocumentReference.onSnapshot`): the documents
 * FirestoreRolloutState writes — `deployRequests/{messageId}` (admitted or duplicate, with its
 * rollout id), `rejectedRequests/{messageId}` and `rollouts/{id}`. A listener's first snapshot is
 * the document as it is now, so a request handled before the watch started is seen at once.
 * https://cloud.google.com/nodejs/docs/reference/firestore/latest/firestore/documentreference#_google_cloud_firestore_DocumentReference_onSnapshot_member_1_
 */
import type { Firestore } from '@google-cloud/firestore';
import { Rollout } from '../domain/rollout.ts';
import type { RejectedRequest } from '../ports/rollout-state.ts';
import type { RequestFate, RolloutWatch, Unsubscribe } from '../ports/rollout-watch.ts';
import { firestoreError, parseDoc } from './firestore.ts';

export class FirestoreRolloutWatch implements RolloutWatch {
  private readonly db: Firestore;
  constructor(db: Firestore) {
    this.db = db;
  }

  watchRequest(messageId: string, onFate: (fate: RequestFate) => void, onError: (e: unknown) => void): Unsubscribe {
    const id = encodeURIComponent(messageId);
    const fail = (e: unknown) => onError(firestoreError(e, 'watch deploy request'));
    const admitted = this.db
      .collection('deployRequests')
      .doc(id)
      .onSnapshot((snap) => {
        if (!snap.exists) return;
        onFate({ kind: 'admitted', rolloutId: (snap.get('rolloutId') as string | null) ?? null, outcome: String(snap.get('outcome') ?? 'admitted') });
      }, fail);
    const rejected = this.db
      .collection('rejectedRequests')
      .doc(id)
      .onSnapshot((snap) => {
        if (!snap.exists) return;
        const { expireAt: _e, ...rest } = snap.data() as RejectedRequest & { expireAt?: unknown };
        onFate({ kind: 'rejected', rejected: rest });
      }, fail);
    return () => {
      admitted();
      rejected();
    };
  }

  watchRollout(id: string, onChange: (r: Rollout) => void, onError: (e: unknown) => void): Unsubscribe {
    return this.db
      .collection('rollouts')
      .doc(id)
      .onSnapshot(
        (snap) => {
          if (!snap.exists) return;
          try {
            onChange(parseDoc(Rollout, snap.data(), snap.ref.path));
          } catch (e) {
            onError(e);
          }
        },
        (e) => onError(firestoreError(e, 'watch rollout')),
      );
  }
}

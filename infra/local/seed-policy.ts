/**
 * The local stack's deploy policy: infra/local/policy.json (the `local` cluster, namespaces demo,
 * ml and ferry-*, the vLLM images, a few safe flags, every source), written as version 1 when the
 * Firestore emulator holds no policy yet, so `npm run demo` and the tests deploy within it. A
 * policy already there (`ferry policy set` on a running stack) is kept.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { FirestorePolicyStore } from '../../shared/adapters/firestore-policy.ts';
import { parsePolicy, policyDiff } from '../../shared/domain/policy.ts';

export const LOCAL_POLICY_FILE = join(import.meta.dirname, 'policy.json');

export async function seedLocalPolicy(opts: { projectId: string; firestoreHost: string; databaseId: string }): Promise<'seeded' | 'kept'> {
  const parsed = parsePolicy(JSON.parse(readFileSync(LOCAL_POLICY_FILE, 'utf8')));
  if (!parsed.ok) throw new Error(`${LOCAL_POLICY_FILE} is not a valid policy: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  const [host, port] = opts.firestoreHost.split(':');
  // The emulator takes any token; "owner" bypasses its security rules.
  // The policy's own database (FERRY_POLICY_DATABASE): the emulator opens a named one on first use.
  const db = new Firestore({
    projectId: opts.projectId,
    databaseId: opts.databaseId,
    host: host!,
    port: Number(port),
    ssl: false,
    customHeaders: { Authorization: 'Bearer owner' },
  });
  try {
    const store = new FirestorePolicyStore(db);
    if (await store.current()) return 'kept';
    const r = await store.replace({
      policy: parsed.policy,
      expectedVersion: null,
      by: 'npm start (infra/local/policy.json)',
      now: new Date(),
      diff: policyDiff(null, parsed.policy),
    });
    return r.ok ? 'seeded' : 'kept';
  } finally {
    await db.terminate();
  }
}

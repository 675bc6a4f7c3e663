/**
 * The deploy function follows its rollout with a Kubernetes watch (shared/app/follow-deployment.ts)
 * on the local stack's real kube-apiserver: with the scheduled reconciler's ticks held back (its push
 * subscription switched to pull for the test, then restored), a deploy request handled in-process
 * still ends `succeeded`, advanced by the follow on the watch's changes. Without the follow the
 * rollout would sit in `progressing` until the next tick.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub } from '@google-cloud/pubsub';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, uniqueName } from '../helpers/stack-env.ts';
import { uploadVersion } from '../helpers/upload-version.ts';
import { firestoreClient, FirestoreCheckpointState } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { FirestorePolicyStore } from '../../shared/adapters/firestore-policy.ts';
import { clusterProvider } from '../../shared/adapters/kubernetes.ts';
import { PubSubPublisher, pubsubClient } from '../../shared/adapters/pubsub.ts';
import { handleDeployRequest, type RolloutDeps } from '../../shared/app/rollouts.ts';
import { memoryLogger } from '../../shared/adapters/logging.ts';
import { systemClock } from '../../shared/ports/clock.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'KUBECONFIG',
  'FERRY_KUBE_ADMIN_KUBECONFIG',
  'FERRY_POLICY_DATABASE',
);
const db = firestoreClient(env.GOOGLE_CLOUD_PROJECT);
const rollouts = new FirestoreRolloutState(db);
const pubsub = new PubSub({ projectId: env.GOOGLE_CLOUD_PROJECT });
// The local stack's scheduler publishes ticks to the reconciler's topic; this subscription pushes them.
const ticks = pubsub.subscription('reconcileRollouts-push');
const admin = new KubeConfig();
admin.loadFromFile(env.FERRY_KUBE_ADMIN_KUBECONFIG);
const core = admin.makeApiClient(CoreV1Api);
const model = uniqueName('follow');
const NS = 'ferry-it-follow';
let tickEndpoint: string | undefined;

before(async () => {
  await uploadVersion(env, model, 'v1');
  const [meta] = await ticks.getMetadata();
  tickEndpoint = meta.pushConfig?.pushEndpoint ?? undefined;
  assert.ok(tickEndpoint, 'the reconciler is reached by push');
  // Ticks published from now on wait in the subscription (pull mode) until after() restores the push.
  await ticks.modifyPushConfig({});
  // A tick pushed just before may still be running; let it finish before the rollout exists.
  await sleep(3000);
});
after(async () => {
  if (tickEndpoint) await ticks.modifyPushConfig({ pushEndpoint: tickEndpoint });
  await pubsub.close();
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
});

test('with no reconciler tick, the deploy function follows its rollout to succeeded through the watch', async () => {
  const log = memoryLogger();
  const deps: RolloutDeps = {
    rollouts,
    policy: new FirestorePolicyStore(firestoreClient(env.GOOGLE_CLOUD_PROJECT, env.FERRY_POLICY_DATABASE)),
    versions: new FirestoreCheckpointState(db),
    clusters: clusterProvider({ localKubeconfig: env.KUBECONFIG }),
    publisher: new PubSubPublisher(pubsubClient(env.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: log,
    // Generous: on a busy machine the simulated pod may take a while; the follow ends at `succeeded`.
    config: { followSeconds: 240 },
  };
  const request = {
    apiVersion: 'ferry/v1',
    model,
    version: 'v1',
    target: { cluster: 'local', namespace: NS, name: 'llama' },
    accelerator: { type: 'nvidia-l4', count: 1 },
    replicas: 1,
    requestedBy: { source: 'pubsub', principal: 'integration-test' },
  };
  const out = await handleDeployRequest(
    { data: Buffer.from(JSON.stringify(request)), messageId: uniqueName('follow-msg'), publishTime: new Date().toISOString() },
    deps,
  );
  assert.equal(out.outcome, 'admitted', JSON.stringify(out));
  if (out.outcome !== 'admitted') return;
  assert.ok(out.followed, 'the rollout was followed');
  assert.equal(out.followed.ended, 'terminal', JSON.stringify(out.followed));
  assert.equal(out.followed.mode, 'watch', 'followed through the Kubernetes watch, not by polling');
  assert.ok(out.followed.watchEvents > 0, 'the watch reported the Deployment and pod changes');
  assert.ok(out.followed.changed > 0, 'this worker saved the steps after admission');
  const r = await rollouts.getRollout(out.rolloutId);
  assert.equal(r?.phase, 'succeeded', `${r?.reason}: ${r?.message}`);
  // The step to `succeeded` was saved by this worker (finish() logs through its logger), and no
  // tick was pushed meanwhile: the reconciler's push subscription was paused throughout.
  assert.ok(
    log.entries.some((e) => e['message'] === 'rollout succeeded' && e['rolloutId'] === out.rolloutId),
    'the follow advanced the rollout to succeeded',
  );
});

/**
 * The follow function (followRollout, its own push subscription) follows a rollout with a
 * Kubernetes watch (shared/app/follow-deployment.ts) on the local stack's real kube-apiserver: with
 * the scheduled reconciler's ticks held back (its push subscription switched to pull for the test,
 * then restored), a deploy request published to the deploy topic is admitted by onDeployRequest,
 * which hands `{rolloutId}` to the follow topic and acks; the rollout still ends `succeeded`, which
 * only the follow can have done. Without it the rollout would sit in `progressing` until a tick.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { stackEnv, eventually, uniqueName } from '../helpers/stack-env.ts';
import { uploadVersion } from '../helpers/upload-version.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { parseFollowRequest } from '../../shared/app/follow-request.ts';
import { isTerminalPhase } from '../../shared/domain/rollout.ts';

const env = stackEnv(
  'GOOGLE_CLOUD_PROJECT',
  'STORAGE_EMULATOR_HOST',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'FERRY_BUCKET',
  'FERRY_DEPLOY_TOPIC',
  'FERRY_FOLLOW_TOPIC',
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
// A second subscription on the follow topic: sees the follow requests the deploy function publishes.
const probe = pubsub.topic(env.FERRY_FOLLOW_TOPIC).subscription(uniqueName('follow-probe'));
const followRequests: string[] = [];

before(async () => {
  await uploadVersion(env, model, 'v1');
  await probe.create();
  probe.on('message', (m: Message) => {
    const r = parseFollowRequest(m.data);
    if (r.ok) followRequests.push(r.request.rolloutId);
    m.ack();
  });
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
  await probe.close().catch(() => undefined);
  await probe.delete().catch(() => undefined);
  await pubsub.close();
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
});

test('with no reconciler tick, followRollout follows the rollout the deploy function admitted to succeeded', async () => {
  const request = {
    apiVersion: 'ferry/v1',
    model,
    version: 'v1',
    target: { cluster: 'local', namespace: NS, name: 'llama' },
    accelerator: { type: 'nvidia-l4', count: 1 },
    replicas: 1,
    requestedBy: { source: 'pubsub', principal: 'integration-test' },
  };
  const messageId = await pubsub.topic(env.FERRY_DEPLOY_TOPIC).publishMessage({ json: request });
  const id = (await eventually(
    `message ${messageId} handled`,
    () => rollouts.rolloutIdForMessage(messageId),
    (x) => x !== null,
  ))!;
  // Generous: on a busy machine the simulated pod may take a while; the follow ends at `succeeded`.
  const r = await eventually(
    `rollout ${id} succeeded`,
    () => rollouts.getRollout(id),
    (x) => !!x && isTerminalPhase(x.phase),
    300_000,
    500,
  );
  assert.equal(r?.phase, 'succeeded', `${r?.reason}: ${r?.message}`);
  // The deploy function handed the rollout to the follow topic; no tick was pushed meanwhile (the
  // reconciler's push subscription was paused throughout), so the follow advanced it.
  await eventually(
    `follow request for ${id} seen`,
    async () => followRequests.includes(id),
    (x) => x,
  );
});

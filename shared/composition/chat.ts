/**
 * Dependencies of the chat-ops functions (slackCommand, onChatCommand, onDeployResult). Kept apart
 * from ./functions.ts on purpose: the Slack function must answer within 3 s including a cold start, so
 * it loads only the Firestore and Pub/Sub clients — not the Kubernetes / GKE / Storage ones
 * ./functions.ts pulls in (~0.8 s more on a cold instance).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { requireSetting, type Settings } from '../config.ts';
import { systemClock } from '../ports/clock.ts';
import { firestoreClient, FirestoreCheckpointState } from '../adapters/firestore.ts';
import { FirestoreRolloutState } from '../adapters/firestore-rollouts.ts';
import { FirestoreChatCommands } from '../adapters/firestore-chat.ts';
import { PubSubPublisher, pubsubClient } from '../adapters/pubsub.ts';
import { SlackResponseUrlChat } from '../adapters/slack.ts';
import { consoleProjectFor } from '../domain/chat-blocks.ts';
import type { ChatAccessPolicy } from '../domain/chat-access.ts';
import type { ChatWorkerDeps } from '../app/chat-commands.ts';
import type { ChatIngressDeps } from '../app/chat-ingress.ts';
import type { Logger } from '../ports/logger.ts';

/** Claims outlive the worker's timeout (the worker waits up to 50 s for a rollout). */
const CLAIM_LEASE_MS = 5 * 60 * 1000;

export function accessPolicy(
  slack: Pick<Settings, 'FERRY_SLACK_READ_USERS' | 'FERRY_SLACK_READ_CHANNELS' | 'FERRY_SLACK_DEPLOY_USERS' | 'FERRY_SLACK_DEPLOY_CHANNELS'>,
): ChatAccessPolicy {
  return {
    read: { users: slack.FERRY_SLACK_READ_USERS, channels: slack.FERRY_SLACK_READ_CHANNELS.length ? slack.FERRY_SLACK_READ_CHANNELS : null },
    deploy: { users: slack.FERRY_SLACK_DEPLOY_USERS, channels: slack.FERRY_SLACK_DEPLOY_CHANNELS.length ? slack.FERRY_SLACK_DEPLOY_CHANNELS : null },
  };
}

export function chatIngressDeps(s: Settings, log: Logger): ChatIngressDeps {
  const signingSecret = requireSetting(s, 'FERRY_SLACK_SIGNING_SECRET');
  return {
    commands: new FirestoreChatCommands(firestoreClient(s.GOOGLE_CLOUD_PROJECT)),
    publisher: new PubSubPublisher(pubsubClient(s.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: log,
    config: {
      signingSecret,
      access: accessPolicy(s),
      chatTopic: s.FERRY_CHAT_TOPIC,
      allowLocalResponseUrl: s.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL,
    },
  };
}

/** The worker and the results subscriber: they never need the signing secret or the allowlists. */
export function chatWorkerDeps(s: Settings, log: Logger): ChatWorkerDeps {
  const db = firestoreClient(s.GOOGLE_CLOUD_PROJECT);
  return {
    commands: new FirestoreChatCommands(db),
    versions: new FirestoreCheckpointState(db),
    rollouts: new FirestoreRolloutState(db),
    publisher: new PubSubPublisher(pubsubClient(s.GOOGLE_CLOUD_PROJECT)),
    chat: new SlackResponseUrlChat({ allowLocal: s.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL }),
    clock: systemClock,
    sleep: (ms) => sleep(ms),
    logger: log,
    config: {
      deployTopic: s.FERRY_DEPLOY_TOPIC,
      resultsTopic: s.FERRY_RESULTS_TOPIC,
      waitForRolloutMs: s.FERRY_CHAT_WAIT_SECONDS * 1000,
      pollIntervalMs: 500,
      claimLeaseMs: CLAIM_LEASE_MS,
      consoleProject: consoleProjectFor(s.GOOGLE_CLOUD_PROJECT),
      teardownTopic: s.FERRY_TEARDOWN_TOPIC,
    },
  };
}

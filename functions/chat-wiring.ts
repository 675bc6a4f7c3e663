/**
 * Dependencies of the chat-ops functions (slackCommand, onChatCommand, onDeployResult). Kept apart
 * from wiring.ts on purpose: the Slack function must answer within 3 s including a cold start, so
 * it loads only the Firestore and Pub/Sub clients — not the Kubernetes / GKE / Storage ones
 * wiring.ts pulls in (~0.8 s more on a cold instance).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig, BaseConfig, DeployConfig, SlackConfig, TeardownConfig } from '../shared/config.ts';
import { systemClock } from '../shared/ports/clock.ts';
import { firestoreClient, FirestoreCheckpointState } from '../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../shared/adapters/firestore-rollouts.ts';
import { FirestoreChatCommands } from '../shared/adapters/firestore-chat.ts';
import { PubSubPublisher, pubsubClient } from '../shared/adapters/pubsub.ts';
import { SlackResponseUrlChat } from '../shared/adapters/slack.ts';
import { consoleProjectFor } from '../shared/domain/chat-blocks.ts';
import type { ChatAccessPolicy } from '../shared/domain/chat-command.ts';
import type { ChatIngressDeps, ChatWorkerDeps } from '../shared/app/chat-commands.ts';
import { logger } from './edge.ts';

const env = process.env as Record<string, string | undefined>;

/** Claims outlive the worker's timeout (the worker waits up to 50 s for a rollout). */
const CLAIM_LEASE_MS = 5 * 60 * 1000;

export function accessPolicy(slack: ReturnType<typeof SlackConfig.parse>): ChatAccessPolicy {
  return {
    read: { users: slack.FERRY_SLACK_READ_USERS, channels: slack.FERRY_SLACK_READ_CHANNELS.length ? slack.FERRY_SLACK_READ_CHANNELS : null },
    deploy: { users: slack.FERRY_SLACK_DEPLOY_USERS, channels: slack.FERRY_SLACK_DEPLOY_CHANNELS.length ? slack.FERRY_SLACK_DEPLOY_CHANNELS : null },
  };
}

export function chatIngressDeps(): ChatIngressDeps {
  const base = parseConfig(BaseConfig, env);
  const slack = parseConfig(SlackConfig, env);
  return {
    commands: new FirestoreChatCommands(firestoreClient(base.GOOGLE_CLOUD_PROJECT)),
    publisher: new PubSubPublisher(pubsubClient(base.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    logger: logger(),
    config: {
      signingSecret: slack.FERRY_SLACK_SIGNING_SECRET,
      access: accessPolicy(slack),
      chatTopic: slack.FERRY_CHAT_TOPIC,
      allowLocalResponseUrl: slack.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL,
    },
  };
}

/** The worker and the results subscriber: they never need the signing secret or the allowlists. */
export function chatWorkerDeps(): ChatWorkerDeps {
  const base = parseConfig(BaseConfig, env);
  const deploy = parseConfig(DeployConfig.pick({ FERRY_DEPLOY_TOPIC: true, FERRY_RESULTS_TOPIC: true }), env);
  const slack = parseConfig(SlackConfig.pick({ FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL: true, FERRY_CHAT_WAIT_SECONDS: true }), env);
  const teardown = parseConfig(TeardownConfig.pick({ FERRY_TEARDOWN_TOPIC: true }), env);
  const db = firestoreClient(base.GOOGLE_CLOUD_PROJECT);
  return {
    commands: new FirestoreChatCommands(db),
    versions: new FirestoreCheckpointState(db),
    rollouts: new FirestoreRolloutState(db),
    publisher: new PubSubPublisher(pubsubClient(base.GOOGLE_CLOUD_PROJECT)),
    chat: new SlackResponseUrlChat({ allowLocal: slack.FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL }),
    clock: systemClock,
    sleep: (ms) => sleep(ms),
    logger: logger(),
    config: {
      deployTopic: deploy.FERRY_DEPLOY_TOPIC,
      resultsTopic: deploy.FERRY_RESULTS_TOPIC,
      waitForRolloutMs: slack.FERRY_CHAT_WAIT_SECONDS * 1000,
      pollIntervalMs: 500,
      claimLeaseMs: CLAIM_LEASE_MS,
      consoleProject: consoleProjectFor(base.GOOGLE_CLOUD_PROJECT),
      teardownTopic: teardown.FERRY_TEARDOWN_TOPIC,
    },
  };
}

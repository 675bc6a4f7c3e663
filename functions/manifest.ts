/**
 * Every Cloud Function of ferry and how it is triggered. One list serves three readers: the local
 * stack (which wires each trigger the way Eventarc / Pub/Sub / Cloud Scheduler would), the
 * Terraform consistency test, and the docs. Keep it free of imports so loading it costs nothing.
 */
export const FUNCTIONS = [
  {
    name: 'onCheckpointUpload',
    signature: 'cloudevent',
    trigger: { kind: 'storage', eventType: 'google.cloud.storage.object.v1.finalized' },
    summary: 'GCS finalize → upload-complete gate → one header-only validation per checkpoint content',
  },
  {
    name: 'onDeployRequest',
    signature: 'cloudevent',
    trigger: { kind: 'pubsub', topicEnv: 'FERRY_DEPLOY_TOPIC', defaultTopic: 'ferry-deploy-requests' },
    summary: 'deploy request (Pub/Sub) → validated, deduplicated, rendered, admitted rollout',
  },
  {
    name: 'followRollout',
    signature: 'cloudevent',
    trigger: { kind: 'pubsub', topicEnv: 'FERRY_FOLLOW_TOPIC', defaultTopic: 'ferry-follow-requests' },
    summary: 'follow request (Pub/Sub, from onDeployRequest) → watch the rollout on the cluster and advance it on each change, for FERRY_DEPLOY_FOLLOW_SECONDS',
  },
  {
    name: 'reconcileRollouts',
    signature: 'cloudevent',
    trigger: { kind: 'schedule', topicEnv: 'FERRY_RECONCILE_TOPIC', defaultTopic: 'ferry-reconcile-tick', schedule: '* * * * *', localEverySeconds: 3 },
    summary: 'every minute: advance every rollout in flight (watch, succeed, roll back)',
  },
  {
    name: 'slackCommand',
    signature: 'http',
    trigger: { kind: 'http' },
    summary: 'Slack /ferry slash command → signature verified, authorised, recorded, queued; ephemeral answer within 3 s',
  },
  {
    name: 'onChatCommand',
    signature: 'cloudevent',
    trigger: { kind: 'pubsub', topicEnv: 'FERRY_CHAT_TOPIC', defaultTopic: 'ferry-chat-commands' },
    summary: 'queued chat command → status / versions / deploy / rollback done, result posted to the Slack response_url',
  },
  {
    name: 'onDeployResult',
    signature: 'cloudevent',
    trigger: { kind: 'pubsub', topicEnv: 'FERRY_RESULTS_TOPIC', defaultTopic: 'ferry-deploy-results' },
    summary: 'deploy result (rollout ended, request refused) → posted to the Slack response_url of the command that asked',
  },
  {
    name: 'teardownIdle',
    signature: 'cloudevent',
    // Locally the tick keeps its own, long period (the stack's fast schedule override would tear
    // down every few seconds): run `ferry teardown`, or publish to the topic, to run it on demand.
    trigger: {
      kind: 'schedule',
      topicEnv: 'FERRY_TEARDOWN_TOPIC',
      defaultTopic: 'ferry-teardown-tick',
      schedule: '*/15 * * * *',
      localEverySeconds: 86_400,
      localKeepsPeriod: true,
    },
    summary: 'every 15 minutes: disable idle Anywhere Caches, scale idle managed node pools to zero (or delete the cluster); never anything in use',
  },
  {
    name: 'console',
    signature: 'http',
    trigger: { kind: 'http' },
    summary: 'read-only web console (behind IAP; verifies its signed header): models, versions, rollouts, caches, teardown runs, rejected requests',
  },
] as const satisfies readonly FunctionSpec[];

export type Trigger =
  | { kind: 'storage'; eventType: 'google.cloud.storage.object.v1.finalized' }
  | { kind: 'pubsub'; topicEnv: string; defaultTopic: string }
  | { kind: 'schedule'; topicEnv: string; defaultTopic: string; schedule: string; localEverySeconds: number; localKeepsPeriod?: boolean }
  | { kind: 'http' };

export interface FunctionSpec {
  name: string;
  signature: 'cloudevent' | 'http';
  trigger: Trigger;
  summary: string;
}

export type FunctionName = (typeof FUNCTIONS)[number]['name'];

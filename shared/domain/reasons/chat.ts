/**
 * Slack chat-ops (`/ferry …`): shared/domain/slack.ts, shared/domain/chat-command.ts, chat-access.ts,
 * shared/app/chat-commands.ts. Signing follows
 * https://api.slack.com/authentication/verifying-requests-from-slack; response URLs take at most 5
 * posts within 30 minutes (https://api.slack.com/interactivity/handling#message_responses).
 */
import type { Catalogue } from './catalogue.ts';
import type { FerryErrorCode } from './errors.ts';
import type { DeployRejectReason } from './deploy.ts';
import type { RollbackRefusal } from './rollout.ts';

/** Why a request's Slack signature is not accepted (logged only: the caller gets a bare 401). */
export const SIGNATURE_FAILURE_CATALOGUE = {
  MISSING: {
    meaning: 'The body, the X-Slack-Request-Timestamp or X-Slack-Signature header, or the signing secret is missing.',
    hint: "Send slash commands from Slack only; check that FERRY_SLACK_SIGNING_SECRET is set to the app's signing secret.",
  },
  MALFORMED: {
    meaning: 'The timestamp or the signature header is not in the form Slack sends.',
    hint: 'Send slash commands from Slack only.',
  },
  STALE: {
    meaning: 'The request timestamp is more than 5 minutes away from now (a replay, or a skewed clock).',
    hint: "Run the command again; if it keeps happening, check the function's clock.",
  },
  TOO_LARGE: {
    meaning: 'The request body is larger than 64 KiB; no slash command is.',
    hint: 'Send slash commands from Slack only.',
  },
  MISMATCH: {
    meaning: 'The signature does not match the body and the signing secret.',
    hint: "Set FERRY_SLACK_SIGNING_SECRET to the Slack app's signing secret (Basic Information → Signing Secret).",
  },
} as const satisfies Catalogue;

/** Why a signed command is refused (answered in Slack with what to do). */
export const CHAT_ACCESS_REFUSALS = {
  USER_NOT_ALLOWED: {
    meaning: 'The Slack user may not run this class of command (read, or deploy and roll back).',
    hint: 'Ask an operator to add your Slack user id to FERRY_SLACK_READ_USERS or FERRY_SLACK_DEPLOY_USERS.',
  },
  CHANNEL_NOT_ALLOWED: {
    meaning: 'This class of command is not taken in this channel.',
    hint: 'Run the command in a channel FERRY_SLACK_READ_CHANNELS or FERRY_SLACK_DEPLOY_CHANNELS names.',
  },
} as const satisfies Catalogue;

/** Why a command delivery or an answer post is skipped (each command runs once, each answer posts once). */
export const CHAT_SKIPS = {
  FINISHED: {
    meaning: 'The command already ran to its end; a redelivery is not run again.',
    hint: 'Nothing to do.',
  },
  IN_PROGRESS: {
    meaning: 'Another delivery holds the command (its lease has not expired).',
    hint: 'Nothing to do: the holder finishes it, or the command runs again when the lease expires.',
  },
  MISSING: {
    meaning: 'The command record is gone from Firestore.',
    hint: 'Run the command again.',
  },
  ALREADY_POSTED: {
    meaning: 'This answer was already posted for the command.',
    hint: 'Nothing to do.',
  },
  BUDGET_SPENT: {
    meaning: "The command's response URL has taken its 5 posts.",
    hint: 'Follow the rest with `/ferry status <model>`.',
  },
  URL_EXPIRED: {
    meaning: "The command's response URL is older than 30 minutes.",
    hint: 'Follow the rest with `/ferry status <model>`.',
  },
} as const satisfies Catalogue;

/** Slash command ingress events that are logged with a reason. */
export const CHAT_INGRESS_REASONS = {
  FORM_INVALID: {
    meaning: 'A signed request is not a slash command form ferry can read; answered with a notice.',
    hint: 'Run the command again from Slack.',
  },
  RESPONSE_URL_REFUSED: {
    meaning: "The command's response_url is not a Slack URL; the command is refused.",
    hint: 'Only Slack response URLs are answered; set FERRY_SLACK_ALLOW_LOCAL_RESPONSE_URL=1 for local tests.',
  },
  CHAT_QUEUE_SLOW: {
    meaning: 'Queueing the command took longer than Slack waits for an answer; answered before it settled.',
    hint: 'Nothing to do unless it keeps happening; then check Pub/Sub and Firestore latency.',
  },
  MESSAGE_INVALID: {
    meaning: 'A chat work message does not match its schema; dropped.',
    hint: 'Check what published to FERRY_CHAT_TOPIC: only the slash command function should.',
  },
  RESULT_INVALID: {
    meaning: 'A message on the deploy results topic does not match its schema; ignored.',
    hint: 'Check what published to FERRY_RESULTS_TOPIC: only the deploy function should.',
  },
} as const satisfies Catalogue;

/** How a chat command ended (the command record's outcome code, beside refusal reasons and error codes). */
export const CHAT_OUTCOMES = {
  HELP: { meaning: 'Help was posted.', hint: 'Nothing to do.' },
  STATUS: { meaning: 'The status of a model was posted.', hint: 'Nothing to do.' },
  VERSIONS: { meaning: 'The versions of a model were posted.', hint: 'Nothing to do.' },
  NOT_AVAILABLE: {
    meaning: 'Teardown is not set up in this ferry (the chat worker has no FERRY_TEARDOWN_TOPIC).',
    hint: 'Set FERRY_TEARDOWN_TOPIC on the chat worker to offer `/ferry teardown plan`.',
  },
  TEARDOWN_PLAN_REQUESTED: {
    meaning: 'A teardown dry run was requested; teardownIdle posts the plan.',
    hint: 'Nothing to do: the plan follows in the channel.',
  },
  ACCELERATOR_REQUIRED: {
    meaning: 'The deploy names no accelerator, and none can be inherited or chosen here.',
    hint: 'Add `accelerator=TYPE` (and `gpus=N`) to the command, as the answer shows.',
  },
  PUBLISHED: {
    meaning: 'The deploy request was published; the rollout was not admitted within the wait.',
    hint: 'Nothing to do: the result is posted when the rollout ends (or follow it with `/ferry status <model>`).',
  },
  DUPLICATE: {
    meaning: 'The same command or deploy request was received again (a replay); it is not run twice.',
    hint: 'Nothing to do.',
  },
  ROLLOUT_STARTED: {
    meaning: 'The deploy was admitted; its rollout started or is queued.',
    hint: 'Nothing to do: the result is posted when the rollout ends.',
  },
  ROLLOUT_SUCCEEDED: { meaning: 'The rollout succeeded.', hint: 'Nothing to do.' },
  ROLLOUT_FAILED: {
    meaning: 'The rollout failed and could not be rolled back (or ferry kept its hands off).',
    hint: 'Read the posted reason and `/ferry status <model>`, fix the cause and deploy again.',
  },
  ROLLOUT_ROLLED_BACK: {
    meaning: 'The rollout failed and the previous good version runs again.',
    hint: 'Read the posted reason, fix the cause and deploy again.',
  },
  ROLLOUT_SUPERSEDED: {
    meaning: 'A newer deploy for the same target replaced this queued rollout.',
    hint: 'Nothing to do: the newer rollout runs instead.',
  },
} as const satisfies Catalogue;

export type SignatureFailure = keyof typeof SIGNATURE_FAILURE_CATALOGUE;
export type ChatAccessRefusal = keyof typeof CHAT_ACCESS_REFUSALS;
export type ChatSkip = keyof typeof CHAT_SKIPS;
/** Every code a chat command's outcome is recorded with. */
export type ChatOutcomeCode = keyof typeof CHAT_OUTCOMES | ChatAccessRefusal | DeployRejectReason | RollbackRefusal | FerryErrorCode;

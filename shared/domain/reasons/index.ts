/**
 * Every reason catalogue, grouped as README's "Reason codes" section shows them
 * (infra/local/docs-reasons.ts renders it; test/unit/domain/reasons.test.ts checks it).
 */
import type { Catalogue } from './catalogue.ts';
import * as errors from './errors.ts';
import * as deploy from './deploy.ts';
import * as rollout from './rollout.ts';
import * as teardown from './teardown.ts';
import * as chat from './chat.ts';
import * as upload from './upload.ts';
import * as validation from './validation.ts';
import * as cli from './cli.ts';
import * as policy from './policy.ts';
import * as integrity from './integrity.ts';

export interface CatalogueSection {
  /** The exported name, e.g. STORAGE_ERRORS. */
  readonly name: string;
  readonly title: string;
  readonly catalogue: Catalogue;
}

export interface CatalogueGroup {
  readonly title: string;
  /** One paragraph: where these codes appear. */
  readonly intro: string;
  readonly sections: readonly CatalogueSection[];
}

const s = (name: string, title: string, catalogue: Catalogue): CatalogueSection => ({ name, title, catalogue });

export const CATALOGUE_GROUPS: readonly CatalogueGroup[] = [
  {
    title: 'Error codes',
    intro:
      'The `code` of every FerryError: in logs (`code`), `ferry` command output, Slack answers, a failed teardown action, a refused deploy request. A retryable one is retried (the event is redelivered); the others are recorded and the event is acked.',
    sections: [
      s('STORAGE_ERRORS', 'Cloud Storage and local files', errors.STORAGE_ERRORS),
      s('STATE_ERRORS', 'Firestore', errors.STATE_ERRORS),
      s('PUBLISH_ERRORS', 'Pub/Sub', errors.PUBLISH_ERRORS),
      s('CLUSTER_ERRORS', 'Kubernetes and GKE', errors.CLUSTER_ERRORS),
      s('CACHE_ERRORS', 'Anywhere Cache', errors.CACHE_ERRORS),
      s('DEPLOY_ERRORS', 'Deploys', errors.DEPLOY_ERRORS),
      s('UPLOAD_ERRORS', 'Uploads', errors.UPLOAD_ERRORS),
      s('CHAT_ERRORS', 'Slack', errors.CHAT_ERRORS),
      s('TEARDOWN_ERRORS', 'Teardown', errors.TEARDOWN_ERRORS),
      s('CONSOLE_ERRORS', 'Web console', errors.CONSOLE_ERRORS),
      s('INTEGRITY_ERRORS', 'Integrity of served bytes', integrity.INTEGRITY_ERRORS),
      s('GENERAL_ERRORS', 'Everywhere', errors.GENERAL_ERRORS),
      s('CLI_FAILURES', 'The CLI, for errors from outside ferry', cli.CLI_FAILURES),
    ],
  },
  {
    title: 'Deploy request rejections',
    intro:
      'The `reason` of a refused deploy request (`rejections` in Firestore, FERRY_RESULTS_TOPIC, `ferry status`, Slack). A request can also be refused with an error code from above (e.g. `CLUSTER_DELETED`, `ACCELERATOR_TOO_SMALL`).',
    sections: [
      s('REQUEST_PARSE_FAILURES', 'The request itself', deploy.REQUEST_PARSE_FAILURES),
      s('DEPLOY_REFUSALS', 'What it asks for', deploy.DEPLOY_REFUSALS),
      s('POLICY_REFUSALS', 'The deploy policy (docs/policy.md)', policy.POLICY_REFUSALS),
    ],
  },
  {
    title: 'Rollout reasons',
    intro: "A rollout's `reason` (and each history entry's), and the Deployment status reasons it is decided from.",
    sections: [
      s('ROLLOUT_REASON_CATALOGUE', 'Rollouts', rollout.ROLLOUT_REASON_CATALOGUE),
      s('STATUS_REASON_CATALOGUE', 'Deployment status (`kubectl rollout status`)', rollout.STATUS_REASON_CATALOGUE),
      s('ROLLOUT_WARNING_CATALOGUE', 'Rollout warnings', rollout.ROLLOUT_WARNING_CATALOGUE),
      s('ROLLBACK_REFUSALS', '`/ferry rollback`', rollout.ROLLBACK_REFUSALS),
    ],
  },
  {
    title: 'Checkpoints and validation',
    intro: "What ferry decided about an uploaded object, and the `code` of each validation finding (`ferry validate`, a version's `errors` and `warnings`).",
    sections: [
      s('UPLOAD_EVENT_REASONS', 'Uploaded objects', upload.UPLOAD_EVENT_REASONS),
      s('VALIDATION_SKIPS', 'Validation not run again', upload.VALIDATION_SKIPS),
      s('SHARD_FINDINGS', 'Findings about one safetensors file', validation.SHARD_FINDINGS),
      s('CHECKPOINT_FINDINGS', 'Findings about the whole checkpoint', validation.CHECKPOINT_FINDINGS),
      s('INTEGRITY_FINDINGS', 'Findings about the manifest and the bytes', integrity.INTEGRITY_FINDINGS),
    ],
  },
  {
    title: 'Teardown',
    intro: "The `reason` of a teardown run's planned, skipped and carried-out actions (`teardownRuns`, `ferry teardown`, Slack summaries).",
    sections: [
      s('ACTION_REASON_CATALOGUE', 'Torn down', teardown.ACTION_REASON_CATALOGUE),
      s('SKIP_REASON_CATALOGUE', 'Left alone', teardown.SKIP_REASON_CATALOGUE),
      s('CONFIRM_REASONS', 'Not carried out at the re-check', teardown.CONFIRM_REASONS),
      s('RUN_REASONS', 'Left for the next run', teardown.RUN_REASONS),
      s('TICK_REFUSALS', 'Teardown ticks that run nothing', teardown.TICK_REFUSALS),
    ],
  },
  {
    title: 'Slack chat-ops',
    intro: 'Reasons in the logs of the Slack functions, and the outcome `code` of each chat command (`chatCommands` in Firestore).',
    sections: [
      s('SIGNATURE_FAILURE_CATALOGUE', 'Signature checks (logged; Slack gets a bare 401)', chat.SIGNATURE_FAILURE_CATALOGUE),
      s('CHAT_ACCESS_REFUSALS', 'Access', chat.CHAT_ACCESS_REFUSALS),
      s('CHAT_INGRESS_REASONS', 'Slash command ingress', chat.CHAT_INGRESS_REASONS),
      s('CHAT_SKIPS', 'Runs and posts skipped', chat.CHAT_SKIPS),
      s('CHAT_OUTCOMES', 'Command outcomes', chat.CHAT_OUTCOMES),
    ],
  },
];

export const ALL_SECTIONS: readonly CatalogueSection[] = CATALOGUE_GROUPS.flatMap((g) => g.sections);

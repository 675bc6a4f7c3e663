/**
 * Why a deploy request was refused before any rollout existed (recorded in `rejections`, published
 * on FERRY_RESULTS_TOPIC, shown by `ferry status` and in Slack). A refusal can also carry a FerryError
 * code (shared/domain/reasons/errors.ts): what failed while the request was checked.
 */
import type { Catalogue } from './catalogue.ts';
import type { FerryErrorCode } from './errors.ts';
import type { PolicyRefusal } from './policy.ts';

/** The request bytes themselves (shared/domain/deploy-request.ts parseDeployRequest). */
export const REQUEST_PARSE_FAILURES = {
  NOT_JSON: {
    meaning: 'The deploy request is not valid UTF-8 JSON.',
    hint: 'Send one JSON object, e.g. {"model":"m","version":"latest","target":{…}}; `ferry deploy` writes it for you.',
  },
  NOT_OBJECT: {
    meaning: 'The deploy request is JSON, but not an object.',
    hint: 'Send one JSON object with model, version and target.',
  },
  SCHEMA: {
    meaning: 'The deploy request does not match the schema; `issues` lists each field and what is wrong with it.',
    hint: 'Fix the fields the issues name (README: Deploy requests and rollouts) and send it again.',
  },
  INVALID_GATE: {
    meaning:
      "The request's promotion gate (`gate`: golden prompts and what their answers must be) breaks a rule or a cap; `issues` names each problem (docs/gate.md).",
    hint: 'Fix the gate fields the issues name (docs/gate.md lists every rule and cap) and send it again; `ferry gate set` checks a gate file the same way.',
  },
  TOO_LARGE: {
    meaning: 'The deploy request is larger than 64 KiB.',
    hint: 'Send only the fields a deploy needs; a request is a few hundred bytes.',
  },
} as const satisfies Catalogue;

/** What the request asks for, checked against ferry's state and the serving profile. */
export const DEPLOY_REFUSALS = {
  UNKNOWN_MODEL: {
    meaning: 'No model of that name was ever uploaded.',
    hint: 'Check the name, or upload a checkpoint to gs://<bucket>/models/<model>/<version>/ first.',
  },
  UNKNOWN_VERSION: {
    meaning: 'The model has no version of that name.',
    hint: 'Check the name with `ferry status <model>`, or ask for "latest".',
  },
  NO_VALID_VERSION: {
    meaning: '"latest" was asked for, but the model has no valid version yet.',
    hint: 'Wait for the validation of an upload to finish, or fix the invalid one and upload it again.',
  },
  VERSION_INVALID: {
    meaning: 'The version failed validation; it will never be deployed.',
    hint: 'See its findings with `ferry status <model>`, fix the checkpoint and upload it as a new version.',
  },
  VERSION_NOT_READY: {
    meaning: 'The version is still uploading or being validated.',
    hint: 'Deploy it once it is valid, or set an autodeploy policy so it deploys by itself.',
  },
  VERSION_URI_INVALID: {
    meaning: 'The stored version has no gs:// URI.',
    hint: 'Upload the version again; its record is from an incompatible ferry version.',
  },
  NAMESPACE_NOT_SERVING: {
    meaning:
      "The target namespace is not one of FERRY_SERVING_NAMESPACES (Terraform's serving_namespaces): its vLLM service account cannot read the model bucket.",
    hint: 'Deploy to a serving namespace, or add the namespace to serving_namespaces in Terraform (and to the policy).',
  },
  VERSION_BUCKET_FOREIGN: {
    meaning: "The stored version's URI is outside the configured model bucket(s) (FERRY_MODEL_BUCKETS); it is never deployed.",
    hint: 'Upload the checkpoint to the configured model bucket and deploy that version.',
  },
  NO_ACCELERATOR_FITS: {
    meaning: 'No accelerator ferry knows can hold the model for the requested context and concurrency.',
    hint: 'Lower sizing.contextTokens or sizing.concurrency, or name an accelerator in the request.',
  },
  CACHE_NOT_CONFIGURED: {
    meaning: 'The request asks for Anywhere Caches, but this ferry has no cache control configured.',
    hint: 'Send cache.mode "off", or configure the Storage Control API for the deploy function.',
  },
  CACHE_NO_ACCELERATOR: {
    meaning: 'Caches cannot be planned before the accelerator is known.',
    hint: 'Name an accelerator in the request, or send cache.mode "off".',
  },
  CACHE_ZONE_OUTSIDE_BUCKET_LOCATION: {
    meaning: "A cache zone (asked for, or where the accelerator's nodes are) is outside the bucket's location.",
    hint: 'Name zones inside the bucket\'s location in cache.zones, deploy to a cluster there, or send cache.mode "off".',
  },
  CACHE_NO_ZONES: {
    meaning: 'No node pool of the target cluster can host the accelerator, so there is no zone to cache in.',
    hint: 'Name the zones in cache.zones, or send cache.mode "off".',
  },
} as const satisfies Catalogue;

export type RequestParseFailure = keyof typeof REQUEST_PARSE_FAILURES;
export type DeployRefusal = keyof typeof DEPLOY_REFUSALS;
/** Every reason a deploy request is refused with. */
export type DeployRejectReason = RequestParseFailure | DeployRefusal | PolicyRefusal | FerryErrorCode;

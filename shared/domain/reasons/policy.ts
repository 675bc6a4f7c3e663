/** Why the deploy policy refused a request (shared/domain/policy.ts checkDeploy), and `ferry policy` failures. */
import type { Catalogue } from './catalogue.ts';

export const POLICY_REFUSALS = {
  POLICY_MISSING: {
    meaning: 'No deploy policy is set, so ferry deploys nothing (the bootstrap state of a new installation).',
    hint: 'Set one with `ferry policy set -f policy.json` (docs/policy.md has a starting point).',
  },
  POLICY_INVALID: {
    meaning: 'The stored deploy policy does not parse, so ferry deploys nothing until it is fixed.',
    hint: 'Run `ferry policy show` to see the problems, then `ferry policy set -f policy.json` with a corrected one.',
  },
  POLICY_SYSTEM_NAMESPACE: {
    meaning: 'The target is a system namespace (kube-*, gke-*, gmp-*, …); ferry never deploys there.',
    hint: 'Deploy to a namespace of your own that the policy lists.',
  },
  POLICY_TARGET: {
    meaning: "The target's cluster and namespace are not listed in the policy's targets.",
    hint: 'Deploy to a listed target, or add it to `targets` with `ferry policy set`.',
  },
  POLICY_SOURCE: {
    meaning: 'No grant lets this source (Pub/Sub topic, Slack user, autodeploy, CLI) deploy to this target.',
    hint: 'Ask an owner of the policy to add a grant, or send it through a source that has one.',
  },
  POLICY_IMAGE: {
    meaning: "The image is not from one of the policy's repositories.",
    hint: 'Use an image from a listed repository (the default vLLM image when none is named), or add the repository with `ferry policy set`.',
  },
  POLICY_IMAGE_DIGEST: {
    meaning: 'The policy allows images pinned by digest only, and this one is not.',
    hint: 'Name the image as repository@sha256:<digest>.',
  },
  POLICY_FLAG: {
    meaning: "A vLLM argument is not one of the policy's allowed flags (e.g. --trust-remote-code, denied unless listed).",
    hint: 'Remove the flag, or add it to `vllmFlags` with `ferry policy set` if it is safe.',
  },
  POLICY_FLAG_VALUE: {
    meaning: 'A vLLM flag is allowed, but not with this value.',
    hint: 'Use one of the values the policy lists for it.',
  },
  POLICY_REPLICAS: {
    meaning: 'More replicas (or autoscaling maxReplicas) than the target allows.',
    hint: "Lower replicas or autoscaling.maxReplicas to the target's maxReplicas.",
  },
  POLICY_ACCELERATOR: {
    meaning: 'The accelerator type or count per replica is outside what the target allows.',
    hint: "Name an accelerator within the target's acceleratorTypes and maxAcceleratorsPerReplica.",
  },
} as const satisfies Catalogue;

export type PolicyRefusal = keyof typeof POLICY_REFUSALS;

/**
 * `ferry schema deploy-request|policy|gate`: the JSON Schema of the deploy request (or policy, or gate), generated from the zod schema
 * ferry validates requests with (zod's z.toJSONSchema, draft 2020-12; https://zod.dev/json-schema),
 * for systems that publish deploy messages. The same document is committed at
 * schemas/deploy-request.schema.json; a unit test keeps the two equal.
 */
import { z } from 'zod';
import { API_VERSION, DeployRequest } from '../../domain/deploy-request.ts';
import { ClusterName, GKE_CLUSTER_RE, LOCAL_CLUSTER } from '../../domain/names.ts';
import { POLICY_API_VERSION, PolicyDoc } from '../../domain/policy.ts';
import { Gate } from '../../domain/gate.ts';
import { EXIT, emit, parseCommand, usageError, type CliIo } from '../io.ts';
import { didYouMean } from '../spec.ts';

export const SCHEMA_ID = 'https://github.com/ferry/ferry/schemas/deploy-request.schema.json';

/**
 * A document schema as senders write it (defaults not applied: `io: 'input'`). Rules with no JSON
 * Schema form (refinements) stay `any` here; ferry still applies them and names the rule broken.
 * The cluster rule is a refinement too: it is written as the same rule in a pattern.
 */
function documentJsonSchema(schema: z.ZodType, head: { $id: string; title: string; description: string }): Record<string, unknown> {
  const generated = z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
    override: (ctx) => {
      if (ctx.zodSchema === ClusterName) ctx.jsonSchema.pattern = `^(?:${LOCAL_CLUSTER}|${GKE_CLUSTER_RE.source.replace(/^\^|\$$/g, '')})$`;
    },
  }) as Record<string, unknown>;
  return { $schema: generated['$schema'], ...head, ...Object.fromEntries(Object.entries(generated).filter(([k]) => k !== '$schema')) };
}

/** The deploy request as senders write it. */
export function deployRequestJsonSchema(): Record<string, unknown> {
  return documentJsonSchema(DeployRequest, {
    $id: SCHEMA_ID,
    title: `ferry deploy request (${API_VERSION})`,
    description:
      'A request to put one version of a model on one target. Rules that involve several fields (tensorParallelSize vs accelerator.count, TPU images, streamer.distributed on TPUs, vllmArgs flags ferry owns) are checked by ferry itself; a request that breaks one is rejected with the rule it broke.',
  });
}

export const POLICY_SCHEMA_ID = 'https://github.com/ferry/ferry/schemas/policy.schema.json';

/** The deploy policy document (`ferry policy set -f`), as written. */
export function policyJsonSchema(): Record<string, unknown> {
  return documentJsonSchema(PolicyDoc, {
    $id: POLICY_SCHEMA_ID,
    title: `ferry deploy policy (${POLICY_API_VERSION})`,
    description:
      'Who may deploy what, where (docs/policy.md). Rules a JSON Schema cannot say (system namespaces are never targets, repositories carry no tag, slackUsers only on slack grants) are checked by `ferry policy set` and named when broken.',
  });
}

export const GATE_SCHEMA_ID = 'https://github.com/ferry/ferry/schemas/gate.schema.json';

/** A promotion gate (`ferry gate set -f`, a deploy request's `gate`), as written. */
export function gateJsonSchema(): Record<string, unknown> {
  return documentJsonSchema(Gate, {
    $id: GATE_SCHEMA_ID,
    title: 'ferry promotion gate',
    description:
      'Golden prompts the new pods of a rollout must answer right before it succeeds (docs/gate.md). Rules a JSON Schema cannot say (exactly one of prompt or messages; expect or sameAsPrevious; byte caps; regexes in RE2 syntax; the jsonSchema subset; unique prompt names) are checked by ferry and named when broken.',
  });
}

export const SCHEMAS: Readonly<Record<string, () => Record<string, unknown>>> = {
  'deploy-request': deployRequestJsonSchema,
  policy: policyJsonSchema,
  gate: gateJsonSchema,
};

export async function schemaCommand(args: string[], io: CliIo): Promise<number> {
  const p = parseCommand('schema', args, io);
  if (typeof p === 'number') return p;
  const name = p.positional[0]!;
  const make = SCHEMAS[name];
  if (!make)
    return usageError(
      'schema',
      `no schema named ${JSON.stringify(name)}; there is ${Object.keys(SCHEMAS).join(', ')}${didYouMean(name, Object.keys(SCHEMAS))}`,
      io,
    );
  emit(io, p.output === 'yaml' ? 'yaml' : 'json', make());
  return EXIT.ok;
}

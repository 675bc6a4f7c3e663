/**
 * One run of a rollout's promotion gate (issue #19): ask the new pods — only those of this
 * rollout's template, through the API server's pod proxy, as ferry reaches pods on GKE — every gate
 * prompt, and judge the answers with evaluateGate. The state machine (rollout-step.ts) decides what
 * the outcome means.
 *
 * Requests follow vLLM's OpenAI-compatible server: `POST /v1/completions` with `prompt`, or
 * `POST /v1/chat/completions` with `messages`; `max_tokens`, `temperature`, `seed`; the answer is
 * `choices[0].text` or `choices[0].message.content`; the served model name comes from
 * `GET /v1/models` `data[0].id` (vllm/entrypoints/openai/protocol.py, docs/UPSTREAM.md G1).
 *
 * What is an answer and what is not:
 * - HTTP 200 with a choice: an answer, judged by the gate.
 * - An error the pod itself returned (vLLM's `{"error": {...}}` or `{"object": "error", …}` with a
 *   4xx): the prompt's answer is that error, and the prompt fails — a version that refuses a
 *   golden prompt is not good.
 * - The API server's own `Status` (403 without RBAC, 503 when it cannot reach the pod), a 5xx, a
 *   network error or the deadline: no verdict from this run (`unreachable`); the state machine
 *   retries until the gate's timeout and then fails closed.
 */
import { z } from 'zod';
import type { V1Pod } from '@kubernetes/client-node';
import { evaluateGate, type Gate, type GateAnswer, type GatePrompt, type GateVerdict, type PreviousAnswers } from '../domain/gate.ts';
import { ANNOTATIONS, CONTAINER_NAME, VLLM_PORT } from '../domain/rendered-spec.ts';
import type { Rollout } from '../domain/rollout.ts';
import type { GateRunOutcome } from '../domain/verification.ts';
import { asFerryError } from '../domain/errors.ts';
import type { ClusterClient } from '../ports/cluster.ts';

/** Pods asked per run: enough to catch one bad replica among a few, bounded for large targets. */
export const MAX_GATE_PODS = 3;
/** Largest answer body read from a pod (a 512-token answer is a few KiB). */
export const MAX_ANSWER_BYTES = 1024 * 1024;

export interface GateRunInput {
  rollout: Rollout;
  gate: Gate;
  cluster: ClusterClient;
  /** The previous good rollout's recorded answers, when it had any. */
  baseline: { rolloutId: string; answers: PreviousAnswers } | null;
  /** The run must end by then (the claim's runUntil). */
  deadline: Date;
  now: () => Date;
}

const isReady = (p: V1Pod): boolean => !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The new template's Ready pods, by name, at most MAX_GATE_PODS. */
export function gatePods(rollout: Rollout, pods: readonly V1Pod[]): string[] {
  return pods
    .filter((p) => p.metadata?.annotations?.[ANNOTATIONS.rolloutId] === rollout.id && isReady(p) && p.metadata?.name)
    .map((p) => p.metadata!.name!)
    .sort()
    .slice(0, MAX_GATE_PODS);
}

/** The vLLM container's port from the rollout's own spec (its `http` port). */
export function gatePort(rollout: Rollout): number {
  const c = rollout.spec.deployment.spec?.template?.spec?.containers?.find((x) => x.name === CONTAINER_NAME);
  const port = c?.ports?.find((p) => p.name === 'http')?.containerPort ?? c?.ports?.[0]?.containerPort;
  return port ?? VLLM_PORT;
}

const ModelsList = z.object({ data: z.array(z.object({ id: z.string().min(1) })).min(1) });
const CompletionAnswer = z.object({ choices: z.array(z.object({ text: z.string() })).min(1) });
const ChatAnswer = z.object({ choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1) });
/** The API server's own error object (meta/v1 Status). */
const KubeStatus = z.object({ kind: z.literal('Status'), message: z.string().optional(), code: z.number().optional() });
/** vLLM's error bodies: `{"error": {message, type, code}}` (≥ v0.10) or the older flat `{"object": "error", message}`. */
const VllmError = z.union([
  z.object({ error: z.object({ message: z.string(), type: z.string().optional() }) }),
  z.object({ object: z.literal('error'), message: z.string(), type: z.string().optional() }),
]);

class Unreachable extends Error {}

export function requestBody(p: GatePrompt, model: string): { path: string; body: Record<string, unknown> } {
  const common = { model, max_tokens: p.maxTokens, temperature: p.temperature, seed: p.seed };
  if ('messages' in p && p.messages) return { path: 'v1/chat/completions', body: { ...common, messages: p.messages } };
  return { path: 'v1/completions', body: { ...common, prompt: (p as { prompt: string }).prompt } };
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** One prompt to one pod: the answer, or an error the pod returned; throws Unreachable otherwise. */
async function ask(input: GateRunInput, pod: string, port: number, model: string, p: GatePrompt, name: string): Promise<GateAnswer> {
  const { rollout, cluster } = input;
  const { path, body } = requestBody(p, model);
  const timeoutMs = input.deadline.getTime() - input.now().getTime();
  if (timeoutMs <= 0) throw new Unreachable(`the gate run's time was up before ${name} was asked`);
  const started = Date.now();
  let res: { status: number; body: string };
  try {
    res = await cluster.podProxyPost!(rollout.target.namespace, pod, port, path, body, { timeoutMs, maxBytes: MAX_ANSWER_BYTES });
  } catch (e) {
    throw new Unreachable(asFerryError(e).message);
  }
  const latencyMs = Date.now() - started;
  const json = parseJson(res.body);
  const status = KubeStatus.safeParse(json);
  if (status.success) throw new Unreachable(`the API server answered ${res.status} for pod ${pod}: ${status.data.message ?? 'no message'}`);
  if (res.status === 200) {
    const parsed = 'messages' in p && p.messages ? ChatAnswer.safeParse(json) : CompletionAnswer.safeParse(json);
    if (parsed.success) {
      const c = parsed.data.choices[0]!;
      const text = 'text' in c ? c.text : (c.message.content ?? '');
      return { name, text, latencyMs, pod };
    }
    return { name, text: null, error: `pod ${pod} answered 200 without a choice: ${res.body.slice(0, 200)}`, latencyMs, pod };
  }
  const err = VllmError.safeParse(json);
  if (res.status >= 400 && res.status < 500 && err.success) {
    const message = 'error' in err.data ? err.data.error.message : err.data.message;
    return { name, text: null, error: `vLLM refused it (${res.status}): ${message}`, latencyMs, pod };
  }
  throw new Unreachable(`pod ${pod} answered ${res.status}: ${res.body.slice(0, 200)}`);
}

/** Every prompt to every selected pod (pods in parallel, prompts in order), then one verdict each. */
export async function runGate(input: GateRunInput): Promise<GateRunOutcome> {
  const { rollout, gate, cluster } = input;
  const ns = rollout.target.namespace;
  if (!cluster.podProxyPost || !cluster.podProxyGet) {
    return { kind: 'unreachable', message: 'this cluster client cannot send requests to pods', pods: [] };
  }
  let pods: string[];
  try {
    pods = gatePods(rollout, await cluster.listPods(ns, `app.kubernetes.io/instance=${rollout.target.name}`));
  } catch (e) {
    return { kind: 'unreachable', message: `listing the pods failed: ${asFerryError(e).message}`, pods: [] };
  }
  if (pods.length === 0) return { kind: 'unreachable', message: `no Ready pod of rollout ${rollout.id} yet`, pods: [] };
  const port = gatePort(rollout);
  let firstAnswerAt: string | null = null;
  const firstAnswers: Record<string, string> = {};
  try {
    const verdicts = await Promise.all(
      pods.map(async (pod): Promise<{ pod: string; verdict: GateVerdict }> => {
        let model: string;
        try {
          const list = ModelsList.safeParse(parseJson(await cluster.podProxyGet!(ns, pod, port, 'v1/models')));
          if (!list.success) throw new Unreachable(`pod ${pod}: /v1/models lists no served model`);
          model = list.data.data[0]!.id;
        } catch (e) {
          if (e instanceof Unreachable) throw e;
          throw new Unreachable(`pod ${pod}: ${asFerryError(e).message}`);
        }
        const answers: GateAnswer[] = [];
        for (const [i, p] of gate.prompts.entries()) {
          const a = await ask(input, pod, port, model, p, p.name ?? `p${i + 1}`);
          if (a.text !== null && firstAnswers[pod] === undefined) {
            firstAnswers[pod] = input.now().toISOString();
            firstAnswerAt ??= firstAnswers[pod]!;
          }
          answers.push(a);
        }
        return { pod, verdict: evaluateGate(gate, answers, input.baseline?.answers ?? null) };
      }),
    );
    return { kind: 'answered', verdicts, baselineFrom: input.baseline?.rolloutId ?? null, firstAnswerAt, firstAnswers };
  } catch (e) {
    if (e instanceof Unreachable) return { kind: 'unreachable', message: e.message, pods };
    throw e;
  }
}

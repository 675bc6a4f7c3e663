/**
 * The demo's deploy step: publish a deploy request for the validated version to the local
 * cluster, with a promotion gate (the new pods must answer a golden prompt); follow the rollout
 * through `verifying` to `succeeded`, show the gate's verdict and the pods' cold start, then publish
 * a broken one (an image that crash-loops) and watch ferry roll it back to the good version.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { PubSubPublisher, pubsubClient } from '../../shared/adapters/pubsub.ts';
import { firestoreClient } from '../../shared/adapters/firestore.ts';
import { FirestoreRolloutState } from '../../shared/adapters/firestore-rollouts.ts';
import { isTerminalPhase, type Rollout } from '../../shared/domain/rollout.ts';
import { describeVerdict } from '../../shared/domain/verification.ts';
import { describeColdStart } from '../../shared/domain/cold-start.ts';
import type { DeployRequestInput } from '../../shared/domain/deploy-request.ts';
import { completeViaService, loadLines } from './vllm-sim/client.ts';

export async function deployStep(opts: { env: Record<string, string>; model: string; version: string; say: (m: string) => void }): Promise<string | undefined> {
  const { env, model, version, say } = opts;
  const project = env['GOOGLE_CLOUD_PROJECT']!;
  const client = pubsubClient(project);
  const publisher = new PubSubPublisher(client);
  const rollouts = new FirestoreRolloutState(firestoreClient(project));
  const target = { cluster: 'local', namespace: 'demo', name: 'tiny-llama' };
  const request: DeployRequestInput = {
    apiVersion: 'ferry/v1',
    model,
    version,
    target,
    accelerator: { type: 'nvidia-l4', count: 1 },
    replicas: 2,
    progressDeadlineSeconds: 60,
    requestedBy: { source: 'cli', principal: 'npm run demo' },
    // docs/gate.md: the new pods must answer eight lowercase words; later versions must answer the same.
    gate: {
      prompts: [{ name: 'words', prompt: 'The ferry carries the weights across', maxTokens: 8, expect: { regex: '^( [a-z]+){8}$' }, sameAsPrevious: true }],
      timeoutSeconds: 60,
    },
  };

  const follow = async (messageId: string): Promise<Rollout> => {
    let last = '';
    const deadline = Date.now() + 180_000;
    for (;;) {
      const id = await rollouts.rolloutIdForMessage(messageId);
      const r = id ? await rollouts.getRollout(id) : undefined;
      if (!id) {
        const rej = (await rollouts.listRejected(model, 50)).find((x) => x.messageId === messageId);
        if (rej) throw new Error(`deploy request rejected: ${rej.reason}: ${rej.message}`);
      }
      if (r) {
        const line = `${r.phase} (${r.reason}${r.detail ? `: ${r.detail.message}` : ''})`;
        if (line !== last) say(`  rollout ${r.id}: ${line}`);
        last = line;
        if (isTerminalPhase(r.phase)) return r;
      }
      if (Date.now() > deadline) throw new Error(`rollout for message ${messageId} did not finish in 180 s; see ${env['FERRY_STACK_DIR']}/logs/functions.log`);
      await sleep(250);
    }
  };

  say(`publishing a deploy request: ${model}@${version} → local/demo/tiny-llama (2 replicas, 1× nvidia-l4 each)`);
  const good = await follow(await publisher.publishJson(env['FERRY_DEPLOY_TOPIC']!, request, { source: 'demo' }));
  if (good.phase !== 'succeeded') throw new Error(`the rollout ended ${good.phase}: ${good.message}`);
  if (good.verification?.verdict) say(`  ${describeVerdict(good.verification.verdict)}`);
  if (good.coldStart?.measured) say(`  cold start: ${describeColdStart(good.coldStart)}`);

  const kc = new KubeConfig();
  kc.loadFromFile(env['FERRY_KUBE_ADMIN_KUBECONFIG']!);
  const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: 'demo', name: 'tiny-llama' });
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'demo', labelSelector: 'app.kubernetes.io/instance=tiny-llama' });
  const container = d.spec?.template.spec?.containers[0];
  const args = container?.args ?? [];
  say(`Deployment demo/tiny-llama: ${d.status?.availableReplicas}/${d.spec?.replicas} available, image ${d.spec?.template.spec?.containers[0]?.image}`);
  say(`  vLLM: ${[...(container?.command ?? []), ...args.filter((a) => !a.startsWith('-') || /^--(load-format|tensor-parallel-size)/.test(a))].join(' ')}`);
  for (const p of pods.items.filter((x) => !x.metadata?.deletionTimestamp)) {
    say(`  pod ${p.metadata?.name} on ${p.spec?.nodeName} at ${p.status?.podIP}: ${p.status?.phase}`);
    // The simulated vLLM's own lines, through the pod log API (kubectl logs).
    for (const l of await loadLines(kc, 'demo', p.metadata!.name!).catch((e: unknown) => [`(logs unreadable: ${String(e)})`])) say(`    ${l}`);
  }
  const prompt = 'The ferry carries the weights across';
  const answer = await completeViaService(kc, 'demo', 'tiny-llama', { prompt, max_tokens: 12, temperature: 0 });
  if (answer.status !== 200) throw new Error(`the new version did not answer through the Service proxy (HTTP ${answer.status}): ${answer.raw.slice(0, 300)}`);
  say(`completion through the API server's Service proxy, answered by ${answer.model}:`);
  say(`  ${JSON.stringify(prompt)} →${answer.text}`);

  say('publishing a broken deploy request (an image that crash-loops) to show the rollback…');
  const bad = await follow(await publisher.publishJson(env['FERRY_DEPLOY_TOPIC']!, { ...request, image: 'vllm/vllm-openai:fail-demo' }, { source: 'demo' }));
  await client.close();
  if (bad.phase !== 'rolled_back') throw new Error(`expected the broken rollout to be rolled back, it ended ${bad.phase}: ${bad.message}`);
  say(`rolled back to ${bad.previousGoodRolloutId}: ${bad.history.map((h) => h.phase).join(' → ')}`);
  return `${good.id} succeeded; ${bad.id} failed (${bad.history.find((h) => h.phase === 'failed')?.reason}) and was rolled back`;
}

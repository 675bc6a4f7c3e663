/**
 * Deploy requests (Pub/Sub → onDeployRequest → rollouts on the real kube-apiserver): duplicates,
 * a burst to one target, a request while a rollout is in flight, and refusals. Expected (issue #23):
 * exactly one rollout per (target, request), one active rollout per target, every rejection recorded
 * with its reason, nothing invalid deployed. Targets are in ferry-soak-* namespaces (the local
 * policy admits ferry-*); each scenario deletes its namespace at the end to free the simulated GPUs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isTerminalPhase, type Rollout } from '../../../shared/domain/rollout.ts';
import { LLAMA, SOAK_NS, cleanAnswer, say, uid, waitFor, type Figures, type Scenario, type SoakContext } from './context.ts';

type Req = Record<string, unknown> & { target: { cluster: string; namespace: string; name: string } };

function request(model: string, ns: string, name: string, over: Record<string, unknown> = {}): Req {
  return {
    apiVersion: 'ferry/v1',
    model,
    version: 'v1',
    target: { cluster: 'local', namespace: ns, name },
    accelerator: { type: 'nvidia-l4', count: 1 },
    replicas: 1,
    progressDeadlineSeconds: 90,
    requestedBy: { source: 'pubsub', principal: 'soak' },
    ...over,
  };
}

const keyOf = (r: Req) => `local~${r.target.namespace}~${r.target.name}`;

/** Start/end of each rollout's active window (applying … terminal): two of one target must never overlap. */
export function overlaps(rollouts: Rollout[]): number {
  const windows = rollouts
    .filter((r) => r.history.some((h) => h.phase === 'applying'))
    .map((r) => [Date.parse(r.history.find((h) => h.phase === 'applying')!.at), Date.parse(r.history.at(-1)!.at)] as const)
    .sort((a, b) => a[0] - b[0]);
  let n = 0;
  for (let i = 1; i < windows.length; i++) if (windows[i]![0] < windows[i - 1]![1]) n++;
  return n;
}

/** A model with one valid version v1 (the reference checkpoint), shared by the deploy scenarios. */
let sharedModel: Promise<string> | undefined;
function validModel(ctx: SoakContext): Promise<string> {
  sharedModel ??= (async () => {
    const model = `soak-deploy-${uid()}`;
    if (!(await ctx.validVersion(model, 'v1'))) throw new Error(`${model}/v1 never became valid: the deploy scenarios cannot run`);
    return model;
  })();
  return sharedModel;
}

/** N copies of one request, three ways: same message id (pushed), same idempotency key, same body. */
export const deployDuplicates: Scenario = {
  name: 'deploy-duplicates',
  group: 'deploys',
  what: 'the same deploy request 20× each: same message id, same idempotency key, same body → one rollout each',
  async run(ctx) {
    const N = 20;
    const model = await validModel(ctx);
    const ns = `${SOAK_NS}-dup-${uid()}`;
    const out: Figures[] = [];
    const judge = async (label: string, req: Req, messageIds: string[], answersOk: number) => {
      const ids = await Promise.all(messageIds.map((m) => ctx.rolloutForMessage(m, 90_000)));
      const handled = ids.filter((x) => x !== null);
      const distinct = new Set(handled);
      const { rollouts, ok } = await ctx.settledRollouts(keyOf(req), 180_000);
      const dep = await ctx.deployment(req.target.namespace, req.target.name);
      const only = rollouts[0];
      out.push({
        scenario: `deploy: the same request ${N}× (${label})`,
        tried: N,
        held: distinct.size === 1 && rollouts.length === 1 ? Math.min(handled.length, answersOk) : 0,
        lost: N - handled.length,
        duplicated: Math.max(0, rollouts.length - 1),
        stuck: ok ? 0 : rollouts.filter((r) => !isTerminalPhase(r.phase)).length,
        note: `${rollouts.length} rollout(s) ${rollouts.map((r) => r.phase).join(',')}; Deployment carries ${dep?.rolloutId === only?.id ? 'that rollout' : `rollout ${dep?.rolloutId ?? 'none'}`}`,
      });
    };

    // 1. The same message id delivered 20 times at once (Pub/Sub redelivers; push to the function directly).
    {
      const req = request(model, ns, 'same-msg');
      const messageId = `soak-msg-${uid()}`;
      const answers = await Promise.all(Array.from({ length: N }, () => ctx.pushDeploy(ctx.pushBody(messageId, req), 120_000)));
      const ok = answers.filter((a) => a.status >= 200 && a.status < 300).length;
      await judge('same message id, pushed at once', req, Array(N).fill(messageId) as string[], ok);
    }
    // 2. 20 messages with one idempotency key (the bodies differ in a vLLM flag: the key alone must decide).
    {
      const key = `soak-key-${uid()}`;
      const reqs = Array.from({ length: N }, (_, i) => request(model, ns, 'same-key', { idempotencyKey: key, vllmArgs: [`--max-num-seqs=${8 + i}`] }));
      const ids = await Promise.all(reqs.map((r) => ctx.publishDeploy(r)));
      await judge('same idempotency key, bodies differ', reqs[0]!, ids, N);
    }
    // 3. The same body 20 times, no key.
    {
      const req = request(model, ns, 'same-body');
      const ids = await Promise.all(Array.from({ length: N }, () => ctx.publishDeploy(req)));
      await judge('same body, no key', req, ids, N);
    }
    await ctx.dropNamespace(ns);
    return out;
  },
};

export const deployBurst: Scenario = {
  name: 'deploy-burst',
  group: 'deploys',
  what: '50 different requests to one target at once: each handled once, never two active, the last one deployed',
  async run(ctx) {
    const N = 50;
    const model = await validModel(ctx);
    const ns = `${SOAK_NS}-burst-${uid()}`;
    const reqs = Array.from({ length: N }, (_, i) => request(model, ns, 'one-target', { vllmArgs: [`--max-num-seqs=${1 + i}`] }));
    const msgs = await Promise.all(reqs.map((r) => ctx.publishDeploy(r)));
    const ids = await Promise.all(msgs.map((m) => ctx.rolloutForMessage(m, 120_000)));
    const handled = ids.filter((x): x is string => x !== null);
    const { rollouts, ok } = await ctx.settledRollouts(keyOf(reqs[0]!), 300_000);
    const target = await ctx.rollouts.getTarget(reqs[0]!.target);
    const dep = await ctx.deployment(ns, 'one-target');
    const succeeded = rollouts.filter((r) => r.phase === 'succeeded').sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
    const phases: Record<string, number> = {};
    for (const r of rollouts) phases[r.phase] = (phases[r.phase] ?? 0) + 1;
    const over = overlaps(rollouts);
    const deployedIsLastGood = dep?.rolloutId !== undefined && dep.rolloutId === succeeded.at(-1)?.id;
    const clean = over === 0 && deployedIsLastGood && target?.activeRolloutId === null && target?.queuedRolloutId === null;
    await ctx.dropNamespace(ns);
    return [
      {
        scenario: `deploy: ${N} different requests to one target at once`,
        tried: N,
        held: clean ? new Set(handled).size : 0,
        lost: N - handled.length,
        // One rollout per request: a rollout id shared by two different requests, or more rollouts than requests.
        duplicated: Math.max(0, handled.length - new Set(handled).size) + Math.max(0, rollouts.length - N),
        stuck: ok ? 0 : rollouts.filter((r) => !isTerminalPhase(r.phase)).length,
        note: `phases ${JSON.stringify(phases)}; overlapping active rollouts ${over}; Deployment = last succeeded: ${deployedIsLastGood}; target idle: ${target?.activeRolloutId === null && target?.queuedRolloutId === null}`,
      },
    ];
  },
};

export const deployInFlight: Scenario = {
  name: 'deploy-in-flight',
  group: 'deploys',
  what: 'a new request while a rollout is in flight: it waits its turn and ends deployed',
  async run(ctx) {
    const model = await validModel(ctx);
    const ns = `${SOAK_NS}-inflight-${uid()}`;
    const a = request(model, ns, 'busy', { vllmArgs: ['--max-num-seqs=16'] });
    const b = request(model, ns, 'busy', { vllmArgs: ['--max-num-seqs=32'] });
    const ma = await ctx.publishDeploy(a);
    const ra = await ctx.rolloutForMessage(ma);
    const seen = await waitFor(
      () => (ra ? ctx.rollouts.getRollout(ra) : Promise.resolve(undefined)),
      (r) => !!r && ['applying', 'progressing'].includes(r.phase),
      60_000,
      200,
    );
    const phaseA = seen.value?.phase;
    const mb = await ctx.publishDeploy(b);
    const rb = await ctx.rolloutForMessage(mb);
    const { rollouts, ok } = await ctx.settledRollouts(keyOf(a), 240_000);
    const dep = await ctx.deployment(ns, 'busy');
    const fb = rollouts.find((r) => r.id === rb);
    const fa = rollouts.find((r) => r.id === ra);
    const over = overlaps(rollouts);
    const held = (ra ? 1 : 0) + (rb && rb !== ra && fb?.phase === 'succeeded' && dep?.rolloutId === rb && over === 0 ? 1 : 0);
    await ctx.dropNamespace(ns);
    return [
      {
        scenario: 'deploy: a second request while the first rollout is in flight',
        tried: 2,
        held,
        lost: (ra ? 0 : 1) + (rb ? 0 : 1),
        duplicated: Math.max(0, rollouts.length - 2),
        stuck: ok ? 0 : rollouts.filter((r) => !isTerminalPhase(r.phase)).length,
        note: `second sent while the first was ${phaseA ?? 'not yet applying'}; first ended ${fa?.phase}, second ${fb?.phase}; Deployment carries the second: ${dep?.rolloutId === rb}; overlaps ${over}`,
      },
    ];
  },
};

/** Requests that must be refused, each with its reason recorded and nothing applied. */
export const deployRefusals: Scenario = {
  name: 'deploy-refusals',
  group: 'deploys',
  what: 'missing and invalid versions, bad requests, policy refusals: each recorded with its reason, nothing deployed',
  async run(ctx) {
    const model = await validModel(ctx);
    const ns = `${SOAK_NS}-refuse-${uid()}`;
    // An invalid version (a header that is not JSON) and a model with no valid version at all.
    const broken = `soak-broken-${uid()}`;
    const header = Buffer.from('{"w": not json');
    const bytes = Buffer.alloc(8 + header.length);
    bytes.writeBigUInt64LE(BigInt(header.length), 0);
    header.copy(bytes, 8);
    await ctx.save(`models/${broken}/v1/config.json`, readFileSync(join(LLAMA, 'config.json')));
    await ctx.save(`models/${broken}/v1/model.safetensors`, bytes);
    const bv = await ctx.settle(broken, 'v1', 120_000);
    if (bv?.['status'] !== 'invalid') say(`deploy-refusals: ${broken}/v1 is ${String(bv?.['status'])}, expected invalid`);

    let n = 0;
    const t = () => `r${n++}`;
    // [what, body, target namespace/name to check for a Deployment (or none), expected reason (one of)]
    const cases: Array<[string, unknown, { ns: string; name: string } | null, string[]]> = [];
    const add = (what: string, over: Record<string, unknown>, expect: string[], targetNs = ns) => {
      const name = t();
      cases.push([what, request(model, targetNs, name, over), { ns: targetNs, name }, expect]);
    };
    add('missing model', { model: `soak-nosuch-${uid()}` }, ['UNKNOWN_MODEL']);
    add('missing version', { version: 'v99' }, ['UNKNOWN_VERSION']);
    add('invalid version', { model: broken, version: 'v1' }, ['VERSION_INVALID']);
    add('latest of a model with no valid version', { model: broken, version: 'latest' }, ['NO_VALID_VERSION']);
    add('a system namespace', {}, ['POLICY_SYSTEM_NAMESPACE', 'POLICY_TARGET', 'SCHEMA'], 'kube-system');
    add('a namespace the policy does not list', {}, ['POLICY_TARGET'], 'prod');
    add('an image from another repository', { image: 'evil.example/miner:latest' }, ['POLICY_IMAGE', 'SCHEMA']);
    add('a vLLM flag the policy does not allow', { vllmArgs: ['--trust-remote-code'] }, ['POLICY_FLAG', 'SCHEMA']);
    add('replicas over the policy', { replicas: 50 }, ['POLICY_REPLICAS', 'SCHEMA']);
    add('negative replicas', { replicas: -1 }, ['SCHEMA']);
    add('a path in the target name', { target: { cluster: 'local', namespace: ns, name: '../../etc' } }, ['SCHEMA']);
    add('RTL override in the model name', { model: 'soak\u202emodel' }, ['SCHEMA']);
    add('an unknown field', { extra: { nested: true } }, ['SCHEMA']);
    cases.push(['not JSON', 'not json {', null, ['NOT_JSON']]);
    cases.push(['a JSON array', [1, 2], null, ['NOT_OBJECT']]);
    cases.push(['70 KB body', 'x'.repeat(70 * 1024), null, ['TOO_LARGE']]);
    // (An empty message cannot be published: Pub/Sub refuses it. hostile-pushes pushes one.)

    let held = 0;
    let lost = 0;
    let deployed = 0;
    const bad: string[] = [];
    const reasons: string[] = [];
    const msgs = await Promise.all(cases.map(([, body]) => ctx.publishDeploy(body)));
    for (let i = 0; i < cases.length; i++) {
      const [what, , target, expect] = cases[i]!;
      const rej = await ctx.rejectionOf(msgs[i]!, 60_000);
      const rollout = await ctx.rollouts.rolloutIdForMessage(msgs[i]!);
      const dep = target ? await ctx.deployment(target.ns, target.name) : undefined;
      if (dep) deployed++;
      if (!rej) {
        lost++;
        bad.push(`${what}: no rejection recorded${rollout ? ` (rollout ${rollout})` : ''}`);
        continue;
      }
      reasons.push(rej.reason);
      if (expect.includes(rej.reason) && !rollout && !dep) held++;
      else bad.push(`${what}: ${rej.reason}${rollout ? `, rollout ${rollout}` : ''}${dep ? ', DEPLOYED' : ''}`);
    }
    await ctx.dropNamespace(ns);
    return [
      {
        scenario: 'deploy: missing/invalid versions, bad requests, policy refusals',
        tried: cases.length,
        held,
        lost,
        duplicated: 0,
        stuck: 0,
        note: `${bad.length ? `not held: ${bad.join(' | ')}; ` : ''}${deployed} deployed; reasons ${[...new Set(reasons)].join(',')}`,
      },
    ];
  },
};

/** Malformed Pub/Sub pushes straight at onDeployRequest: acked or refused cleanly, nothing deployed. */
export const hostilePushes: Scenario = {
  name: 'hostile-pushes',
  group: 'hostile',
  what: 'malformed Pub/Sub pushes at onDeployRequest: clean answers, no 5xx, no HTML, nothing deployed',
  async run(ctx) {
    const model = await validModel(ctx);
    const ns = `${SOAK_NS}-push-${uid()}`;
    // Well formed but for a model that does not exist: it may be read, but never deployed.
    const valid = request(`soak-nosuch-${uid()}`, ns, 'push');
    const real = request(model, ns, 'push');
    const cases: Array<[string, string | Buffer, Record<string, string>?]> = [
      ['non-JSON body', 'this is not json{'],
      ['empty body', ''],
      ['JSON array', '[1,2,3]'],
      ['no message', '{"subscription":"s"}'],
      ['message without data', JSON.stringify({ message: { messageId: `m-${uid()}` }, subscription: 's' })],
      ['data that is not base64', JSON.stringify({ message: { data: '%%%not base64%%%', messageId: `m-${uid()}` }, subscription: 's' })],
      ['data of the wrong type', JSON.stringify({ message: { data: 12345, messageId: `m-${uid()}` }, subscription: 's' })],
      ['messageId of 10 KB', ctx.pushBody('m'.repeat(10_000), valid)],
      ['deeply nested JSON (100k levels)', '['.repeat(100_000) + ']'.repeat(100_000)],
      ['2 MB body (over the 1 MiB cap)', ctx.pushBody(`m-${uid()}`, { pad: 'x'.repeat(2_000_000) })],
      ['wrong content type', ctx.pushBody(`m-${uid()}`, valid), { 'content-type': 'text/plain' }],
      ['binary garbage', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
      [
        'a real request in base64url with junk attributes',
        JSON.stringify({
          message: {
            data: Buffer.from(JSON.stringify(real))
              .toString('base64url')
              .replace(/[A-Za-z]/g, '!'),
            attributes: { x: 'y'.repeat(5000) },
            messageId: `m-${uid()}`,
          },
        }),
      ],
    ];
    let held = 0;
    const bad: string[] = [];
    const pid = ctx.hostPid();
    for (const [what, body, headers] of cases) {
      const r = await ctx.pushDeploy(body, 60_000, headers ?? { 'content-type': 'application/json' });
      // 2xx: acked (Pub/Sub would not redeliver a message that can never be read); a clean 4xx is held too.
      if (cleanAnswer(r)) held++;
      else bad.push(`${what}: ${r.status} ${r.text.slice(0, 100).replace(/\s+/g, ' ')}`);
    }
    const dep = await ctx.deployment(ns, 'push');
    const samePid = ctx.hostPid() === pid;
    await ctx.dropNamespace(ns);
    return [
      {
        scenario: 'hostile Pub/Sub pushes at onDeployRequest',
        tried: cases.length,
        held: dep ? 0 : held,
        lost: 0,
        duplicated: 0,
        stuck: 0,
        note: `${bad.length ? `not held: ${bad.join(' | ')}; ` : 'every one answered cleanly; '}deployed: ${dep ? 'YES' : 'nothing'}; host ${samePid ? 'did not restart' : 'RESTARTED'}`,
      },
    ];
  },
};

export { validModel, request };

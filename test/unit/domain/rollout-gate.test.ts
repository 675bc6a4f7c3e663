/**
 * The `verifying` phase of the rollout state machine (issue #19): a rollout with a gate goes
 * progressing → verifying once the Deployment is done, asks for a gate run, and ends on the
 * verdict — succeeded (GatePassed), or failed and rolled back (GateFailed) — or fails closed when
 * no verdict arrives within the gate's timeout (GateTimeout).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gate, evaluateGate, promptKey, type GateAnswer } from '../../../shared/domain/gate.ts';
import { Rollout } from '../../../shared/domain/rollout.ts';
import { claimGateRun, nextStep, type Action, type Observation } from '../../../shared/domain/rollout-step.ts';
import type { GateRunOutcome } from '../../../shared/domain/verification.ts';
import { predictLoad, summarizeColdStarts, type PodColdStart } from '../../../shared/domain/cold-start.ts';
import { at, cluster, complete, inProgress, kinds, makeRollout, phases, pod, step } from '../../helpers/rollouts.ts';

const gate = Gate.parse({
  prompts: [
    { name: 'capital', prompt: 'The capital of France is', maxTokens: 4, expect: { contains: 'Paris' } },
    { name: 'same', prompt: 'Say something', maxTokens: 8, sameAsPrevious: true },
  ],
  timeoutSeconds: 60,
});

const answers = (capital: string, same: string): GateAnswer[] => [
  { name: 'capital', text: capital, latencyMs: 12 },
  { name: 'same', text: same, latencyMs: 9 },
];
const answered = (pods: Record<string, GateAnswer[]>, previous: Record<string, string> | null = null): Observation => ({
  kind: 'gate',
  outcome: {
    kind: 'answered',
    verdicts: Object.entries(pods).map(([p, a]) => ({ pod: p, verdict: evaluateGate(gate, a, previous) })),
    baselineFrom: previous ? 'r-prev' : null,
    firstAnswerAt: at(101).toISOString(),
  },
});
const unreachable = (message: string): Observation => ({ kind: 'gate', outcome: { kind: 'unreachable', message, pods: [] } satisfies GateRunOutcome });

/** A gated rollout whose Deployment just finished rolling out: now verifying. */
function verifying(previousGoodRolloutId: string | null = 'r-prev') {
  const applying = step(makeRollout('r-new', { gate, previousGoodRolloutId }), cluster(complete('r-prev'), [], previousGoodRolloutId), at(1)).rollout;
  return step(applying, cluster(complete('r-new'), [pod('llama-a', 'r-new')]), at(100));
}

test('a gated rollout verifies before it succeeds: progressing → verifying asks for a gate run', () => {
  const s = verifying();
  assert.deepEqual(phases(s.rollout), ['pending', 'applying', 'progressing', 'verifying']);
  assert.equal(s.rollout.reason, 'Verifying');
  assert.match(s.rollout.message, /asking the new pods 2 gate prompts/);
  assert.deepEqual(kinds(s.actions), ['run-gate']);
  assert.equal(s.rollout.verification?.attempts, 0);
  assert.equal(s.rollout.verification?.startedAt, at(100).toISOString());
  // stored and read back unchanged
  assert.deepEqual(Rollout.parse(JSON.parse(JSON.stringify(s.rollout))), s.rollout);
});

test('a rollout without a gate still goes progressing → succeeded', () => {
  const applying = step(makeRollout('r-new'), cluster(complete('r-prev'), [], 'r-prev'), at(1)).rollout;
  const s = step(applying, cluster(complete('r-new')), at(100));
  assert.equal(s.rollout.phase, 'succeeded');
  assert.equal(s.rollout.verification, null);
});

test('a claimed run holds other workers off until runUntil; after it, the gate is asked for again', () => {
  const v = verifying().rollout;
  const claimed = claimGateRun(v, at(101), at(131));
  assert.equal(claimed.verification?.attempts, 1);
  assert.ok(claimed.updatedAt > v.updatedAt, 'a claim moves updatedAt on, so a stale save loses');
  assert.deepEqual(kinds(step(claimed, cluster(complete('r-new')), at(110)).actions), []);
  assert.deepEqual(kinds(step(claimed, cluster(complete('r-new')), at(132)).actions), ['run-gate']);
  // a claim at the very time of the last update still moves it on
  const same = claimGateRun(v, new Date(Date.parse(v.updatedAt)), at(131));
  assert.ok(same.updatedAt > v.updatedAt);
});

test('passing verdict: verifying → succeeded (GatePassed), answers kept as the next baseline, notify carries the verdict', () => {
  const v = claimGateRun(verifying().rollout, at(101), at(131));
  const s = step(v, answered({ 'llama-a': answers(' Paris.', 'hello') }), at(102));
  assert.equal(s.rollout.phase, 'succeeded');
  assert.equal(s.rollout.reason, 'GatePassed');
  assert.match(s.rollout.message, /gate passed 2\/2 on llama-a/);
  const verdict = s.rollout.verification?.verdict;
  assert.equal(verdict?.passed, true);
  assert.equal(verdict?.answers[promptKey(gate.prompts[1]!)], 'hello');
  assert.equal(s.rollout.verification?.runUntil, null);
  assert.equal(s.rollout.verification?.firstAnswerAt, at(101).toISOString());
  const n = s.actions.find((a) => a.kind === 'notify') as Extract<Action, { kind: 'notify' }>;
  assert.deepEqual(n.gate && { passed: n.gate.passed, passedCount: n.gate.passedCount, total: n.gate.total }, { passed: true, passedCount: 2, total: 2 });
  assert.deepEqual(Rollout.parse(JSON.parse(JSON.stringify(s.rollout))), s.rollout);
});

test('failing verdict: GateFailed rolls back at once to the previous good rollout, the failing prompt recorded', () => {
  const v = claimGateRun(verifying().rollout, at(101), at(131));
  const previous = { [promptKey(gate.prompts[1]!)]: 'hello' };
  const s = step(v, answered({ 'llama-a': answers(' Paris.', 'garbage') }, previous), at(102));
  assert.deepEqual(phases(s.rollout).slice(-3), ['verifying', 'failed', 'rolling_back']);
  assert.equal(s.rollout.history.at(-2)?.reason, 'GateFailed');
  assert.match(s.rollout.history.at(-2)?.message ?? '', /gate failed 1\/2 .*same/);
  assert.deepEqual(kinds(s.actions), ['reapply-previous']);
  const failing = s.rollout.verification?.verdict?.results.filter((r) => !r.passed) ?? [];
  assert.deepEqual(
    failing.map((r) => [r.name, r.actual]),
    [['same', 'garbage']],
  );
  assert.equal(s.rollout.verification?.baselineFrom, 'r-prev');
  // then the rollback completes as any other
  const back = step(s.rollout, cluster(complete('r-prev')), at(150));
  assert.equal(back.rollout.phase, 'rolled_back');
  const n = back.actions.find((a) => a.kind === 'notify') as Extract<Action, { kind: 'notify' }>;
  assert.equal(n.gate?.passed, false);
  assert.deepEqual(
    n.gate?.failing.map((f) => f.name),
    ['same'],
  );
});

test('every pod must pass: one bad replica among good ones fails the gate, and its answers are the ones recorded', () => {
  const v = claimGateRun(verifying().rollout, at(101), at(131));
  const s = step(v, answered({ 'llama-a': answers(' Paris.', 'x'), 'llama-b': answers(' Lyon.', 'x') }), at(102));
  assert.equal(s.rollout.history.at(-2)?.reason, 'GateFailed');
  assert.equal(s.rollout.verification?.verdict?.pod, 'llama-b');
  assert.deepEqual(s.rollout.verification?.pods, ['llama-a', 'llama-b']);
});

test('no previous good rollout: a failing gate scales to zero and ends failed', () => {
  const v = claimGateRun(verifying(null).rollout, at(101), at(131));
  const s = step(v, answered({ 'llama-a': answers(' Berlin', 'x') }), at(102));
  assert.equal(s.rollout.phase, 'failed');
  assert.equal(s.rollout.reason, 'GateFailed');
  assert.deepEqual(kinds(s.actions), ['scale-to-zero', 'notify']);
});

test('no verdict: retried until the gate timeout, then GateTimeout fails closed with the last error', () => {
  const v = claimGateRun(verifying().rollout, at(101), at(131));
  const miss = step(v, unreachable('pod llama-a: 403 forbidden'), at(105));
  assert.equal(miss.rollout.phase, 'verifying');
  assert.equal(miss.rollout.verification?.lastError, 'pod llama-a: 403 forbidden');
  assert.equal(miss.rollout.verification?.runUntil, null);
  assert.deepEqual(kinds(step(miss.rollout, cluster(complete('r-new')), at(110)).actions), ['run-gate']);
  // 60 s after entering verifying (at 100): fail closed
  const late = step(miss.rollout, cluster(complete('r-new')), at(161));
  assert.deepEqual(phases(late.rollout).slice(-3), ['verifying', 'failed', 'rolling_back']);
  assert.equal(late.rollout.history.at(-2)?.reason, 'GateTimeout');
  assert.match(late.rollout.history.at(-2)?.message ?? '', /no gate verdict within 60s after 1 run\(s\); last error: pod llama-a: 403 forbidden/);
  // a run that reports after the timeout cannot pass either
  const v2 = step(v, unreachable('slow'), at(161));
  assert.equal(v2.rollout.history.at(-2)?.reason, 'GateTimeout');
});

test('while verifying, a crash-looping new pod still fails the version, and a changed Deployment is hands-off', () => {
  const v = verifying().rollout;
  const crash = step(v, cluster(inProgress('r-new'), [pod('llama-a', 'r-new', 'CrashLoopBackOff', 3)]), at(110));
  assert.equal(crash.rollout.history.at(-2)?.reason, 'CrashLoopBackOff');
  const changed = step(v, cluster(complete('r-other')), at(110));
  assert.equal(changed.rollout.phase, 'failed');
  assert.equal(changed.rollout.reason, 'DeploymentChanged');
  assert.deepEqual(kinds(changed.actions), ['notify']);
});

test('a gate observation outside verifying changes nothing', () => {
  const r = makeRollout('r-new', { gate });
  const s = nextStep(r, answered({ 'llama-a': answers('Paris', 'x') }), at(5));
  assert.equal(s.rollout, r);
  assert.deepEqual(s.actions, []);
});

// ---------------------------------------------------------------------------------------------
// Cold-start telemetry recorded as the Deployment is done

const loadOf = (pod: string, gibPerSecond: number, seconds: number): PodColdStart => ({
  pod,
  node: 'node-a',
  zone: 'us-central1-a',
  scheduledAt: at(50).toISOString(),
  startedAt: at(60).toISOString(),
  loadedAt: at(60 + seconds).toISOString(),
  readyAt: at(95).toISOString(),
  firstAnswerAt: null,
  load: { bytes: 2 ** 30 * gibPerSecond * seconds, seconds, gibPerSecond, source: 'runai-streamer', parserFor: 'v0.11.2', line: '…', at: null, lines: 1 },
});

test('cold start: the slowest new pod is the measured load; under half the recent median is SLOW_LOAD, carried by notify', () => {
  const predicted = summarizeColdStarts([], predictLoad(4 * 2 ** 30, 'bucket'));
  const r0 = { ...makeRollout('r-new'), coldStart: predicted };
  const applying = step(r0, cluster(complete('r-prev'), [], 'r-prev'), at(1)).rollout;
  const obs: Observation = {
    kind: 'cluster',
    deployment: complete('r-new'),
    pods: [],
    coldStart: { pods: [loadOf('llama-a', 1.2, 3.3), loadOf('llama-b', 0.4, 10)], recentRates: [1.1, 1.2, 1.0, 1.15] },
  };
  const s = step(applying, obs, at(100));
  assert.equal(s.rollout.phase, 'succeeded');
  assert.equal(s.rollout.coldStart?.predicted?.source, 'bucket');
  assert.equal(s.rollout.coldStart?.measured?.pod, 'llama-b');
  assert.equal(s.rollout.coldStart?.pods.length, 2);
  assert.deepEqual(
    s.rollout.warnings.map((w) => w.code),
    ['SLOW_LOAD'],
  );
  assert.match(s.rollout.warnings[0]!.message, /0\.40 GiB\/s/);
  const n = s.actions.find((a) => a.kind === 'notify') as Extract<Action, { kind: 'notify' }>;
  assert.match(n.coldStart ?? '', /^loaded 4\.0 GiB in 10\.0 s \(0\.40 GiB\/s; predicted 3\.6 s from the bucket\)$/);
  assert.deepEqual(
    n.warnings?.map((w) => w.code),
    ['SLOW_LOAD'],
  );
  assert.deepEqual(Rollout.parse(JSON.parse(JSON.stringify(s.rollout))), s.rollout);

  // too few recent loads to judge: no warning
  const fresh = step(applying, { ...obs, coldStart: { ...obs.coldStart!, recentRates: [1.1] } }, at(100));
  assert.deepEqual(fresh.rollout.warnings, []);
});

test('cold start with a gate: recorded on entering verifying; each pod gets its first gated answer', () => {
  const applying = step(makeRollout('r-new', { gate }), cluster(complete('r-prev'), [], 'r-prev'), at(1)).rollout;
  const v = step(
    applying,
    { kind: 'cluster', deployment: complete('r-new'), pods: [], coldStart: { pods: [loadOf('llama-a', 1.1, 2)], recentRates: [] } },
    at(100),
  );
  assert.equal(v.rollout.phase, 'verifying');
  assert.equal(v.rollout.coldStart?.pods[0]?.firstAnswerAt, null);
  const claimed = claimGateRun(v.rollout, at(101), at(131));
  const outcome: Observation = {
    kind: 'gate',
    outcome: {
      kind: 'answered',
      verdicts: [{ pod: 'llama-a', verdict: evaluateGate(gate, answers(' Paris', 'x'), null) }],
      baselineFrom: null,
      firstAnswerAt: at(102).toISOString(),
      firstAnswers: { 'llama-a': at(102).toISOString() },
    },
  };
  const done = step(claimed, outcome, at(103));
  assert.equal(done.rollout.phase, 'succeeded');
  assert.equal(done.rollout.coldStart?.pods[0]?.firstAnswerAt, at(102).toISOString());
});

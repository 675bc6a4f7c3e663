import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_BLOCKS,
  ackMessage,
  consoleProjectFor,
  errorMessage,
  helpMessage,
  rejectedMessage,
  rolloutMessage,
  statusMessage,
  usageMessage,
  versionsMessage,
  type Block,
  type ChatMessage,
  type RolloutView,
  type StatusView,
  type VersionsView,
} from '../../../shared/domain/chat-blocks.ts';
import { teardownMessage, teardownUnavailableMessage, type TeardownView } from '../../../shared/domain/chat-teardown.ts';
import { formatDuration } from '../../../shared/domain/teardown.ts';

const GKE = 'projects/my-proj/locations/us-central1/clusters/gpu';

/** Block Kit's limits and shape, as Slack enforces them (invalid_blocks otherwise). */
function assertValid(m: ChatMessage): void {
  assert.ok(m.text.length > 0 && m.text.length <= 3000, 'a text fallback');
  const blocks = m.blocks ?? [];
  assert.ok(blocks.length <= MAX_BLOCKS, `${blocks.length} blocks`);
  for (const b of blocks as Block[]) {
    switch (b.type) {
      case 'header':
        assert.equal(b.text.type, 'plain_text');
        assert.ok(b.text.text.length > 0 && b.text.text.length <= 150, b.text.text);
        break;
      case 'section':
        assert.ok(b.text || b.fields, 'a section has text or fields');
        if (b.text) assert.ok(b.text.text.length > 0 && b.text.text.length <= 3000);
        if (b.fields) {
          assert.ok(b.fields.length <= 10);
          for (const f of b.fields) assert.ok(f.text.length <= 2000);
        }
        break;
      case 'context':
        assert.ok(b.elements.length >= 1 && b.elements.length <= 10);
        for (const e of b.elements) assert.ok(e.text.length > 0 && e.text.length <= 3000);
        break;
      case 'divider':
        break;
    }
  }
  JSON.stringify(m);
}
const allText = (m: ChatMessage): string => JSON.stringify(m);

const rollout = (over: Partial<RolloutView> = {}): RolloutView => ({
  id: 'ro-20260301-100000-abcdef0123',
  model: 'llama',
  version: 'v2',
  target: { cluster: GKE, namespace: 'serving', name: 'llama' },
  phase: 'succeeded',
  reason: 'RolloutComplete',
  message: 'deployment "llama" successfully rolled out',
  requestedBy: 'slack:T1/U1 (alice) (slack)',
  previousGoodRolloutId: 'ro-20260228-090000-0000000000',
  uri: 'gs://models-bucket/models/llama/v2',
  ...over,
});

test('rollout result: model, version, phase, reason, rollout id, and links to workload, logs and checkpoint', () => {
  const m = rolloutMessage(rollout(), { consoleProject: 'ferry-prod' });
  assertValid(m);
  assert.equal(m.response_type, 'in_channel', 'results are for the channel');
  const s = allText(m);
  for (const want of ['llama', 'v2', 'succeeded', 'RolloutComplete', 'ro-20260301-100000-abcdef0123', 'Rollout succeeded', 'alice'])
    assert.ok(s.includes(want), want);
  assert.ok(s.includes('https://console.cloud.google.com/kubernetes/deployment/us-central1/gpu/serving/llama/overview?project=my-proj'), 'workload link');
  assert.ok(
    s.includes('https://console.cloud.google.com/logs/query;query=jsonPayload.rolloutId%3D%22ro-20260301-100000-abcdef0123%22?project=ferry-prod'),
    'logs link',
  );
  assert.ok(s.includes('https://console.cloud.google.com/storage/browser/models-bucket/models/llama/v2/?project=ferry-prod'), 'checkpoint link');
  assert.match(m.text, /Rollout succeeded: llama@v2 → projects\/my-proj\/.*\/serving\/llama \(succeeded, RolloutComplete\)/);
});

test('rollout result: phases get their own headline; no console links for a local target and a demo project', () => {
  const rb = rolloutMessage(rollout({ phase: 'rolled_back', reason: 'RolledBack', target: { cluster: 'local', namespace: 'ns', name: 'n' } }), {
    consoleProject: consoleProjectFor('demo-ferry'),
  });
  assertValid(rb);
  assert.match(rb.text, /^Rolled back to the previous good version/);
  assert.ok(!allText(rb).includes('console.cloud.google.com'));
  assert.match(rolloutMessage(rollout({ phase: 'failed', reason: 'CrashLoopBackOff' }), { consoleProject: null }).text, /^Rollout failed/);
  assert.match(
    rolloutMessage(rollout({ phase: 'applying', reason: 'Started' }), { consoleProject: null, headline: 'Rollout started' }).text,
    /^Rollout started/,
  );
  assert.equal(consoleProjectFor('ferry-prod'), 'ferry-prod');
  assert.equal(consoleProjectFor(undefined), null);
});

test('text from the cluster or users is escaped: no mentions, no links smuggled in', () => {
  const m = rolloutMessage(rollout({ message: 'pod failed <!channel> see <https://evil.example|here> & more' }), { consoleProject: null });
  assertValid(m);
  const s = allText(m);
  assert.ok(!s.includes('<!channel>') && !s.includes('<https://evil.example'), s);
  assert.ok(s.includes('&lt;!channel&gt;') && s.includes('&amp; more'));
});

test('very long messages are clipped to the limits', () => {
  const m = rolloutMessage(rollout({ message: 'x'.repeat(10_000), model: 'm'.repeat(63), version: 'v'.repeat(63) }), { consoleProject: null });
  assertValid(m);
});

test('status: per model its latest valid version, versions and rollouts; unknown model and empty store say what to do', () => {
  const view: StatusView = {
    model: 'llama',
    moreModels: 0,
    models: [
      {
        model: 'llama',
        latestValid: 'v2',
        versions: [
          { version: 'v3', status: 'incomplete', note: 'missing model-00002-of-00002.safetensors' },
          { version: 'v2', status: 'valid', note: '8.03B parameters, 4 shards' },
          { version: 'v1', status: 'invalid', note: 'DTYPE_UNKNOWN: bad dtype' },
        ],
        moreVersions: 2,
        rollouts: [rollout({ phase: 'progressing', reason: 'Applied' }), rollout({ id: 'ro-old', version: 'v1' })],
      },
    ],
  };
  const m = statusMessage(view, { consoleProject: 'ferry-prod' });
  assertValid(m);
  assert.equal(m.response_type, 'ephemeral');
  const s = allText(m);
  for (const want of ['latest valid', 'v3', 'incomplete', 'missing model-00002', 'DTYPE_UNKNOWN', 'and 2 older', 'progressing', 'ro-old', 'logs'])
    assert.ok(s.includes(want), want);
  const unknown = statusMessage({ model: 'nope', models: [], moreModels: 0 }, { consoleProject: null });
  assertValid(unknown);
  assert.match(unknown.text, /No model named `nope`.*Upload a checkpoint/);
  assert.match(statusMessage({ model: null, models: [], moreModels: 0 }, { consoleProject: null }).text, /No models yet/);
});

test('status with many models and rollouts stays within 50 blocks', () => {
  const models = Array.from({ length: 30 }, (_, i) => ({
    model: `model-${i}`,
    latestValid: 'v1',
    versions: [{ version: 'v1', status: 'valid', note: '' }],
    moreVersions: 0,
    rollouts: Array.from({ length: 3 }, (_, j) => rollout({ id: `ro-${i}-${j}` })),
  }));
  const m = statusMessage({ model: null, models, moreModels: 5 }, { consoleProject: 'p-roject' });
  assertValid(m);
  assert.ok(allText(m).includes('more blocks left out'));
});

test('versions: each version with its facts and what changed since the previous one', () => {
  const view: VersionsView = {
    model: 'llama',
    more: 0,
    versions: [
      {
        version: 'v2',
        status: 'valid',
        createdAt: '2026-03-01T10:00:00.000Z',
        uri: 'gs://b/models/llama/v2',
        facts: { shards: 2, dtypes: ['F8_E4M3'], parameters: 8e9, tensorBytes: 8 * 1024 ** 3 },
        comparedTo: 'v1',
        changes: [
          { fact: 'shards', text: 'shards 4 → 2' },
          { fact: 'dtypes', text: 'dtypes +F8_E4M3 −BF16' },
        ],
      },
      {
        version: 'v1',
        status: 'valid',
        createdAt: '2026-02-01T10:00:00.000Z',
        uri: 'gs://b/models/llama/v1',
        facts: { shards: 4, dtypes: ['BF16'], parameters: 8e9, tensorBytes: 16 * 1024 ** 3 },
        comparedTo: null,
        changes: [],
      },
      { version: 'v0', status: 'incomplete', createdAt: '2026-01-01T10:00:00.000Z', uri: 'gs://b/models/llama/v0', facts: null, comparedTo: null, changes: [] },
    ],
  };
  const m = versionsMessage(view, { model: 'llama', consoleProject: null });
  assertValid(m);
  const s = allText(m);
  for (const want of ['vs `v1`', 'shards 4 → 2', 'dtypes +F8_E4M3 −BF16', '2 shards', '8.00B parameters', '16.0 GiB', 'not validated yet'])
    assert.ok(s.includes(want), want);
  assert.match(versionsMessage(null, { model: 'x', consoleProject: null }).text, /No model named `x`/);
  const same = versionsMessage({ ...view, versions: [{ ...view.versions[0]!, changes: [] }] }, { model: 'llama', consoleProject: null });
  assert.ok(allText(same).includes('same shards, dtypes, parameters and bytes'));
});

const POLICY = {
  idleTtlSeconds: { cache: 6 * 3600, deployment: 86_400, cluster: 86_400 },
  clusterMode: 'scale-to-zero',
  scaleDeployments: false,
  maxActions: 10,
  protectLabel: 'ferry-protect',
};
const dryRun = (over: Partial<TeardownView> = {}): TeardownView => ({
  id: '20261121-101500-abc123',
  dryRun: true,
  trigger: 'chat',
  plan: {
    actions: [{ message: 'disable Anywhere Cache models~us-central1-a: idle 3d (TTL 6h)', idleSeconds: 3 * 86_400 }],
    skipped: [
      { resource: { kind: 'cache', bucket: 'models', zone: 'us-central1-b' }, reason: 'IN_USE_BY_DEPLOYMENT', message: 'used by local~ns~m' },
      { resource: { kind: 'cache', bucket: 'models', zone: 'us-central1-c' }, reason: 'NOT_MANAGED', message: 'not created by ferry' },
      { resource: { kind: 'cluster', name: GKE }, reason: 'DEPLOYMENT_RUNNING', message: 'Deployment x has replicas' },
    ],
    policy: POLICY,
  },
  results: [],
  inventoryWarnings: [],
  summary: { planned: 1, done: 0, started: 0, skipped: 0, failed: 0 },
  ...over,
});

test('teardown plan (dry run): what would go and why, why the rest stays, and that nothing changed', () => {
  const m = teardownMessage(dryRun());
  assertValid(m);
  assert.equal(m.response_type, 'ephemeral');
  assert.match(m.text, /^Teardown plan: 1 action/);
  const s = allText(m);
  for (const want of [
    'Nothing was changed',
    'disable Anywhere Cache models~us-central1-a',
    'in use by a running Deployment (1)',
    'not created or labelled by ferry (1)',
    'a Deployment is running (1)',
    `cluster ${GKE}`,
    'run `20261121-101500-abc123`',
    'caches 6h',
    'clusters 1d',
    'scale-to-zero',
    '`ferry teardown`',
  ]) {
    assert.ok(s.includes(want), want);
  }
  const none = teardownMessage(
    dryRun({ plan: { actions: [], skipped: [], policy: POLICY }, summary: { planned: 0, done: 0, started: 0, skipped: 0, failed: 0 } }),
  );
  assertValid(none);
  assert.match(none.text, /nothing is idle/);
  assert.ok(!allText(none).includes('to carry it out'));
});

test('teardown summary (real run): outcomes with their messages; warnings say what was left alone; user text is escaped', () => {
  const m = teardownMessage(
    dryRun({
      dryRun: false,
      trigger: 'schedule',
      results: [
        { outcome: 'done', message: 'disable Anywhere Cache models~us-central1-a' },
        { outcome: 'failed', message: 'cluster:x: GKE <denied> & more' },
      ],
      inventoryWarnings: ['cluster gpu: could not read it'],
      summary: { planned: 2, done: 1, started: 0, skipped: 0, failed: 1 },
    }),
  );
  assertValid(m);
  assert.match(m.text, /^Teardown: 1 done, 0 started, 0 skipped, 1 failed/);
  const s = allText(m);
  assert.ok(s.includes(':white_check_mark: *done*') && s.includes(':x: *failed*'));
  assert.ok(s.includes('GKE &lt;denied&gt; &amp; more'), 'escaped');
  assert.ok(s.includes('could not read it'));
  assert.ok(s.includes('retried by the next run'));
});

test('teardown messages stay inside Block Kit limits with many actions and skips', () => {
  const many = dryRun({
    plan: {
      actions: Array.from({ length: 300 }, (_, i) => ({
        message: `disable Anywhere Cache bucket-${i}~us-central1-a: idle 3d (TTL 6h) ${'x'.repeat(60)}`,
        idleSeconds: 1,
      })),
      skipped: Array.from({ length: 500 }, (_, i) => ({
        resource: { kind: 'cache', bucket: `b${i}`, zone: 'z' },
        reason: i % 2 ? 'NOT_MANAGED' : 'RECENTLY_ACTIVE',
        message: 'm',
      })),
      policy: POLICY,
    },
    inventoryWarnings: Array.from({ length: 20 }, (_, i) => `warning ${i}`),
  });
  const m = teardownMessage(many);
  assertValid(m);
  assert.ok(allText(m).includes('+247 more'), 'the reasons for what stays still fit');
  assert.ok(allText(m).includes('…and 260 more'));
});

test('teardown not set up: says so, and what to do', () => {
  const m = teardownUnavailableMessage();
  assertValid(m);
  assert.match(m.text, /not set up/);
  assert.ok(allText(m).includes('ferry teardown --dry-run'));
});

test('formatDuration', () => {
  assert.deepEqual([0, 40, 300, 3600, 3900, 86_400, 3 * 86_400 + 4 * 3600].map(formatDuration), ['0s', '40s', '5m', '1h', '1h 5m', '1d', '3d 4h']);
});

test('small messages: help, usage, ack, refusal of a request, errors', () => {
  for (const m of [
    helpMessage('/ferry'),
    usageMessage('unknown command `x`', '/ferry'),
    ackMessage({ commandId: 'sc-1', description: 'deploy m@v1 to local/ns/n', deploy: true }),
    ackMessage({ commandId: 'sc-1', description: 'status', deploy: false }),
    rejectedMessage({
      reason: 'UNKNOWN_VERSION',
      message: 'model m has no version v9',
      issues: [{ path: 'version', message: 'bad' }],
      description: 'deploy m@v9 to local/ns/n',
    }),
    errorMessage({ code: 'STATE_FORBIDDEN', message: 'refused', hint: 'grant roles/datastore.user', commandId: 'sc-1' }),
  ])
    assertValid(m);
  assert.ok(allText(helpMessage('/ferry')).includes('/ferry deploy <model>@<version|latest> to <cluster>/<namespace>/<name>'));
  assert.equal(ackMessage({ commandId: 'sc-1', description: 'status', deploy: false }).response_type, 'ephemeral');
});

test('a rollout message shows the gate: counts, each failing prompt expected vs got (escaped), the cold start and SLOW_LOAD', () => {
  const m = rolloutMessage(
    rollout({
      phase: 'rolled_back',
      reason: 'RolledBack',
      gate: {
        passed: false,
        passedCount: 1,
        total: 3,
        threshold: 1,
        pod: 'llama-7f-abc',
        failing: [
          { name: 'capital', failure: 'expected to contain "Paris"', expected: 'contains "Paris"', actual: ' Lyon <!channel> `x`' },
          { name: 'json', failure: 'no answer: timeout', expected: 'JSON matching the schema', actual: null },
        ],
        more: 2,
      },
      coldStart: 'loaded 14.2 GiB in 13.1 s (1.08 GiB/s; predicted 12.9 s from the bucket)',
      warnings: [{ code: 'SLOW_LOAD', message: 'loaded at 0.40 GiB/s, under half the median 1.1 GiB/s' }],
    }),
    { consoleProject: null },
  );
  const text = JSON.stringify(m.blocks);
  assert.match(text, /:x: \*Gate failed\* 1\/3 \(needs 100%\) on `llama-7f-abc`/);
  assert.match(text, /• `capital`: expected to contain \\"Paris\\"\\n {3}expected: contains \\"Paris\\"/);
  assert.match(text, /got: ` Lyon &lt;!channel&gt; 'x'`/);
  assert.match(text, /got: _no answer_/);
  assert.match(text, /…and 2 more failing prompts/);
  assert.match(text, /:stopwatch: cold start: loaded 14\.2 GiB in 13\.1 s/);
  assert.match(text, /:warning: `SLOW_LOAD` loaded at 0\.40 GiB\/s/);
});

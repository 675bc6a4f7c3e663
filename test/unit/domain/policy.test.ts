import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkDeploy,
  parsePolicy,
  policyDiff,
  flagUses,
  canonicalRepository,
  slackUserOf,
  isSystemNamespace,
  originOf,
  type PolicyDoc,
  type PolicyInput,
  type DeployOrigin,
} from '../../../shared/domain/policy.ts';
import { parseDeployRequest, type DeployRequest, type DeployRequestInput } from '../../../shared/domain/deploy-request.ts';
import { LOCAL_POLICY } from '../../helpers/policy.ts';

const GKE = 'projects/acme-ml/locations/us-central1/clusters/gpu';
const DIGEST = 'sha256:' + 'a'.repeat(64);

const policyOf = (input: PolicyInput): PolicyDoc => {
  const r = parsePolicy(input);
  if (!r.ok) assert.fail(`invalid test policy: ${JSON.stringify(r.issues)}`);
  return r.policy;
};

const BASE: PolicyInput = {
  apiVersion: 'ferry/policy-v1',
  targets: [
    { cluster: GKE, namespaces: ['ml', 'team-*'], maxReplicas: 4, maxAcceleratorsPerReplica: 2, acceleratorTypes: ['nvidia-l4', 'nvidia-h100-80gb'] },
    { cluster: 'local', namespaces: ['demo'] },
  ],
  images: { repositories: ['vllm/vllm-openai', 'us-docker.pkg.dev/acme-ml/serving/vllm'] },
  vllmFlags: { '--max-model-len': {}, '--dtype': { values: ['bfloat16', 'auto'] }, '--enforce-eager': {} },
  grants: [
    { name: 'deploy-topic', sources: ['pubsub', 'cli', 'autodeploy'], topics: ['ferry-deploy-requests'], targets: [`${GKE}/*`, 'local/demo'] },
    { name: 'oncall', sources: ['slack'], slackUsers: ['U0ONCALL'], targets: [`${GKE}/ml`] },
  ],
};

const req = (over: Partial<DeployRequestInput> = {}): DeployRequest => {
  const r = parseDeployRequest(
    JSON.stringify({
      apiVersion: 'ferry/v1',
      model: 'llama',
      version: 'v1',
      target: { cluster: GKE, namespace: 'ml', name: 'llama' },
      accelerator: { type: 'nvidia-l4', count: 1 },
      requestedBy: { source: 'pubsub', principal: 'ci' },
      ...over,
    }),
  );
  if (!r.ok) assert.fail(`invalid test request: ${r.message}`);
  return r.request;
};
const TOPIC: DeployOrigin = { source: 'pubsub', principal: 'ci', topic: 'ferry-deploy-requests' };
const decide = (over: Partial<DeployRequestInput> = {}, origin: DeployOrigin = TOPIC, policy: PolicyDoc | null = policyOf(BASE)) =>
  checkDeploy(policy, { request: req(over), origin });
const reasonOf = (d: ReturnType<typeof checkDeploy>) => (d.ok ? 'ADMITTED' : d.reason);

test('a request inside the policy is allowed, naming the grant', () => {
  const d = decide({ vllmArgs: ['--max-model-len=8192', '--dtype', 'bfloat16', '--enforce-eager'] });
  assert.deepEqual(d, { ok: true, grant: 'deploy-topic', target: 0 });
  assert.equal(reasonOf(decide({ image: 'docker.io/vllm/vllm-openai:v0.12.0' })), 'ADMITTED', 'docker.io/ spelled out is the same repository');
  assert.equal(reasonOf(decide({ target: { cluster: GKE, namespace: 'team-a', name: 'x' } })), 'ADMITTED', 'a listed prefix pattern');
});

test('no policy document: every deploy is refused with POLICY_MISSING (the bootstrap state)', () => {
  const d = decide({}, TOPIC, null);
  assert.equal(reasonOf(d), 'POLICY_MISSING');
  assert.match((d as { message: string }).message, /no deploy policy is set/);
});

test('each rule refuses with its own code and names itself in the message', () => {
  const cases: Array<[string, Partial<DeployRequestInput>, DeployOrigin?]> = [
    ['POLICY_SYSTEM_NAMESPACE', { target: { cluster: GKE, namespace: 'kube-system', name: 'x' } }],
    ['POLICY_SYSTEM_NAMESPACE', { target: { cluster: 'local', namespace: 'gmp-system', name: 'x' } }],
    ['POLICY_TARGET', { target: { cluster: GKE, namespace: 'default', name: 'x' } }],
    ['POLICY_TARGET', { target: { cluster: 'projects/acme-ml/locations/us-central1/clusters/other', namespace: 'ml', name: 'x' } }],
    ['POLICY_SOURCE', {}, { ...TOPIC, topic: 'ferry-untrusted' }],
    ['POLICY_SOURCE', {}, { ...TOPIC, topic: null }],
    ['POLICY_SOURCE', {}, { source: 'slack', principal: 'slack:T01/U0INTRUDER (eve)', topic: 'ferry-deploy-requests' }],
    [
      'POLICY_SOURCE',
      { target: { cluster: GKE, namespace: 'team-a', name: 'x' } },
      { source: 'slack', principal: 'slack:T01/U0ONCALL (bob)', topic: 'ferry-deploy-requests' },
    ],
    ['POLICY_IMAGE', { image: 'ghcr.io/attacker/cryptominer:latest' }],
    ['POLICY_IMAGE', { image: 'vllm/vllm-openai-evil:v0.11.2' }],
    ['POLICY_FLAG', { vllmArgs: ['--trust-remote-code'] }],
    ['POLICY_FLAG', { vllmArgs: ['--trust_remote_code'] }],
    ['POLICY_FLAG', { vllmArgs: ['--trust-remote'] }],
    ['POLICY_FLAG', { vllmArgs: ['--max-model-len=4096', 'extra-positional', 'words'] }],
    ['POLICY_FLAG_VALUE', { vllmArgs: ['--dtype=float32'] }],
    ['POLICY_FLAG_VALUE', { vllmArgs: ['--dtype'] }],
    ['POLICY_REPLICAS', { replicas: 5 }],
    ['POLICY_REPLICAS', { autoscaling: { profile: 'throughput', maxReplicas: 9 } }],
    ['POLICY_ACCELERATOR', { accelerator: { type: 'nvidia-l4', count: 4 } }],
    ['POLICY_ACCELERATOR', { accelerator: { type: 'nvidia-a100-80gb', count: 1 } }],
  ];
  for (const [code, over, origin] of cases) {
    const d = decide(over, origin);
    assert.equal(reasonOf(d), code, JSON.stringify(over) + JSON.stringify(origin ?? {}));
    assert.match((d as { message: string }).message, /^refused by policy rule [\w.[\]-]+: /);
  }
  assert.equal(reasonOf(decide({}, { source: 'slack', principal: 'slack:T01/U0ONCALL (bob)', topic: 'ferry-deploy-requests' })), 'ADMITTED');
});

test('digests only: a tag (and so the default image) is refused, a digest is allowed', () => {
  const strict = policyOf({ ...BASE, images: { repositories: ['vllm/vllm-openai'], digestsOnly: true } });
  assert.equal(reasonOf(decide({}, TOPIC, strict)), 'POLICY_IMAGE_DIGEST');
  assert.equal(reasonOf(decide({ image: 'vllm/vllm-openai:v0.11.2' }, TOPIC, strict)), 'POLICY_IMAGE_DIGEST');
  assert.equal(reasonOf(decide({ image: `vllm/vllm-openai@${DIGEST}` }, TOPIC, strict)), 'ADMITTED');
});

test('the schema is strict: unknown fields, system namespaces and patterns that cover them are refused', () => {
  const bad = (over: Record<string, unknown>) => parsePolicy({ ...BASE, ...over });
  assert.equal(bad({ extra: 1 }).ok, false);
  for (const ns of ['kube-system', 'kube-*', 'k*', 'gke-*', 'g*', 'gmp-public', 'istio-system']) {
    const r = bad({ targets: [{ cluster: 'local', namespaces: [ns] }] });
    assert.equal(r.ok, false, ns);
  }
  assert.equal(bad({ images: { repositories: ['vllm/vllm-openai:v1'] } }).ok, false, 'a repository has no tag');
  assert.equal(bad({ vllmFlags: { trust: {} } }).ok, false, 'flags are --long');
  assert.equal(bad({ grants: [{ name: 'x', sources: ['pubsub'], slackUsers: ['U0A1B2C3'], targets: ['*'] }] }).ok, false, 'slackUsers only with slack');
  assert.equal(parsePolicy(LOCAL_POLICY).ok, true, 'the local stack policy parses');
});

test('helpers: flag uses, repositories, Slack principals, system namespaces, origins', () => {
  assert.deepEqual(flagUses(['--a=1', '--b', '2', '--c', '--d_e', 'x', 'y']), [
    { flag: '--a', value: '1', index: 0 },
    { flag: '--b', value: '2', index: 1 },
    { flag: '--c', value: null, index: 3 },
    { flag: '--d-e', value: 'x', index: 4 },
    { positional: 'y', index: 6 },
  ]);
  assert.equal(canonicalRepository('vllm/vllm-openai:v1'), 'docker.io/vllm/vllm-openai');
  assert.equal(canonicalRepository('busybox'), 'docker.io/library/busybox');
  assert.equal(canonicalRepository(`us-docker.pkg.dev/p/r/vllm@${DIGEST}`), 'us-docker.pkg.dev/p/r/vllm');
  assert.equal(slackUserOf('slack:T0LOCAL/ULOCALDEV (dev)'), 'ULOCALDEV');
  assert.equal(slackUserOf('slack:U0ABC'), 'U0ABC');
  assert.equal(slackUserOf('U0ABC'), null, 'not a slack principal');
  assert.ok(isSystemNamespace('kube-node-lease') && isSystemNamespace('gke-managed-system') && !isSystemNamespace('ml'));
  assert.deepEqual(originOf({ source: 'upload', principal: 'gs://b/models/m/v' }, 't'), { source: 'autodeploy', principal: 'gs://b/models/m/v', topic: 't' });
});

test('policyDiff shows what changed, line by line', () => {
  const before = policyOf(BASE);
  const after = policyOf({ ...BASE, images: { repositories: ['vllm/vllm-openai'] } });
  const diff = policyDiff(before, after);
  assert.ok(diff.some((l) => l.startsWith('- ') && l.includes('us-docker.pkg.dev/acme-ml/serving/vllm')));
  assert.ok(diff.every((l) => /^[+-] /.test(l)));
  assert.deepEqual(policyDiff(before, before), []);
  assert.ok(policyDiff(null, before).every((l) => l.startsWith('+ ')));
});

// ---------------------------------------------------------------------------------------------
// Property: no request outside the policy is ever admitted.

const CLUSTERS = ['local', GKE, 'projects/acme-ml/locations/europe-west4/clusters/tpu'];
const NAMESPACES = [
  'ml',
  'demo',
  'team-a',
  'team-b',
  'default',
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'gke-managed-system',
  'gmp-system',
  'istio-system',
];
const POLICY_NAMESPACES = ['ml', 'demo', 'team-a', 'team-*', 'default'];
const REPOS = ['vllm/vllm-openai', 'docker.io/vllm/vllm-tpu', 'us-docker.pkg.dev/acme-ml/serving/vllm'];
const IMAGES = [
  undefined,
  'vllm/vllm-openai:v0.11.2',
  'docker.io/vllm/vllm-openai:v0.12.0',
  `vllm/vllm-openai@${DIGEST}`,
  'ghcr.io/attacker/cryptominer:latest',
  'us-docker.pkg.dev/acme-ml/serving/vllm:1.0',
  `us-docker.pkg.dev/acme-ml/serving/vllm@${DIGEST}`,
  'vllm/vllm-openai-evil:v0.11.2',
];
const FLAGS = ['--max-model-len', '--dtype', '--enforce-eager', '--trust-remote-code', '--max-num-seqs'];
const ARGS = [
  '--max-model-len=4096',
  '--dtype',
  'bfloat16',
  '--dtype=float32',
  '--enforce-eager',
  '--trust-remote-code',
  '--trust_remote_code',
  '--trust-remote',
  'positional',
  '--max-num-seqs',
  '16',
];
const TOPICS = ['ferry-deploy-requests', 'ferry-untrusted'];
const SLACK_USERS = ['U0ONCALL', 'U0OTHER1'];
const SOURCES = ['pubsub', 'slack', 'autodeploy', 'cli'] as const;

const arbPolicy = fc.record({
  apiVersion: fc.constant('ferry/policy-v1' as const),
  targets: fc.array(
    fc.record(
      {
        cluster: fc.constantFrom(...CLUSTERS),
        namespaces: fc.uniqueArray(fc.constantFrom(...POLICY_NAMESPACES), { minLength: 1 }),
        maxReplicas: fc.integer({ min: 0, max: 8 }),
        maxAcceleratorsPerReplica: fc.integer({ min: 1, max: 8 }),
        acceleratorTypes: fc.uniqueArray(fc.constantFrom('nvidia-l4' as const, 'nvidia-h100-80gb' as const), { minLength: 1 }),
      },
      { requiredKeys: ['cluster', 'namespaces'] },
    ),
    { maxLength: 3 },
  ),
  images: fc.record({ repositories: fc.uniqueArray(fc.constantFrom(...REPOS)), digestsOnly: fc.boolean() }),
  vllmFlags: fc.dictionary(
    fc.constantFrom(...FLAGS),
    fc.oneof(fc.constant({}), fc.record({ values: fc.uniqueArray(fc.constantFrom('bfloat16', '4096', '16'), { minLength: 1 }) })),
  ),
  grants: fc.array(
    fc.record(
      {
        name: fc.constantFrom('a', 'b', 'c'),
        sources: fc.uniqueArray(fc.constantFrom(...SOURCES), { minLength: 1 }),
        topics: fc.uniqueArray(fc.constantFrom(...TOPICS), { minLength: 1 }),
        targets: fc.uniqueArray(fc.constantFrom('*', ...CLUSTERS.flatMap((c) => [`${c}/*`, `${c}/ml`, `${c}/team-a`])), { minLength: 1 }),
      },
      { requiredKeys: ['name', 'sources', 'targets'] },
    ),
    { maxLength: 3 },
  ),
});

const arbRequest = fc.record({
  cluster: fc.constantFrom(...CLUSTERS),
  namespace: fc.constantFrom(...NAMESPACES),
  image: fc.constantFrom(...IMAGES),
  vllmArgs: fc.array(fc.constantFrom(...ARGS), { maxLength: 4 }),
  replicas: fc.integer({ min: 0, max: 10 }),
  accelerator: fc.record({
    type: fc.constantFrom('nvidia-l4' as const, 'nvidia-h100-80gb' as const, 'nvidia-a100-80gb' as const),
    count: fc.constantFrom(1, 2, 4, 8),
  }),
  source: fc.constantFrom('pubsub' as const, 'slack' as const, 'upload' as const, 'cli' as const),
  slackUser: fc.constantFrom(...SLACK_USERS),
  topic: fc.constantFrom<string | null>(...TOPICS, null),
});

/** The oracle: what "inside the policy" means, written out plainly, rule by rule. */
function inside(p: PolicyDoc, r: DeployRequest, o: DeployOrigin): boolean {
  const { cluster, namespace } = r.target;
  if (/^(kube-|gke-|gmp-)/.test(namespace) || namespace === 'istio-system') return false;
  const target = p.targets.find(
    (t) => t.cluster === cluster && t.namespaces.some((n) => (n.endsWith('*') ? namespace.startsWith(n.slice(0, -1)) : n === namespace)),
  );
  if (!target) return false;
  const user = /\/(U[A-Z0-9]+) /.exec(o.principal)?.[1];
  const granted = p.grants.some(
    (g) =>
      g.sources.includes(o.source) &&
      (!g.topics || (o.topic !== null && g.topics.includes(o.topic))) &&
      (!g.slackUsers || (o.source === 'slack' && user !== undefined && g.slackUsers.includes(user))) &&
      g.targets.some((t) => t === '*' || t === `${cluster}/*` || t === `${cluster}/${namespace}`),
  );
  if (!granted) return false;
  const image = r.image ?? 'vllm/vllm-openai:v0.11.2';
  const repo = image.split('@')[0]!.replace(/:[^/]*$/, '');
  const full = (x: string) => (x.startsWith('docker.io/') ? x : x.split('/')[0]!.includes('.') ? x : `docker.io/${x}`);
  if (!p.images.repositories.map(full).includes(full(repo))) return false;
  if (p.images.digestsOnly && !image.includes('@sha256:')) return false;
  const args = r.vllmArgs;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) return false;
    const [name, eqValue] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const flag = name.replaceAll('_', '-');
    let value = eqValue;
    if (value === undefined && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) value = args[++i];
    const rule = p.vllmFlags[flag];
    if (!rule) return false;
    if (rule.values && (value === undefined || !rule.values.includes(value))) return false;
  }
  const replicas = r.autoscaling ? r.autoscaling.maxReplicas : r.replicas;
  if (replicas > target.maxReplicas) return false;
  if (r.accelerator && target.maxAcceleratorsPerReplica !== undefined && r.accelerator.count > target.maxAcceleratorsPerReplica) return false;
  if (target.acceleratorTypes && (!r.accelerator || !target.acceleratorTypes.includes(r.accelerator.type))) return false;
  return true;
}

test('property: a request is admitted exactly when it is inside the policy; nothing outside is ever admitted', () => {
  const seen = { admitted: 0, refused: 0 };
  fc.assert(
    fc.property(arbPolicy, arbRequest, (input, x) => {
      const parsed = parsePolicy(input);
      fc.pre(parsed.ok);
      const policy = (parsed as { policy: PolicyDoc }).policy;
      const request = parseDeployRequest(
        JSON.stringify({
          apiVersion: 'ferry/v1',
          model: 'm',
          version: 'v1',
          target: { cluster: x.cluster, namespace: x.namespace, name: 'n' },
          replicas: x.replicas,
          accelerator: x.accelerator,
          ...(x.image ? { image: x.image } : {}),
          vllmArgs: x.vllmArgs,
          requestedBy: { source: x.source, principal: x.source === 'slack' ? `slack:T01/${x.slackUser} (n)` : 'p' },
        }),
      );
      fc.pre(request.ok);
      const r = (request as { request: DeployRequest }).request;
      const origin = originOf(r.requestedBy, x.topic);
      const d = checkDeploy(policy, { request: r, origin });
      const expected = inside(policy, r, origin);
      assert.equal(d.ok, expected, JSON.stringify({ d, r: { target: r.target, image: r.image, args: r.vllmArgs }, origin }));
      if (d.ok) assert.ok(!/^(kube-|gke-|gmp-)/.test(r.target.namespace), 'never a system namespace');
      seen[d.ok ? 'admitted' : 'refused']++;
    }),
    { numRuns: 3000 },
  );
  // Both sides were exercised (the generators make admissions rare but not absent).
  assert.ok(seen.admitted > 0 && seen.refused > 0, JSON.stringify(seen));
});

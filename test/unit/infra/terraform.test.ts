/**
 * infra/ (Terraform) checked against the code, without a terraform binary: every .tf file is parsed
 * with @cdktn/hcl2json, for_each resources expanded into their instances (tf.ts), and compared with functions/manifest.ts (which functions exist and how they
 * are triggered), shared/config.ts (which env vars each function must get), the wiring (which
 * clients — and so which IAM roles — each function uses) and the Firestore adapters (which
 * composite indexes the queries need).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { FUNCTIONS, type FunctionSpec } from '../../../functions/manifest.ts';
import * as config from '../../../shared/config.ts';
import { DEFAULT_SERVICE_ACCOUNT } from '../../../shared/domain/rendered-spec.ts';
import {
  loadTf,
  refsIn,
  soleRef,
  references,
  referencedOfType,
  evaluate,
  variableValue,
  walkStrings,
  block,
  blocks,
  ofType,
  UNKNOWN,
  WHEN,
  type Block,
} from './tf.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const INFRA = join(ROOT, 'infra');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const tf = await loadTf(INFRA);

const FN_TYPE = 'google_cloudfunctions2_function';
const addr = (type: string, name: string) => `${type}.${name}`;
const str = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

// ---- IAM grants ------------------------------------------------------------------------------------

interface Grant {
  address: string;
  type: string;
  role: string;
  member: unknown;
  block: Block;
}
/** A literal role, or `custom:<name>` for a google_project_iam_custom_role defined here. */
function roleOf(v: unknown): string {
  const [custom] = referencedOfType(v, 'google_project_iam_custom_role');
  return custom ? `custom:${custom.split('.')[1]}` : String(v);
}
const GRANTS: Grant[] = [...tf.resources]
  .filter(([k]) => /_iam_member\./.test(k))
  .map(([k, b]) => ({ address: k, type: k.split('.')[0]!, role: roleOf(b['role']), member: b['member'], block: b }));

/** The grants held by a resource-defined identity (e.g. google_service_account.x), via locals too. */
const grantsOf = (identity: string) => GRANTS.filter((g) => references(tf, g.member, identity));
const rolesOf = (identity: string) => new Set(grantsOf(identity).map((g) => g.role));
const invokerGrants = (fnAddress: string) =>
  GRANTS.filter((g) => g.type === 'google_cloud_run_v2_service_iam_member' && g.role === 'roles/run.invoker' && references(tf, g.block['name'], fnAddress));
const saRef = (v: unknown) => referencedOfType(v, 'google_service_account');

/** Pub/Sub's service agent: a member string naming gcp-sa-pubsub (directly or through a local). */
function isPubsubAgent(member: unknown): boolean {
  let m = member;
  const r = soleRef(member);
  if (r?.kind === 'local') m = tf.locals[r.name];
  return typeof m === 'string' && /^serviceAccount:service-\$\{[^}]+\}@gcp-sa-pubsub\.iam\.gserviceaccount\.com$/.test(m);
}

// ---- what the code of each function uses -----------------------------------------------------------

/** Top-level function declarations of a set of source files: name → body. */
function declarations(files: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of files) {
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:^|\n)(?:export\s+)?(?:async\s+)?function\s+(\w+)/g)) out.set(m[1]!, bodyOf(src, m[1]!));
  }
  return out;
}

function bodyOf(src: string, name: string): string {
  const start = new RegExp(`function\\s+${name}\\s*[(<]`).exec(src);
  if (!start) return '';
  const open = src.indexOf('{\n', start.index);
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if (src[i] === '{') depth++;
    else if (src[i] === '}' && --depth === 0) return src.slice(start.index, i + 1);
  }
  return src.slice(start.index);
}

/** Bodies of the declarations `code` mentions, and of everything those call, transitively. */
function closure(code: string, decls: Map<string, string>): string {
  const seen = new Set<string>();
  const queue = [...decls.keys()].filter((d) => new RegExp(`\\b${d}\\b`).test(code));
  let out = '';
  while (queue.length) {
    const d = queue.shift()!;
    if (seen.has(d)) continue;
    seen.add(d);
    const body = decls.get(d)!;
    out += `\n${body}`;
    for (const other of decls.keys()) if (!seen.has(other) && new RegExp(`(?<![.\\w])${other}\\(`).test(body)) queue.push(other);
  }
  return out;
}

const filesIn = (dir: string, keep: (f: string) => boolean) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.ts') && keep(f))
    .map((f) => join(ROOT, dir, f));
// What each function builds: the composition root's deps builders (shared/composition), which the
// function files name (`wire(… .uploadDeps)`). Not followed into: the client builders whose names
// are the markers below (cluster-directory.ts: capacityDirectory is a narrowed clusterDirectory;
// cache-control.ts), and the CLI's builders (cli.ts), which no function calls.
const NOT_WIRING = new Set(['cli.ts', 'cluster-directory.ts', 'cache-control.ts']);
const WIRING = declarations(filesIn('shared/composition', (f) => !NOT_WIRING.has(f)));
const APP = declarations(filesIn('shared/app', () => true));

function functionFile(name: string): string {
  for (const f of filesIn('functions', () => true)) {
    const src = readFileSync(f, 'utf8');
    if (new RegExp(`ff\\.(?:cloudEvent|http)(?:<[^>]*>)?\\(\\s*'${name}'`).test(src)) return src;
  }
  throw new Error(`no file in functions/ registers ${name} with functions-framework`);
}

interface CodeUse {
  /** The function's file plus the wiring it calls: which clients it builds, which config it parses. */
  code: string;
  schemas: Array<{ name: string; pick?: string[]; required?: string[] }>;
  /** Env vars naming the topics its use cases publish to (deps.config.<x>Topic ← FERRY_*_TOPIC). */
  publishEnvs: string[];
}
const codeUseCache = new Map<string, CodeUse>();
function codeUse(name: string): CodeUse {
  const cached = codeUseCache.get(name);
  if (cached) return cached;
  const file = functionFile(name);
  const code = `${file}\n${closure(file, WIRING)}`;
  // The composition root reads its Settings as `s.<VAR>` (functions/settings.ts parses them once); a setting
  // only some functions need is asked for with requireSetting(s, '<VAR>').
  const read = [...new Set([...code.matchAll(/\bs\.([A-Z][A-Z0-9_]+)\b/g)].map((m) => m[1]!))];
  const required = [...new Set([...code.matchAll(/requireSetting\(\s*s\s*,\s*'([A-Z0-9_]+)'/g)].map((m) => m[1]!))];
  const schemas = read.length || required.length ? [{ name: 'Settings', pick: [...new Set([...read, ...required])], required }] : [];
  // The use cases the function calls (and what they call) publish to deps.config.<field>; the wiring
  // sets <field> from an env var. A client that is built but never published with needs no role.
  const app = closure(file, APP);
  const fields = new Set([...app.matchAll(/publishJson\(\s*deps\.config\.(\w+)/g)].map((m) => m[1]!));
  const publishEnvs = [...code.matchAll(/(\w+):\s*\w+\.(FERRY_\w+)/g)].filter((m) => fields.has(m[1]!)).map((m) => m[2]!);
  const use = { code, schemas, publishEnvs: [...new Set(publishEnvs)] };
  codeUseCache.set(name, use);
  return use;
}

/** Clients in the wiring → the role their service account needs. Extend with each new client. */
const CAPABILITIES: Array<{ what: string; marker: RegExp; role: string }> = [
  { what: 'Firestore', marker: /\bfirestoreClient\(/, role: 'roles/datastore.user' },
  // The deploy policy's own database, read-only (shared/composition/functions.ts policyStore).
  { what: 'reading the deploy policy', marker: /\bpolicyStore\(/, role: 'roles/datastore.viewer' },
  { what: 'GKE clusters', marker: /\bclusterProvider\(/, role: 'roles/container.clusterViewer' },
  { what: 'reading checkpoints in the model bucket', marker: /\bgcsObjectStore\(/, role: 'roles/storage.objectViewer' },
  { what: 'Anywhere Cache management (Storage Control)', marker: /\bcacheDeps\(/, role: 'custom:anywhere_cache_manager' },
  // Issue #20: an object store built with holds sets/releases temporary holds (objects.patch).
  { what: 'temporary holds on model objects', marker: /\bgcsObjectStore\([^\n]*\bholds:\s*true\b/, role: 'custom:model_object_holder' },
  { what: 'GKE teardown (list clusters, resize node pools, delete clusters)', marker: /\bclusterDirectory\(/, role: 'custom:gke_teardown' },
  { what: 'GKE capacity (bring node pools back before a deploy)', marker: /\bcapacityDirectory\(/, role: 'custom:gke_capacity' },
];

/** CacheControl methods (shared/ports/cache-control.ts) → the IAM permission each call needs. */
const CACHE_PERMISSIONS: Record<string, string> = {
  get: 'storage.anywhereCaches.get',
  list: 'storage.anywhereCaches.list',
  create: 'storage.anywhereCaches.create',
  update: 'storage.anywhereCaches.update',
  resume: 'storage.anywhereCaches.resume',
  pause: 'storage.anywhereCaches.pause',
  disable: 'storage.anywhereCaches.disable',
  // Operations started by another identity (onDeployRequest creates, the reconciler polls).
  getOperation: 'storage.bucketOperations.get',
};

/** Env vars that point a function at a local stand-in; none may be set in production. */
const LOCAL_ONLY = /EMULATOR_HOST$|_API_ENDPOINT$|ALLOW_LOCAL|^KUBECONFIG$|DEV_TOKEN$/;

type ZObject = z.ZodObject<Record<string, z.ZodType>>;
const SCHEMAS = new Map<string, ZObject>(Object.entries(config).filter(([, v]) => !!v && typeof v === 'object' && 'shape' in v) as Array<[string, ZObject]>);
const ALL_CONFIG_KEYS = new Set([...SCHEMAS.values()].flatMap((s) => Object.keys(s.shape)));
const MANIFEST_TOPIC_ENVS = new Set(FUNCTIONS.flatMap((f) => ('topicEnv' in f.trigger ? [(f.trigger as { topicEnv: string }).topicEnv] : [])));

// ---- the function resources ------------------------------------------------------------------------

const tfFunctions = ofType(tf, FN_TYPE);
function tfFunctionFor(name: string): [string, Block] {
  const found = tfFunctions.filter(([, b]) => block(b, 'build_config')?.['entry_point'] === name);
  assert.equal(found.length, 1, `exactly one ${FN_TYPE} with entry_point "${name}" (found ${found.length})`);
  return found[0]!;
}
const envOf = (b: Block) => (block(b, 'service_config')?.['environment_variables'] ?? {}) as Record<string, unknown>;
/** Secret env vars, including those in a `dynamic "secret_environment_variables"` block (mounted when a variable says so). */
const secretEnvOf = (b: Block) => [
  ...blocks(block(b, 'service_config'), 'secret_environment_variables'),
  ...blocks(block(b, 'service_config')?.['dynamic'] as Block | undefined, 'secret_environment_variables').flatMap((d) => blocks(d, 'content')),
];
const pushSubscriptionsOf = (fnAddress: string) =>
  ofType(tf, 'google_pubsub_subscription').filter(([, s]) => references(tf, block(s, 'push_config')?.['push_endpoint'], fnAddress));
const num = (v: unknown) => (typeof v === 'number' ? v : Number(v));
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// =====================================================================================================

describe('infra/*.tf parse and hold together', () => {
  test('every .tf file parses with an HCL parser, and no address is declared twice', () => {
    assert.ok(tf.files.length >= 5, `infra/ has Terraform files (${tf.files.join(', ')})`);
    assert.ok(tf.resources.size > 20, `resources parsed: ${tf.resources.size}`);
    assert.deepEqual(tf.duplicates, []);
  });

  test('the google provider is required, pinned to a major range, and Terraform has a minimum version', () => {
    const req = Object.assign({}, ...tf.terraform.flatMap((t) => blocks(t, 'required_providers'))) as Record<string, Block>;
    assert.equal(req['google']?.['source'], 'hashicorp/google');
    assert.match(String(req['google']?.['version']), /</, 'google provider has an upper bound');
    assert.ok(tf.terraform.some((t) => typeof t['required_version'] === 'string'));
    for (const [type] of [...tf.resources.keys(), ...tf.data.keys()].map((k) => k.split('.'))) {
      const provider = type!.split('_')[0]!;
      assert.ok(provider in req, `provider "${provider}" (for ${type}) is in required_providers`);
    }
  });

  test('every reference points at something declared (var, local, resource, data source)', () => {
    const problems: string[] = [];
    const check = (where: string, value: unknown) => {
      for (const r of refsIn(value)) {
        if (r.kind === 'var' && !tf.variables.has(r.name)) problems.push(`${where}: var.${r.name}`);
        if (r.kind === 'local' && !(r.name in tf.locals)) problems.push(`${where}: local.${r.name}`);
        // TYPE.NAME["key"] must be an instance; TYPE.NAME (a whole for_each resource, e.g. in depends_on) a declared block.
        if (r.kind === 'resource' && !(r.key === undefined ? tf.declared.has(addr(r.type, r.name)) : tf.resources.has(r.address)))
          problems.push(`${where}: ${r.address}`);
        if (r.kind === 'data' && !tf.data.has(addr(r.type, r.name))) problems.push(`${where}: data.${r.type}.${r.name}`);
      }
    };
    for (const [k, b] of tf.resources) check(k, b);
    for (const [k, b] of tf.data) check(`data.${k}`, b);
    for (const [k, b] of tf.outputs) check(`output.${k}`, b);
    for (const [k, v] of Object.entries(tf.locals)) check(`local.${k}`, v);
    for (const [k, b] of tf.providers) check(`provider.${k}`, b);
    assert.deepEqual(problems, [], 'undeclared references');
    // Spot-check that the scan sees references at all (a scanner that finds nothing passes the above).
    assert.ok(refsIn(tf.resources.get(`${FN_TYPE}.fn["onDeployRequest"]`)).length > 5);
    assert.ok(
      refsIn(tf.resources.get(`${FN_TYPE}.fn["onDeployRequest"]`)).some((r) => r.address === 'google_service_account.fn["onDeployRequest"]'),
      'instance keys are read',
    );
  });

  test('every variable and output is documented; the example tfvars sets every variable without a default and nothing else', () => {
    for (const [name, v] of tf.variables) {
      assert.ok(typeof v['description'] === 'string' && v['description'].length > 10, `variable ${name} has a description`);
      assert.ok('type' in v, `variable ${name} has a type`);
    }
    for (const [name, o] of tf.outputs) assert.ok(typeof o['description'] === 'string', `output ${name} has a description`);
    const required = [...tf.variables].filter(([, v]) => !('default' in v)).map(([k]) => k);
    assert.ok(required.length >= 3, `some variables are required: ${required.join(', ')}`);
    for (const name of required) assert.ok(name in tf.example, `terraform.tfvars.example sets ${name} (no default)`);
    for (const name of Object.keys(tf.example)) assert.ok(tf.variables.has(name), `terraform.tfvars.example sets an undeclared variable ${name}`);
    // The example values pass the variables' own patterns where those are simple regexes.
    for (const [name, v] of tf.variables) {
      for (const val of blocks(v, 'validation')) {
        const m = /^\$\{can\(regex\("(.+)", var\.(\w+)\)\)\}$/.exec(String(val['condition']));
        if (m && m[2] === name && name in tf.example) {
          assert.match(String(tf.example[name]), new RegExp(m[1]!.replace(/\\\\/g, '\\')), `example ${name} passes its validation`);
        }
      }
    }
  });

  test('the required APIs are enabled for every kind of resource used', () => {
    const services = tf.locals['services'];
    assert.ok(Array.isArray(services), 'local.services is a literal list');
    const enabled = new Set(services as string[]);
    const svc = tf.declared.get('google_project_service.enabled');
    assert.equal(svc?.['for_each'], '${toset(local.services)}', 'google_project_service.enabled enables local.services');
    const types = new Set([...tf.resources.keys()].map((k) => k.split('.')[0]!));
    const need: Record<string, string[]> = {
      google_cloudfunctions2_function: ['cloudfunctions', 'run', 'cloudbuild', 'artifactregistry', 'eventarc'],
      google_pubsub_topic: ['pubsub'],
      google_cloud_scheduler_job: ['cloudscheduler'],
      google_firestore_database: ['firestore'],
      google_secret_manager_secret: ['secretmanager'],
      google_storage_bucket: ['storage'],
      google_service_account: ['iam', 'iamcredentials'],
    };
    for (const [type, apis] of Object.entries(need)) {
      if (!types.has(type)) continue;
      for (const api of apis) assert.ok(enabled.has(`${api}.googleapis.com`), `${api}.googleapis.com is enabled (for ${type})`);
    }
    if (GRANTS.some((g) => g.role === 'roles/container.clusterViewer')) assert.ok(enabled.has('container.googleapis.com'));
  });
});

describe('functions ↔ functions/manifest.ts', () => {
  test('every manifest function has exactly one Cloud Function (by entry point), and there is no other', () => {
    const names = FUNCTIONS.map((f) => f.name).sort();
    const entryPoints = tfFunctions.map(([, b]) => String(block(b, 'build_config')?.['entry_point'])).sort();
    assert.deepEqual(entryPoints, names);
  });

  test('the manifest is what the entry module exports; package.json main is the per-target entry (package.sh ships dist/)', () => {
    const exported = [...read('functions/index.ts').matchAll(/export\s*\{\s*(\w+)\s*\}/g)].map((m) => m[1]!).sort();
    assert.deepEqual(exported, FUNCTIONS.map((f) => f.name).sort());
    const pkg = JSON.parse(read('package.json')) as { main: string; scripts: Record<string, string> };
    assert.equal(pkg.main, 'dist/functions/main.js');
    for (const f of FUNCTIONS)
      assert.match(read('functions/main.ts'), new RegExp(`${f.name}: \\(\\) => import\\('\\./${f.name}\\.ts'\\)`), `main.ts loads ${f.name}`);
    const script = read('infra/package.sh');
    assert.match(script, /npm run -s build/);
    assert.match(script, /cp package\.json package-lock\.json/);
    assert.match(script, /cp -R dist/);
    assert.ok(statSync(join(INFRA, 'package.sh')).mode & 0o100, 'package.sh is executable');
  });

  for (const fn of FUNCTIONS as readonly FunctionSpec[]) {
    describe(fn.name, () => {
      const [fnAddress, f] = tfFunctionFor(fn.name);
      const build = block(f, 'build_config');
      const svc = block(f, 'service_config');
      const env = envOf(f);
      const trigger = block(f, 'event_trigger');

      test('runtime nodejs24, built from the shared source zip without running `npm run build`', () => {
        assert.equal(build?.['runtime'], 'nodejs24');
        const storage = block(block(build, 'source'), 'storage_source');
        assert.ok(references(tf, storage?.['object'], 'google_storage_bucket_object.source'), 'source object is the packaged zip');
        const object = tf.resources.get('google_storage_bucket_object.source');
        assert.ok(references(tf, object?.['source'], 'archive_file.source'), 'the zip is data.archive_file.source');
        // package.json has a `build` script that needs devDependencies and sources not in the zip.
        const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
        if (pkg.scripts['build'] && !('gcp-build' in pkg.scripts)) {
          assert.equal((build?.['environment_variables'] as Record<string, unknown> | undefined)?.['GOOGLE_NODE_RUN_SCRIPTS'], '');
        }
        assert.ok(references(tf, build?.['service_account'], 'google_service_account.build'), 'built by the dedicated build SA');
        assert.ok(references(tf, build?.['docker_repository'], 'google_artifact_registry_repository.functions'));
      });

      test('runs as its own service account', () => {
        const sas = saRef(svc?.['service_account_email']);
        assert.equal(sas.length, 1, 'service_account_email references one google_service_account');
        const others = tfFunctions.filter(([k, b]) => k !== fnAddress && references(tf, block(b, 'service_config')?.['service_account_email'], sas[0]!));
        assert.deepEqual(
          others.map(([k]) => k),
          [],
          `${sas[0]} is used by no other function`,
        );
        assert.ok(!references(tf, build?.['service_account'], sas[0]!), 'runtime SA is not the build SA');
      });

      test(`trigger: ${fn.trigger.kind}`, () => {
        const subs = pushSubscriptionsOf(fnAddress);
        const ingress = svc?.['ingress_settings'];
        const timeout = num(svc?.['timeout_seconds']);
        if (fn.trigger.kind === 'storage') {
          assert.ok(trigger, 'has an event_trigger (Eventarc)');
          assert.equal(trigger['event_type'], fn.trigger.eventType);
          assert.equal(trigger['retry_policy'], 'RETRY_POLICY_RETRY', 'retries on failure');
          const bucketFilter = blocks(trigger, 'event_filters').find((x) => x['attribute'] === 'bucket');
          assert.ok(references(tf, bucketFilter?.['value'], 'google_storage_bucket.models'), 'filters on the model bucket');
          assert.ok(references(tf, trigger['trigger_region'], 'google_storage_bucket.models'), 'trigger region follows the bucket location');
          const [triggerSa] = saRef(trigger['service_account_email']);
          assert.ok(triggerSa, 'trigger has its own service account');
          assert.ok(rolesOf(triggerSa).has('roles/eventarc.eventReceiver'), `${triggerSa} has roles/eventarc.eventReceiver`);
          assert.ok(
            invokerGrants(fnAddress).some((g) => references(tf, g.member, triggerSa)),
            `${triggerSa} may invoke ${fn.name}`,
          );
          const gcsAgent = GRANTS.find((g) => g.role === 'roles/pubsub.publisher' && references(tf, g.member, 'google_storage_project_service_account.gcs'));
          assert.ok(gcsAgent, 'the Cloud Storage service agent has roles/pubsub.publisher');
          assert.ok(timeout <= 540, 'event-driven functions time out at 540 s at most');
          assert.deepEqual(subs, [], 'no push subscription as well');
        } else if (fn.trigger.kind === 'pubsub' || fn.trigger.kind === 'schedule') {
          assert.equal(trigger, undefined, 'delivered by a Terraform-owned push subscription, not an Eventarc-managed one');
          assert.equal(subs.length, 1, 'exactly one push subscription delivers to it');
          const [subAddress, sub] = subs[0]!;
          const [topic, ...moreTopics] = referencedOfType(sub['topic'], 'google_pubsub_topic');
          assert.ok(topic && !moreTopics.length, `${subAddress} subscribes to one topic`);
          const topicName = topic.split('.')[1]!;
          const push = block(sub, 'push_config');
          // functions-framework builds the messagePublished CloudEvent's source from this path.
          assert.match(
            String(push?.['push_endpoint']),
            new RegExp(
              `^\\$\\{${escapeRe(fnAddress)}\\.service_config\\[0\\]\\.uri\\}/projects/\\$\\{var\\.project_id\\}/topics/\\$\\{google_pubsub_topic\\.${topicName}\\.name\\}$`,
            ),
          );
          assert.equal(evaluate(tf, tf.resources.get(topic)!['name'], 'defaults'), fn.trigger.defaultTopic, `topic name matches the manifest default`);
          if (fn.trigger.topicEnv in env)
            assert.ok(references(tf, env[fn.trigger.topicEnv], topic), `${fn.trigger.topicEnv} names the topic it is triggered by`);
          const oidc = block(push, 'oidc_token');
          const [pushSa] = saRef(oidc?.['service_account_email']);
          assert.ok(pushSa, 'push is authenticated with an OIDC token');
          assert.ok(references(tf, oidc?.['audience'], fnAddress), 'OIDC audience is the function');
          assert.ok(
            invokerGrants(fnAddress).some((g) => references(tf, g.member, pushSa)),
            `${pushSa} may invoke ${fn.name}`,
          );
          assert.ok(
            GRANTS.some(
              (g) => g.role === 'roles/iam.serviceAccountTokenCreator' && references(tf, g.block['service_account_id'], pushSa) && isPubsubAgent(g.member),
            ),
            'Pub/Sub may mint tokens for the push SA',
          );
          assert.ok(
            num(sub['ack_deadline_seconds']) >= timeout,
            `ack deadline (${str(sub['ack_deadline_seconds'])}) ≥ timeout (${timeout}): no redelivery while running`,
          );
          assert.ok(num(sub['ack_deadline_seconds']) <= 600);
          assert.notEqual(ingress, 'ALLOW_ALL', 'not reachable from the internet');
          if (fn.trigger.kind === 'schedule') {
            const jobs = ofType(tf, 'google_cloud_scheduler_job').filter(([, j]) => references(tf, block(j, 'pubsub_target')?.['topic_name'], topic));
            assert.equal(jobs.length, 1, `one Scheduler job publishes to ${topic}`);
            const [, job] = jobs[0]!;
            assert.equal(evaluate(tf, job['schedule'], 'defaults'), fn.trigger.schedule, 'schedule matches the manifest');
            const paused = evaluate(tf, job['paused'] ?? false, 'defaults');
            assert.equal(paused, false, 'the job runs');
          }
        } else {
          assert.equal(trigger, undefined, 'an HTTP function has no event trigger');
          assert.deepEqual(subs, [], 'nor a push subscription');
          assert.ok(invokerGrants(fnAddress).length > 0, 'someone may invoke it');
        }
      });

      test('every env var its config requires is set; set values pass the schema; nothing unknown is set', () => {
        const use = codeUse(fn.name);
        assert.ok(use.schemas.length > 0, `the wiring of ${fn.name} reads its Settings (s.<VAR>)`);
        const set = new Set([...Object.keys(env), ...secretEnvOf(f).map((s) => String(s['key']))]);
        for (const { name, pick, required: asked } of use.schemas) {
          const schema = SCHEMAS.get(name);
          assert.ok(schema, `shared/config.ts exports the zod object ${name}`);
          for (const key of pick ?? Object.keys(schema.shape)) {
            const field = schema.shape[key]!;
            const required = !field.safeParse(undefined).success || !!asked?.includes(key);
            if (required) assert.ok(set.has(key), `${key} (required by ${name}) is set for ${fn.name}`);
            if (key in env) {
              for (const source of ['defaults', 'example'] as const) {
                const v = evaluate(tf, env[key], source);
                if (v === UNKNOWN) continue;
                const r = field.safeParse(String(v));
                assert.ok(r.success, `${key}=${JSON.stringify(v)} (${source}) passes ${name}: ${r.success ? '' : r.error.message}`);
              }
            }
          }
        }
        // NODE_ENV=production: Express inside functions-framework never shows a stack (docs/policy.md).
        assert.equal(env['NODE_ENV'], 'production', `${fn.name} runs with NODE_ENV=production`);
        for (const key of set) {
          if (key === 'NODE_ENV') continue;
          assert.ok(ALL_CONFIG_KEYS.has(key) || MANIFEST_TOPIC_ENVS.has(key), `${key} is read by no config schema (typo?)`);
          assert.ok(!LOCAL_ONLY.test(key), `${key} points at a local stand-in and must not be set in production`);
        }
        assert.equal(env['GOOGLE_CLOUD_PROJECT'], '${var.project_id}');
      });

      test('sized for its job: concurrency needs a whole vCPU, leases outlast the timeout', () => {
        const concurrency = num(svc?.['max_instance_request_concurrency'] ?? 1);
        if (concurrency > 1) assert.ok(num(svc?.['available_cpu']) >= 1, 'concurrency > 1 needs available_cpu ≥ 1');
        assert.ok(num(svc?.['max_instance_count']) >= 1);
        assert.match(String(svc?.['available_memory']), /^\d+(Mi|Gi|M|G)$/);
        const timeout = num(svc?.['timeout_seconds']);
        assert.ok(timeout > 0 && timeout <= 3600);
        if ('FERRY_VALIDATION_LEASE_SECONDS' in env) {
          for (const source of ['defaults', 'example'] as const) {
            const lease = num(evaluate(tf, env['FERRY_VALIDATION_LEASE_SECONDS'], source));
            assert.ok(lease > timeout, `validation lease (${lease} s) > function timeout (${timeout} s), or a live claim could be taken over`);
          }
        }
        if (fn.name === 'followRollout') {
          // The follow function runs one follow per push: its budget ends a minute before its timeout.
          assert.ok('FERRY_DEPLOY_FOLLOW_SECONDS' in env, 'followRollout is given its follow budget');
          const follow = num(evaluate(tf, env['FERRY_DEPLOY_FOLLOW_SECONDS'], 'defaults'));
          assert.ok(follow > 0 && follow + 60 <= timeout, `follow budget (${follow} s) + 60 s ≤ function timeout (${timeout} s)`);
        }
        if ('FERRY_DEPLOY_FOLLOW_SECONDS' in env && fn.name !== 'followRollout') {
          // Elsewhere it only says whether to hand rollouts to the follow topic: it must name one.
          assert.ok('FERRY_FOLLOW_TOPIC' in env, `${fn.name} sets FERRY_DEPLOY_FOLLOW_SECONDS only with FERRY_FOLLOW_TOPIC`);
        }
      });

      test('its service account holds exactly the roles its code needs', () => {
        const [sa] = saRef(svc?.['service_account_email']);
        assert.ok(sa);
        const use = codeUse(fn.name);
        const expected = new Set(CAPABILITIES.filter((c) => c.marker.test(use.code)).map((c) => c.role));
        if (use.publishEnvs.length) expected.add('roles/pubsub.publisher');
        if (secretEnvOf(f).length) expected.add('roles/secretmanager.secretAccessor');
        assert.deepEqual([...rolesOf(sa)].sort(), [...expected].sort(), `${sa}: roles granted vs. clients used in the code`);

        // Publishing: on exactly the topics its use cases publish to (deps.config.<x>Topic ← FERRY_*_TOPIC).
        const publishedTopics: string[] = [];
        for (const key of use.publishEnvs) {
          const [topic] = referencedOfType(env[key], 'google_pubsub_topic');
          assert.ok(topic, `${key} (a topic ${fn.name} publishes to) is set to a Terraform topic`);
          publishedTopics.push(topic);
          assert.ok(
            grantsOf(sa).some(
              (g) => g.role === 'roles/pubsub.publisher' && g.type === 'google_pubsub_topic_iam_member' && references(tf, g.block['topic'], topic),
            ),
            `${sa} may publish to ${topic}`,
          );
        }
        for (const g of grantsOf(sa)) {
          if (g.role === 'roles/storage.objectViewer')
            assert.ok(references(tf, g.block['bucket'], 'google_storage_bucket.models'), 'reads the model bucket only');
          if (g.role === 'roles/secretmanager.secretAccessor') {
            assert.ok(
              secretEnvOf(f).some((s) => references(tf, g.block['secret_id'], referencedOfType(s['secret'], 'google_secret_manager_secret')[0] ?? '-')),
            );
          }
          if (g.role === 'roles/pubsub.publisher') {
            assert.equal(g.type, 'google_pubsub_topic_iam_member', 'publisher on a topic, not the project');
            assert.ok(
              publishedTopics.some((t) => references(tf, g.block['topic'], t)),
              `${g.address}: ${fn.name} publishes to that topic`,
            );
          }
        }
      });

      test('secrets come from Secret Manager secrets declared here', () => {
        for (const s of secretEnvOf(f)) {
          assert.equal(referencedOfType(s['secret'], 'google_secret_manager_secret').length, 1, `${str(s['key'])} reads a Terraform secret`);
          assert.ok(s['version'], 'a version is named');
        }
      });
    });
  }
});

describe('for_each over local.functions ↔ functions/manifest.ts; moved blocks', () => {
  const names: string[] = FUNCTIONS.map((f) => f.name).sort();
  const local = (name: string) => tf.locals[name] as Record<string, Record<string, unknown>>;

  test('local.functions is keyed by exactly the manifest names, and the function and its service account are one for_each over it', () => {
    assert.deepEqual(Object.keys(local('functions')).sort(), names);
    for (const type of [FN_TYPE, 'google_service_account', 'google_project_iam_member', 'google_cloud_run_v2_service_iam_member']) {
      const overFunctions = [...tf.declared].filter(([k, b]) => k.startsWith(`${type}.`) && b['for_each'] === '${local.functions}');
      assert.ok(overFunctions.length >= 1, `some ${type} is a for_each over local.functions`);
      for (const [k] of overFunctions) {
        const keys = [...tf.resources.keys()]
          .filter((x) => x.startsWith(`${k}[`))
          .map((x) => JSON.parse(x.slice(k.length + 1, -1)) as string)
          .sort();
        assert.deepEqual(keys, names, `${k} has one instance per manifest function`);
      }
    }
    assert.deepEqual(
      [...tf.declared.keys()].filter((k) => k.startsWith(`${FN_TYPE}.`)),
      [`${FN_TYPE}.fn`],
      'one function resource body',
    );
    // Every per-function instance key anywhere is a manifest function.
    for (const [k, b] of tf.resources) {
      for (const r of refsIn(b)) {
        if ((r.type === FN_TYPE || r.type === 'google_service_account') && r.key !== undefined) assert.ok(names.includes(r.key), `${k}: ${r.address}`);
      }
    }
  });

  test('push subscriptions, publishers and secret readers are keyed by manifest functions and agree with them', () => {
    const pushed = (FUNCTIONS as readonly FunctionSpec[])
      .filter((f) => f.trigger.kind === 'pubsub' || f.trigger.kind === 'schedule')
      .map((f) => f.name)
      .sort();
    assert.deepEqual(Object.keys(local('push_subscriptions')).sort(), pushed);
    for (const [key, p] of Object.entries(local('topic_publishers'))) {
      const [fn, topic] = key.split(':');
      assert.equal(p['function'], fn, key);
      assert.ok(names.includes(fn!), `${key}: a manifest function`);
      assert.ok(references(tf, p['topic'], `google_pubsub_topic.${topic}`), `${key}: publishes to google_pubsub_topic.${topic}`);
    }
    // Each function reads exactly the secrets it mounts.
    const readers = local('secret_readers') as unknown as Record<string, string>;
    const withSecrets = Object.entries(local('functions')).filter(([, f]) => Object.keys(f['secrets'] as object).length);
    assert.deepEqual(Object.keys(readers).sort(), withSecrets.map(([k]) => k).sort());
    for (const [k, f] of withSecrets) assert.deepEqual(Object.values(f['secrets'] as object), [readers[k]], k);
  });

  test('every address the per-function resources had before for_each moves to an existing instance (no replacement in an existing deployment)', () => {
    const froms = tf.moved.map((m) => m.from);
    const tos = tf.moved.map((m) => m.to);
    assert.equal(new Set(froms).size, froms.length, 'each old address moves once');
    assert.equal(new Set(tos).size, tos.length, 'no two old addresses move to one instance');
    for (const { from, to } of tf.moved) {
      assert.ok(!tf.declared.has(from) && !tf.resources.has(from), `${from} is no longer declared`);
      assert.ok(tf.resources.has(to) && /\["[^"]+"\]$/.test(to), `${to} is a for_each instance`);
      assert.equal(from.split('.')[0], to.split('.')[0], `${from} → ${to} keeps the resource type`);
    }
    // The addresses before the move (infra/*.tf up to the for_each change), pinned: dropping a moved
    // block for any of them would make `terraform plan` destroy and recreate it.
    const snake = ['on_checkpoint_upload', 'on_deploy_request', 'reconcile_rollouts', 'slack_command', 'on_chat_command', 'on_deploy_result', 'teardown_idle'];
    const pushedSnake = ['on_deploy_request', 'reconcile_rollouts', 'teardown_idle', 'on_chat_command', 'on_deploy_result'];
    const before = [
      ...snake.flatMap((f) => [`${FN_TYPE}.${f}`, `google_service_account.${f}`, `google_project_iam_member.${f}_datastore_user`]),
      ...snake.map((f) => `google_cloud_run_v2_service_iam_member.${f === 'slack_command' ? 'slack_command_public_invoker' : `${f}_invoker`}`),
      ...pushedSnake.flatMap((f) => [`google_pubsub_subscription.${f}`, `google_pubsub_subscription_iam_member.${f}_dead_letter_subscriber`]),
      ...['on_checkpoint_upload', 'reconcile_rollouts'].map((f) => `google_storage_bucket_iam_member.${f}_object_viewer`),
      ...['on_deploy_request', 'reconcile_rollouts', 'teardown_idle'].flatMap((f) => [
        `google_storage_bucket_iam_member.${f}_cache_manager`,
        `google_project_iam_member.${f}_container_developer`,
      ]),
      'google_project_iam_member.teardown_idle_gke_teardown',
      ...['on_deploy_request', 'reconcile_rollouts'].map((f) => `google_project_iam_member.${f}_gke_capacity`),
      ...[
        'on_checkpoint_upload_deploy_publisher',
        'reconcile_rollouts_deploy_publisher',
        'on_deploy_request_results_publisher',
        'reconcile_rollouts_results_publisher',
        'slack_command_chat_publisher',
        'on_chat_command_deploy_publisher',
        'on_chat_command_teardown_publisher',
      ].map((g) => `google_pubsub_topic_iam_member.${g}`),
      'google_secret_manager_secret_iam_member.slack_command_signing_secret_accessor',
      'google_secret_manager_secret_iam_member.teardown_idle_webhook_accessor',
    ];
    assert.equal(before.length, 58);
    assert.deepEqual([...froms].sort(), [...before].sort());
    // A function's old address moves to that function's instance.
    const camel = (x: string) => x.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
    for (const f of snake) {
      for (const type of [FN_TYPE, 'google_service_account']) {
        assert.equal(tf.moved.find((m) => m.from === `${type}.${f}`)?.to, `${type}.fn[${JSON.stringify(camel(f))}]`);
      }
    }
    // …and each moved grant still names the same member, role and resource it did (its identity is
    // the instance of the function the old name was for).
    for (const { from, to } of tf.moved.filter((m) => /_iam_member\./.test(m.from))) {
      const fn = snake.find((f) => from.split('.')[1]!.startsWith(`${f}_`));
      const member = tf.resources.get(to)!['member'];
      if (fn && !/dead_letter_subscriber|_invoker$/.test(from))
        assert.ok(references(tf, member, `google_service_account.fn[${JSON.stringify(camel(fn))}]`), `${from} → ${to} is still ${fn}'s grant`);
    }
  });
});

describe('Pub/Sub', () => {
  const subs = ofType(tf, 'google_pubsub_subscription');
  const topicOf = (s: Block) => referencedOfType(s['topic'], 'google_pubsub_topic')[0];
  const deadLetterTopics = new Set(subs.flatMap(([, s]) => referencedOfType(block(s, 'dead_letter_policy')?.['dead_letter_topic'], 'google_pubsub_topic')));

  test('every subscription (but a dead-letter one) has a dead-letter topic, a retry policy, and never expires', () => {
    assert.ok(subs.length >= 3);
    for (const [k, s] of subs) {
      const topic = topicOf(s);
      assert.ok(topic && tf.resources.has(topic), `${k} subscribes to a declared topic`);
      const exp = block(s, 'expiration_policy');
      assert.equal(exp?.['ttl'], '', `${k} never expires (the default deletes it after 31 idle days)`);
      if (deadLetterTopics.has(topic)) continue;
      const dlp = block(s, 'dead_letter_policy');
      assert.ok(dlp, `${k} has a dead_letter_policy`);
      const [dlt] = referencedOfType(dlp['dead_letter_topic'], 'google_pubsub_topic');
      assert.ok(dlt && tf.resources.has(dlt) && dlt !== topic, `${k} dead-letters to another declared topic`);
      for (const source of ['defaults', 'example'] as const) {
        const attempts = num(evaluate(tf, dlp['max_delivery_attempts'], source));
        assert.ok(attempts >= 5 && attempts <= 100, `${k} max_delivery_attempts within 5-100 (${attempts})`);
      }
      const retry = block(s, 'retry_policy');
      assert.ok(retry?.['minimum_backoff'] && retry['maximum_backoff'], `${k} has a retry_policy with backoff`);
      assert.ok(
        GRANTS.some(
          (g) =>
            g.type === 'google_pubsub_subscription_iam_member' &&
            g.role === 'roles/pubsub.subscriber' &&
            references(tf, g.block['subscription'], k) &&
            isPubsubAgent(g.member),
        ),
        `Pub/Sub's service agent may ack ${k} when dead-lettering`,
      );
    }
  });

  test('dead-letter topics are writable by Pub/Sub and are kept (a subscription holds them for 7 days)', () => {
    assert.ok(deadLetterTopics.size >= 1);
    for (const t of deadLetterTopics) {
      assert.ok(
        GRANTS.some(
          (g) =>
            g.type === 'google_pubsub_topic_iam_member' &&
            g.role === 'roles/pubsub.publisher' &&
            references(tf, g.block['topic'], t) &&
            isPubsubAgent(g.member),
        ),
        `Pub/Sub's service agent may publish to ${t}`,
      );
      const keeper = subs.find(([, s]) => topicOf(s) === t);
      assert.ok(keeper, `${t} has a subscription, or dead letters are dropped`);
      assert.equal(keeper[1]['message_retention_duration'], '604800s');
    }
  });

  test('the topics the issue names exist with the manifest and config defaults', () => {
    const names = new Set(ofType(tf, 'google_pubsub_topic').map(([, t]) => evaluate(tf, t['name'], 'defaults')));
    for (const f of FUNCTIONS as readonly FunctionSpec[]) if ('defaultTopic' in f.trigger) assert.ok(names.has(f.trigger.defaultTopic), f.trigger.defaultTopic);
    assert.ok(names.has(config.DeployConfig.shape.FERRY_DEPLOY_TOPIC.parse(undefined)), 'deploy topic = the config default');
    assert.ok(
      [...names].some((n) => /result/.test(String(n))),
      'results topic',
    );
    assert.ok(
      [...names].some((n) => /teardown/.test(String(n))),
      'teardown tick topic',
    );
  });

  test('a Scheduler job whose topic nobody consumes stays paused by default', () => {
    const jobs = ofType(tf, 'google_cloud_scheduler_job');
    assert.ok(jobs.length >= 2, 'reconcile and teardown jobs');
    for (const [k, j] of jobs) {
      const [topic] = referencedOfType(block(j, 'pubsub_target')?.['topic_name'], 'google_pubsub_topic');
      assert.ok(topic && tf.resources.has(topic), `${k} publishes to a declared topic`);
      const consumed = subs.some(([, s]) => topicOf(s) === topic);
      if (!consumed) assert.equal(evaluate(tf, j['paused'], 'defaults'), true, `${k} publishes to ${topic}, which has no subscription`);
    }
  });
});

describe('IAM: least privilege', () => {
  test('no basic roles (owner/editor/viewer), no admin roles, no authoritative policies', () => {
    const roles: string[] = [];
    for (const [k, b] of tf.resources) {
      assert.ok(!/_iam_(policy|binding)\./.test(k), `${k}: only additive *_iam_member grants`);
      walkStrings(b, (s) => {
        if (/roles\/(owner|editor|viewer)\b/.test(s)) roles.push(`${k}: ${s}`);
      });
    }
    assert.deepEqual(roles, []);
    for (const g of GRANTS) {
      assert.match(g.role, /^roles\/[a-zA-Z.]+$|^custom:\w+$/, `${g.address}: a predefined role or a custom role defined here`);
      assert.ok(!/admin/i.test(g.role), `${g.address}: ${g.role} is an admin role`);
    }
    assert.ok(GRANTS.length >= 15, `grants parsed: ${GRANTS.length}`);
  });

  test('allUsers / allAuthenticatedUsers only ever invoke an HTTP function; member lists from variables refuse them', () => {
    for (const g of GRANTS) {
      const r = soleRef(g.block['for_each']);
      if (g.member !== '${each.value}' || r?.kind !== 'var') continue;
      const conditions = blocks(tf.variables.get(r.name), 'validation').map((v) => String(v['condition']));
      assert.ok(
        conditions.some((c) => c.includes('^(user|group|serviceAccount|')),
        `${g.address}: var.${r.name} only accepts typed IAM members (no allUsers)`,
      );
    }
    const httpFns = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => f.trigger.kind === 'http').map((f) => tfFunctionFor(f.name)[0]);
    for (const g of GRANTS) {
      if (!/allUsers|allAuthenticatedUsers/.test(str(g.member))) continue;
      assert.equal(g.role, 'roles/run.invoker', g.address);
      assert.ok(
        httpFns.some((fa) => references(tf, g.block['name'], fa)),
        `${g.address} is on an HTTP function`,
      );
    }
  });

  test('roles/container.clusterViewer (never container.developer) only for the functions that talk to GKE; in-cluster rights are the RBAC manifest', () => {
    const gke = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => /\bclusterProvider\(/.test(codeUse(f.name).code));
    assert.ok(gke.length >= 1, 'some function talks to GKE');
    assert.ok(!GRANTS.some((g) => /^roles\/container\.(developer|admin|clusterAdmin)$/.test(g.role)), 'no broad GKE role on the project');
    // The ClusterRole Terraform renders is the file the local stack's `ferry` user runs with.
    const outputs = readFileSync(join(import.meta.dirname, '..', '..', '..', 'infra', 'outputs.tf'), 'utf8');
    assert.match(outputs, /rules\s*=\s*jsondecode\(file\("\$\{path\.module\}\/gke-rbac-rules\.json"\)\)/);
    assert.match(outputs, /subjects\s*=\s*\[for k in sort\(keys\(google_project_iam_member\.container_developer\)\)/);
    const rules = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'infra', 'gke-rbac-rules.json'), 'utf8')) as Array<{
      resources: string[];
    }>;
    assert.ok(
      !rules.some((r) => r.resources.some((x) => ['secrets', 'configmaps', '*'].includes(x) || x.startsWith('roles') || x.startsWith('clusterroles'))),
      'no Secrets, ConfigMaps, RBAC or wildcards',
    );
    const holders = GRANTS.filter((g) => g.role === 'roles/container.clusterViewer')
      .flatMap((g) => saRef(g.member))
      .sort();
    const expected = gke.map((f) => saRef(block(tfFunctionFor(f.name)[1], 'service_config')?.['service_account_email'])[0]!).sort();
    assert.deepEqual(holders, expected);
  });

  test('every service account is a function runtime, the trigger, the push or the build identity — each with only its roles', () => {
    const runtime = new Set(tfFunctions.flatMap(([, b]) => saRef(block(b, 'service_config')?.['service_account_email'])));
    const triggerSas = new Set(tfFunctions.flatMap(([, b]) => saRef(block(b, 'event_trigger')?.['service_account_email'])));
    const pushSas = new Set(
      ofType(tf, 'google_pubsub_subscription').flatMap(([, s]) => saRef(block(block(s, 'push_config'), 'oidc_token')?.['service_account_email'])),
    );
    const buildSas = new Set(tfFunctions.flatMap(([, b]) => saRef(block(b, 'build_config')?.['service_account'])));
    for (const [k] of ofType(tf, 'google_service_account')) {
      assert.ok(runtime.has(k) || triggerSas.has(k) || pushSas.has(k) || buildSas.has(k), `${k} has a purpose`);
    }
    const only = (sas: Set<string>, roles: string[]) => {
      for (const sa of sas) assert.deepEqual([...rolesOf(sa)].sort(), [...roles].sort(), sa);
    };
    only(triggerSas, ['roles/eventarc.eventReceiver', 'roles/run.invoker']);
    only(pushSas, ['roles/run.invoker']);
    only(buildSas, ['roles/artifactregistry.writer', 'roles/logging.logWriter', 'roles/storage.objectViewer']);
    for (const sa of buildSas) {
      const g = grantsOf(sa).find((x) => x.role === 'roles/storage.objectViewer');
      assert.ok(g && references(tf, g.block['bucket'], 'google_storage_bucket.source'), 'the build reads the source bucket only');
    }
    // run.invoker is only ever granted by those identities, on functions.
    for (const g of GRANTS.filter((x) => x.role === 'roles/run.invoker')) {
      assert.equal(referencedOfType(g.block['name'], FN_TYPE).length, 1, `${g.address} names one function`);
    }
  });

  test('the Anywhere Cache role has exactly the permissions the cache use cases call, on the model bucket only', () => {
    const users = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => /\bcacheDeps\(/.test(codeUse(f.name).code));
    assert.ok(users.length >= 1, 'some function manages caches');
    const calls = new Set(users.flatMap((f) => [...closure(functionFile(f.name), APP).matchAll(/\bcontrol\.(\w+)\(/g)].map((m) => m[1]!)));
    assert.ok(calls.has('create') && calls.has('get'), `cache calls found: ${[...calls].join(', ')}`);
    const want = new Set(
      [...calls].map((c) => {
        const p = CACHE_PERMISSIONS[c];
        assert.ok(p, `CacheControl.${c} is called: add its permission to CACHE_PERMISSIONS`);
        return p;
      }),
    );
    // Without FERRY_BUCKET_LOCATION the bucket's location is read from its metadata.
    if (users.some((f) => !('FERRY_BUCKET_LOCATION' in envOf(tfFunctionFor(f.name)[1])))) want.add('storage.buckets.get');
    const role = tf.resources.get('google_project_iam_custom_role.anywhere_cache_manager');
    assert.ok(role, 'custom role anywhere_cache_manager');
    assert.deepEqual([...(role['permissions'] as string[])].sort(), [...want].sort());
    const grants = GRANTS.filter((g) => g.role === 'custom:anywhere_cache_manager');
    for (const g of grants) {
      assert.equal(g.type, 'google_storage_bucket_iam_member', `${g.address} is granted on a bucket, not the project`);
      assert.ok(references(tf, g.block['bucket'], 'google_storage_bucket.models'), `${g.address} is on the model bucket`);
    }
    const sas = users.map((f) => saRef(block(tfFunctionFor(f.name)[1], 'service_config')?.['service_account_email'])[0]).sort();
    assert.deepEqual(grants.flatMap((g) => saRef(g.member)).sort(), sas, 'granted to the cache-managing functions only');
  });

  test('the temporary-hold role has exactly storage.objects.update, on the model bucket, for the functions that hold objects', () => {
    // objects.patch (temporaryHold + custom metadata, shared/adapters/gcs.ts setTemporaryHold) needs
    // storage.objects.update; the functions whose wiring builds the object store with holds get it.
    const users = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => /\bgcsObjectStore\([^\n]*\bholds:\s*true\b/.test(codeUse(f.name).code));
    assert.ok(
      users.some((f) => f.name === 'onDeployRequest') && users.some((f) => f.name === 'reconcileRollouts'),
      `hold users: ${users.map((f) => f.name).join(', ')}`,
    );
    assert.ok(/\bsetMetadata\(\s*\{\s*temporaryHold:/.test(read('shared/adapters/gcs.ts')), 'the adapter sets holds with File#setMetadata (objects.patch)');
    const role = tf.resources.get('google_project_iam_custom_role.model_object_holder');
    assert.ok(role, 'custom role model_object_holder');
    assert.deepEqual(role['permissions'], ['storage.objects.update']);
    const grants = GRANTS.filter((g) => g.role === 'custom:model_object_holder');
    for (const g of grants) {
      assert.equal(g.type, 'google_storage_bucket_iam_member', `${g.address} is granted on a bucket, not the project`);
      assert.ok(references(tf, g.block['bucket'], 'google_storage_bucket.models'), `${g.address} is on the model bucket`);
    }
    const sas = users.map((f) => saRef(block(tfFunctionFor(f.name)[1], 'service_config')?.['service_account_email'])[0]).sort();
    assert.deepEqual(grants.flatMap((g) => saRef(g.member)).sort(), sas, 'granted to the functions that hold objects, and only to them');
  });

  test('the GKE teardown role has exactly the permissions the GKE cluster directory calls, granted only to teardownIdle', () => {
    // ClusterManagerClient methods (shared/adapters/cluster-directory-gke.ts) → the IAM permission each needs.
    const GKE_PERMISSIONS: Record<string, string> = {
      listClusters: 'container.clusters.list',
      getCluster: 'container.clusters.get',
      setNodePoolSize: 'container.clusters.update',
      setNodePoolAutoscaling: 'container.clusters.update',
      deleteCluster: 'container.clusters.delete',
      getOperation: 'container.operations.get',
    };
    const adapter = read('shared/adapters/cluster-directory-gke.ts');
    const calls = new Set([...adapter.matchAll(/\bgke\.(\w+)\(/g)].map((m) => m[1]!));
    calls.delete('close');
    const want = new Set(
      [...calls].map((c) => {
        const p = GKE_PERMISSIONS[c];
        assert.ok(p, `ClusterManagerClient.${c} is called: add its permission to GKE_PERMISSIONS`);
        return p;
      }),
    );
    // Pool sizes come from the pools' instance group managers (Compute Engine API).
    if (/instanceGroupManagers/.test(adapter)) want.add('compute.instanceGroupManagers.get');
    const role = tf.resources.get('google_project_iam_custom_role.gke_teardown');
    assert.ok(role, 'custom role gke_teardown');
    assert.deepEqual([...(role['permissions'] as string[])].sort(), [...want].sort());
    const users = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => /\bclusterDirectory\(/.test(codeUse(f.name).code));
    assert.deepEqual(
      users.map((f) => f.name),
      ['teardownIdle'],
    );
    const grants = GRANTS.filter((g) => g.role === 'custom:gke_teardown');
    const sas = users.map((f) => saRef(block(tfFunctionFor(f.name)[1], 'service_config')?.['service_account_email'])[0]).sort();
    assert.deepEqual(grants.flatMap((g) => saRef(g.member)).sort(), sas);
  });

  test('the GKE capacity role has exactly what bringing node pools back calls, granted only to the deploy-side functions', () => {
    // ensureClusterCapacity uses the ClusterCapacity port: get, setNodePoolSize, setNodePoolAutoscaling.
    const PORT_TO_PERMISSION: Record<string, string[]> = {
      // get reads the cluster, then each pool's size from its instance group managers.
      get: ['container.clusters.get', 'compute.instanceGroupManagers.get'],
      setNodePoolSize: ['container.clusters.update'],
      setNodePoolAutoscaling: ['container.clusters.update'],
    };
    const port = read('shared/ports/cluster-directory.ts');
    const picked = /export type ClusterCapacity = Pick<ClusterDirectory, ([^>]+)>/.exec(port)?.[1];
    assert.ok(picked, 'ClusterCapacity is a Pick of ClusterDirectory');
    const methods = [...picked.matchAll(/'(\w+)'/g)].map((m) => m[1]!);
    const want = new Set(
      methods.flatMap((m) => {
        const p = PORT_TO_PERMISSION[m];
        assert.ok(p, `ClusterCapacity.${m}: add its permission`);
        return p;
      }),
    );
    const role = tf.resources.get('google_project_iam_custom_role.gke_capacity');
    assert.ok(role, 'custom role gke_capacity');
    assert.deepEqual([...(role['permissions'] as string[])].sort(), [...want].sort());
    const users = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => /\bcapacityDirectory\(/.test(codeUse(f.name).code));
    assert.deepEqual(users.map((f) => f.name).sort(), ['followRollout', 'onDeployRequest', 'reconcileRollouts']);
    const grants = GRANTS.filter((g) => g.role === 'custom:gke_capacity');
    const sas = users.map((f) => saRef(block(tfFunctionFor(f.name)[1], 'service_config')?.['service_account_email'])[0]).sort();
    assert.deepEqual(grants.flatMap((g) => saRef(g.member)).sort(), sas);
    for (const f of users) assert.ok('FERRY_GKE_PROJECT' in envOf(tfFunctionFor(f.name)[1]), `${f.name} knows the GKE project`);
  });

  test('the vLLM Kubernetes service account reads the bucket through Workload Identity (bucketViewer + objectViewer)', () => {
    const principals = String(str(tf.locals['vllm_principals']));
    assert.match(
      principals,
      /principal:\/\/iam\.googleapis\.com\/projects\/\$\{data\.google_project\.gke\.number\}\/locations\/global\/workloadIdentityPools\/\$\{local\.workload_identity_pool\}\/subject\/ns\/\$\{ns\}\/sa\/\$\{var\.vllm_service_account\}/,
    );
    assert.equal(tf.locals['workload_identity_pool'], '${local.gke_project_id}.svc.id.goog');
    const wi = GRANTS.filter((g) => String(g.block['for_each']) === '${local.vllm_principals}');
    assert.deepEqual(wi.map((g) => g.role).sort(), ['roles/storage.bucketViewer', 'roles/storage.objectViewer']);
    for (const g of wi) {
      assert.equal(g.type, 'google_storage_bucket_iam_member');
      assert.ok(references(tf, g.block['bucket'], 'google_storage_bucket.models'));
      assert.equal(g.member, '${each.value}');
    }
    // The same Kubernetes service account is rendered into the Deployments.
    assert.equal(variableValue(tf, 'vllm_service_account', 'defaults'), DEFAULT_SERVICE_ACCOUNT);
    for (const f of FUNCTIONS as readonly FunctionSpec[]) {
      if (!/\bclusterProvider\(/.test(codeUse(f.name).code)) continue;
      assert.equal(envOf(tfFunctionFor(f.name)[1])['FERRY_VLLM_SERVICE_ACCOUNT'], '${var.vllm_service_account}', `${f.name} renders the bound KSA`);
    }
  });
});

describe("the deploy policy's database: the functions read it, only policy_admins write it (docs/policy.md)", () => {
  const policyDb = tf.resources.get('google_firestore_database.policy');
  const dbId = evaluate(tf, policyDb?.['name'], 'defaults');
  // Firestore databases take IAM Conditions on resource.type and resource.name
  // (docs.cloud.google.com/iam/docs/conditions-attribute-reference); type and name pattern from the
  // Database resource annotation in @google-cloud/firestore 9.4.1
  // build/protos/google/firestore/admin/v1/database.proto (docs/UPSTREAM.md).
  const ON_POLICY_DB = `resource.type == "firestore.googleapis.com/Database" && resource.name.endsWith("/databases/${String(dbId)}")`;
  const conditionOf = (g: Grant) => evaluate(tf, block(g.block, 'condition')?.['expression'], 'defaults');
  /** Predefined Firestore roles that can write documents (every datastore role but the read-only ones). */
  const writes = (role: string) => /^roles\/datastore\./.test(role) && !/^roles\/datastore\.(viewer|indexViewer|statisticsViewer|backupsViewer)$/.test(role);
  const fnSas = new Set(tfFunctions.flatMap(([, b]) => saRef(block(b, 'service_config')?.['service_account_email'])));
  const readsPolicy = (FUNCTIONS as readonly FunctionSpec[]).filter((f) => /\bpolicyStore\(/.test(codeUse(f.name).code)).map((f) => f.name);

  test('it is a native database of its own, named for the code (FERRY_POLICY_DATABASE)', () => {
    assert.ok(policyDb, 'google_firestore_database.policy');
    assert.equal(dbId, 'ferry-policy');
    assert.notEqual(dbId, '(default)');
    assert.ok(config.DeployConfig.shape.FERRY_POLICY_DATABASE.safeParse(dbId).success, `${String(dbId)} is a database id the config accepts`);
    assert.equal(policyDb['location_id'], tf.resources.get('google_firestore_database.this')!['location_id'], 'next to the state');
  });

  test('no function identity may write it: their Firestore write grants exclude it by condition', () => {
    const fnWrites = GRANTS.filter((g) => writes(g.role) && saRef(g.member).some((sa) => fnSas.has(sa)));
    assert.ok(fnWrites.length >= FUNCTIONS.length, 'every function writes its state');
    for (const g of fnWrites) {
      assert.equal(conditionOf(g), `!(${ON_POLICY_DB})`, `${g.address}: every database but the policy's`);
      assert.deepEqual(block(g.block, 'lifecycle'), { create_before_destroy: true }, `${g.address}: replaced without a gap`);
    }
    // Nor anyone else but the policy admins: every other Firestore write grant excludes it too.
    for (const g of GRANTS.filter((x) => writes(x.role) && x.address !== 'google_project_iam_member.policy_admin')) {
      assert.equal(conditionOf(g), `!(${ON_POLICY_DB})`, `${g.address} may not write the policy`);
    }
  });

  test('the policy admins (var.policy_admins) may write it, and nothing else through that grant', () => {
    const g = GRANTS.find((x) => x.address === 'google_project_iam_member.policy_admin');
    assert.ok(g, 'google_project_iam_member.policy_admin');
    assert.equal(g.role, 'roles/datastore.user');
    assert.equal(soleRef(g.block['for_each'])?.kind, 'var');
    assert.equal(soleRef(g.block['for_each'])?.name, 'policy_admins');
    assert.equal(conditionOf(g), ON_POLICY_DB);
    assert.deepEqual(tf.variables.get('policy_admins')?.['default'], []);
    assert.ok(Array.isArray(tf.example['policy_admins']) && (tf.example['policy_admins'] as unknown[]).length > 0, 'the example tfvars names some');
  });

  test('the functions that check deploys read it (viewer on that database only, FERRY_POLICY_DATABASE set); the others do not', () => {
    assert.deepEqual([...readsPolicy].sort(), ['followRollout', 'onDeployRequest', 'reconcileRollouts']);
    for (const fn of FUNCTIONS) {
      const [, f] = tfFunctionFor(fn.name);
      const [sa] = saRef(block(f, 'service_config')?.['service_account_email']);
      const viewers = grantsOf(sa!).filter((g) => g.role === 'roles/datastore.viewer');
      const env = envOf(f);
      if (readsPolicy.includes(fn.name)) {
        assert.equal(viewers.length, 1, `${fn.name} reads the policy`);
        assert.equal(conditionOf(viewers[0]!), ON_POLICY_DB, `${fn.name}: on the policy database only`);
        assert.ok(references(tf, env['FERRY_POLICY_DATABASE'], 'google_firestore_database.policy'), `${fn.name}: FERRY_POLICY_DATABASE names it`);
      } else {
        assert.deepEqual(viewers, [], `${fn.name} does not read the policy`);
        assert.ok(!('FERRY_POLICY_DATABASE' in env), `${fn.name} has no FERRY_POLICY_DATABASE`);
      }
    }
  });

  test('the CLI finds it: an output names it; the code opens it only for the policy store', () => {
    assert.ok(references(tf, tf.outputs.get('policy_database')?.['value'], 'google_firestore_database.policy'));
    const wiring = read('shared/composition/functions.ts') + read('shared/composition/cli.ts');
    assert.equal([...wiring.matchAll(/FERRY_POLICY_DATABASE\)/g)].length, 2, 'policyStore and the CLI policy store, nothing else');
    assert.match(wiring, /new FirestorePolicyStore\(firestoreClient\(s\.GOOGLE_CLOUD_PROJECT, s\.FERRY_POLICY_DATABASE\)\)/);
  });
});

describe('storage, Firestore, secrets', () => {
  test('the model bucket is IAM-only (uniform access) and never public', () => {
    const b = tf.resources.get('google_storage_bucket.models');
    assert.ok(b);
    assert.equal(b['uniform_bucket_level_access'], true);
    assert.equal(b['public_access_prevention'], 'enforced');
    for (const [k, other] of ofType(tf, 'google_storage_bucket')) assert.equal(other['uniform_bucket_level_access'], true, k);
  });

  test('Firestore is native, with TTL on expireAt for the exactly-once and rejection records', () => {
    const dbs = ofType(tf, 'google_firestore_database');
    assert.deepEqual(
      dbs.map(([k]) => k).sort(),
      ['google_firestore_database.policy', 'google_firestore_database.this'],
      "ferry's state and the deploy policy's own",
    );
    for (const [k, d] of dbs) {
      assert.equal(d['type'], 'FIRESTORE_NATIVE', k);
      assert.equal(d['delete_protection_state'], 'DELETE_PROTECTION_ENABLED', k);
    }
    assert.equal(tf.resources.get('google_firestore_database.this')!['name'], '(default)', 'the code opens the (default) database for its state');
    const src = read('shared/adapters/firestore-rollouts.ts');
    const ttl = ofType(tf, 'google_firestore_field').filter(([, fld]) => 'ttl_config' in fld);
    for (const collection of ['deployRequests', 'idempotencyKeys', 'rejectedRequests']) {
      assert.ok(src.includes(`collection('${collection}')`), `the code still writes ${collection}`);
      const fld = ttl.find(([, x]) => x['collection'] === collection);
      assert.ok(fld, `TTL policy on ${collection}`);
      assert.equal(fld[1]['field'], 'expireAt');
    }
    assert.match(src, /expireAt/);
  });

  test('every Firestore query that orders by another field than it filters on has its composite index', () => {
    const indexes = ofType(tf, 'google_firestore_index').map(([, i]) => ({
      collection: i['collection'],
      scope: i['query_scope'] ?? 'COLLECTION',
      fields: blocks(i, 'fields').map((x) => `${str(x['field_path'])} ${str(x['order'] ?? x['array_config'])}`),
    }));
    const needed: Array<{ collection: string; scope: string; fields: string[]; where: string }> = [];
    const scanned = new Set<string>();
    const groups = new Set<string>();
    const dir = join(ROOT, 'shared/adapters');
    for (const file of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
      const src = readFileSync(join(dir, file), 'utf8');
      for (const m of src.matchAll(/\.collection(?:Group)?\('(\w+)'\)((?:\s*\.(?:where|orderBy|limit|select)\([^)]*\))+)/g)) {
        const chain = m[2]!;
        scanned.add(m[1]!);
        const wheres = [...chain.matchAll(/\.where\('([\w.]+)',\s*'([^']+)'/g)].map((w) => ({ field: w[1]!, op: w[2]! }));
        const orders = [...chain.matchAll(/\.orderBy\('([\w.]+)'(?:,\s*'(asc|desc)')?\)/g)].map((o) => ({ field: o[1]!, dir: o[2] ?? 'asc' }));
        const fields = new Set([...wheres.map((w) => w.field), ...orders.map((o) => o.field)]);
        // Collection-group scope has no automatic single-field indexes (Firestore "index overview",
        // docs/UPSTREAM.md D3): such a query on any field needs a COLLECTION_GROUP index.
        const group = m[0].startsWith('.collectionGroup');
        if (group) groups.add(m[1]!);
        if (group ? fields.size < 1 : fields.size < 2 || (!orders.length && wheres.every((w) => ['==', 'in'].includes(w.op)))) continue;
        const eq = wheres.filter((w) => !orders.some((o) => o.field === w.field)).map((w) => `${w.field} ASCENDING`);
        const ord = orders.map((o) => `${o.field} ${o.dir === 'desc' ? 'DESCENDING' : 'ASCENDING'}`);
        needed.push({
          collection: m[1]!,
          scope: group ? 'COLLECTION_GROUP' : 'COLLECTION',
          fields: [...eq, ...ord],
          where: `${file}: ${m[0].replace(/\s+/g, ' ')}`,
        });
      }
    }
    // The scan reads the adapters' queries (the versions-by-status one among them); "latest" is
    // picked in code since #23 (shared/domain/latest.ts), so that one needs no composite index.
    assert.ok(scanned.has('versions'), 'found the versions-by-status query');
    // The console's every-version read (#21) is a collection-group query that filters and orders
    // nothing, so it needs no index at all.
    assert.ok(groups.has('versions'), 'found the versions collection-group query');
    for (const n of needed) {
      assert.ok(
        indexes.some(
          (i) => i.collection === n.collection && (n.scope === 'COLLECTION' || i.scope === n.scope) && JSON.stringify(i.fields) === JSON.stringify(n.fields),
        ),
        `composite index ${n.collection}(${n.fields.join(', ')}) for ${n.where}`,
      );
    }
  });

  test('the Slack signing secret is a Secret Manager secret whose value never has to be in the repo', () => {
    const secrets = ofType(tf, 'google_secret_manager_secret');
    assert.ok(secrets.some(([k]) => /slack/.test(k)));
    const version = tf.resources.get('google_secret_manager_secret_version.slack_signing_secret');
    if (version) assert.equal(version['secret_data'], '${var.slack_signing_secret}');
    const v = tf.variables.get('slack_signing_secret');
    if (v) {
      assert.equal(v['sensitive'], true);
      assert.equal(v['default'], null);
    }
    assert.ok(!('slack_signing_secret' in tf.example), 'the example tfvars holds no secret');
  });

  test('the teardown webhook is a Secret Manager secret too, mounted only when asked for', () => {
    assert.ok(tf.resources.get('google_secret_manager_secret.teardown_slack_webhook'));
    const version = tf.resources.get('google_secret_manager_secret_version.teardown_slack_webhook');
    assert.equal(version?.['secret_data'], '${var.teardown_slack_webhook_url}');
    const v = tf.variables.get('teardown_slack_webhook_url');
    assert.equal(v?.['sensitive'], true);
    assert.equal(v?.['default'], null);
    assert.ok(!('teardown_slack_webhook_url' in tf.example), 'the example tfvars holds no secret');
    // Mounted by a dynamic block under `var.teardown_slack_notify ? … : {}` (tf.ts marks the block it
    // produces with that condition); slackCommand's signing secret is mounted unconditionally.
    const mounted = secretEnvOf(tfFunctionFor('teardownIdle')[1]);
    assert.deepEqual(
      mounted.map((m) => [m['key'], m[WHEN]]),
      [['FERRY_TEARDOWN_SLACK_WEBHOOK_URL', 'var.teardown_slack_notify']],
    );
    assert.ok(references(tf, mounted[0]!['secret'], 'google_secret_manager_secret.teardown_slack_webhook'));
    assert.deepEqual(
      secretEnvOf(tfFunctionFor('slackCommand')[1]).map((m) => [m['key'], m[WHEN]]),
      [['FERRY_SLACK_SIGNING_SECRET', undefined]],
    );
    assert.equal(tf.variables.get('teardown_slack_notify')?.['default'], false);
  });

  test('the alerts webhook (drift, issue #20): a secret mounted for the function that runs the drift check, only when asked for, and granted', () => {
    assert.ok(tf.resources.get('google_secret_manager_secret.alerts_slack_webhook'));
    assert.equal(tf.resources.get('google_secret_manager_secret_version.alerts_slack_webhook')?.['secret_data'], '${var.alerts_slack_webhook_url}');
    const v = tf.variables.get('alerts_slack_webhook_url');
    assert.equal(v?.['sensitive'], true);
    assert.equal(v?.['default'], null);
    assert.ok(!('alerts_slack_webhook_url' in tf.example), 'the example tfvars holds no secret');
    assert.equal(tf.variables.get('alerts_slack_notify')?.['default'], false);
    // Where the setting is read (the drift check's wiring), it is mounted from the secret, and the
    // function's service account may read exactly that secret.
    // The drift check runs in the reconciler's tick: the functions wired with reconcileDeps (which reads the setting).
    const runners = FUNCTIONS.filter((fn) => /\.reconcileDeps\b/.test(functionFile(fn.name)));
    assert.deepEqual(
      runners.map((fn) => fn.name),
      ['reconcileRollouts'],
    );
    for (const fn of runners) {
      assert.match(codeUse(fn.name).code, /\bs\.FERRY_ALERTS_SLACK_WEBHOOK_URL\b/, `${fn.name}'s wiring reads the alerts webhook`);
      const [, f] = tfFunctionFor(fn.name);
      const mounted = secretEnvOf(f).filter((m) => m['key'] === 'FERRY_ALERTS_SLACK_WEBHOOK_URL');
      assert.deepEqual(
        mounted.map((m) => m[WHEN]),
        ['var.alerts_slack_notify'],
        `${fn.name} mounts FERRY_ALERTS_SLACK_WEBHOOK_URL when alerts are on`,
      );
      assert.ok(references(tf, mounted[0]!['secret'], 'google_secret_manager_secret.alerts_slack_webhook'));
      const [sa] = saRef(block(f, 'service_config')?.['service_account_email']);
      assert.ok(
        grantsOf(sa!).some(
          (g) => g.role === 'roles/secretmanager.secretAccessor' && references(tf, g.block['secret_id'], 'google_secret_manager_secret.alerts_slack_webhook'),
        ),
        `${sa} may read the alerts webhook secret`,
      );
    }
  });

  test('README documents the deployment and every IAM role granted', () => {
    const readme = readFileSync(join(INFRA, 'README.md'), 'utf8');
    for (const role of new Set(GRANTS.map((g) => g.role.replace(/^custom:/, '')))) assert.ok(readme.includes(role), `infra/README.md explains ${role}`);
    for (const f of FUNCTIONS) assert.ok(readme.includes(f.name), `infra/README.md sizes ${f.name}`);
    for (const word of ['package.sh', 'terraform apply', 'terraform.tfvars']) assert.ok(readme.includes(word), `infra/README.md mentions ${word}`);
    assert.ok(existsSync(join(ROOT, 'firebase.json')), 'firebase.json (the local emulator definition) stays');
  });
});

/**
 * `npm run soak`: a bounded fault-injection run over the local stack (issue #23). Every scenario is
 * bounded in count and time, everything stays on 127.0.0.1. Uses the running `npm start` stack
 * (.ferry/stack.json), or starts one on free ports. Prints, and writes to .ferry/soak-results.json,
 * per scenario: tried / held / lost / duplicated / stuck.
 *
 *   held: answered as designed (acked, or refused with its reason); lost: an event or request whose
 *   effect never showed; duplicated: work done twice (a second validation of one content); stuck:
 *   still not settled when the scenario's time ran out.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { Storage } from '@google-cloud/storage';
import { Firestore } from '@google-cloud/firestore';
import { REPO_ROOT, runningStack, startStack, type Stack } from './stack.ts';

interface Figures {
  scenario: string;
  tried: number;
  held: number;
  lost: number;
  duplicated: number;
  stuck: number;
  note: string;
}

const LLAMA = join(REPO_ROOT, 'test', 'fixtures', 'checkpoints', 'llama-sharded');
const say = (m: string) => process.stderr.write(`[soak] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uid = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;

async function main(): Promise<void> {
  const rec = runningStack();
  let own: Stack | undefined;
  let env: Record<string, string>;
  if (rec) {
    env = rec.env;
    say(`using the running stack (pid ${rec.pid})`);
  } else {
    say('no running stack: starting one on free ports…');
    own = await startStack({ dir: join(REPO_ROOT, '.ferry', 'soak'), ports: 'free', envFile: null, scheduleEverySeconds: 3, log: () => undefined });
    env = own.env;
  }
  for (const [k, v] of Object.entries(env)) if (k.endsWith('_EMULATOR_HOST') || k === 'GOOGLE_CLOUD_PROJECT') process.env[k] = v;
  process.env['METADATA_SERVER_DETECTION'] = 'none';
  const storage = new Storage({ projectId: env['GOOGLE_CLOUD_PROJECT']!, apiEndpoint: env['STORAGE_EMULATOR_HOST']! });
  const bucket = storage.bucket(env['FERRY_BUCKET']!);
  const db = new Firestore({ projectId: env['GOOGLE_CLOUD_PROJECT']! });
  const uploadUrl = env['FERRY_URL_ON_CHECKPOINT_UPLOAD']!;
  const results: Figures[] = [];

  const version = async (model: string, v: string) => (await db.collection('models').doc(model).collection('versions').doc(v).get()).data();
  const settle = async (model: string, v: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const d = await version(model, v);
      if (d && (d['status'] === 'valid' || d['status'] === 'invalid')) return d;
      if (Date.now() > deadline) return d;
      await sleep(500);
    }
  };
  // The Storage emulator drops keep-alive sockets under load (EPIPE): retry a write, as `ferry upload` does.
  const save = async (name: string, bytes: Buffer) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await bucket.file(name).save(bytes, { resumable: false });
        return;
      } catch (e) {
        if (attempt >= 5 || !/EPIPE|ECONNRESET|socket hang up/.test(String(e))) throw e;
        await sleep(200 * attempt);
      }
    }
  };
  const uploadFixture = async (prefix: string) => {
    const names = readdirSync(LLAMA);
    const out: Array<{ name: string; generation: string }> = [];
    await Promise.all(
      names.map(async (f) => {
        const file = bucket.file(prefix + f);
        await save(prefix + f, readFileSync(join(LLAMA, f)));
        const [md] = await file.getMetadata();
        out.push({ name: prefix + f, generation: String(md.generation) });
      }),
    );
    return out;
  };
  const post = async (headers: Record<string, string>, body: string | Buffer): Promise<{ status: number; text: string }> => {
    try {
      const res = await fetch(uploadUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(120_000) });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      return { status: 0, text: String(e) };
    }
  };
  const ceHeaders = (id: string, name: string) => ({
    'content-type': 'application/json',
    'ce-id': id,
    'ce-specversion': '1.0',
    'ce-type': 'google.cloud.storage.object.v1.finalized',
    'ce-source': `//storage.googleapis.com/projects/_/buckets/${env['FERRY_BUCKET']}`,
    'ce-subject': `objects/${name}`,
  });
  const hostPid = () => {
    const out = spawnSync('pgrep', ['-f', `${REPO_ROOT}/infra/local/functions-host.ts`], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .filter(Boolean);
    return out.length ? Number(out[0]) : undefined;
  };

  // 1. Duplicate storm: 900 duplicate finalize events at 50 concurrent, sent as the upload lands.
  {
    const model = `soak-dup-${uid()}`;
    const files = await uploadFixture(`models/${model}/v1/`);
    const last = files.find((f) => f.name.endsWith('config.json'))!;
    const body = JSON.stringify({ bucket: env['FERRY_BUCKET'], name: last.name, generation: last.generation, size: '1', metageneration: '1' });
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 900) {
          const i = next++;
          statuses.push((await post(ceHeaders(`storm-${i % 7}`, last.name), body)).status);
        }
      }),
    );
    const v = await settle(model, 'v1', 120_000);
    const held = statuses.filter((s) => s >= 200 && s < 300).length;
    results.push({
      scenario: 'duplicate storm: 900 finalize events at 50 concurrent',
      tried: 900,
      held,
      lost: 900 - held,
      duplicated: Math.max(0, Number(v?.['validations'] ?? 0) - 1),
      stuck: v?.['status'] === 'valid' ? 0 : 1,
      note: `status ${v?.['status']}; validations ${v?.['validations']}; non-2xx: ${[...new Set(statuses.filter((s) => s < 200 || s >= 300))].join(',') || 'none'}`,
    });
  }

  // 2. kill -9 of the functions host, then an upload while it is down: delivered after the restart.
  {
    const pid = hostPid();
    const model = `soak-kill-${uid()}`;
    if (pid) process.kill(pid, 'SIGKILL');
    await uploadFixture(`models/${model}/v1/`);
    const v = await settle(model, 'v1', 180_000);
    const after = hostPid();
    results.push({
      scenario: 'kill -9 of the functions host, upload while it is down',
      tried: 1,
      held: v?.['status'] === 'valid' ? 1 : 0,
      lost: v ? 0 : 1,
      duplicated: Math.max(0, Number(v?.['validations'] ?? 0) - 1),
      stuck: v && v['status'] !== 'valid' ? 1 : 0,
      note: `killed pid ${pid ?? 'none found'}; host now pid ${after ?? 'none'}; status ${v?.['status'] ?? 'no version'}`,
    });
  }

  // 3. Two versions of one model uploaded at once (v2 completes last): v2 is latest.
  {
    const model = `soak-latest-${uid()}`;
    const v1 = uploadFixture(`models/${model}/v1/`);
    await sleep(50);
    const v2 = uploadFixture(`models/${model}/v2/`);
    await Promise.all([v1, v2]);
    const [a, b] = await Promise.all([settle(model, 'v1', 120_000), settle(model, 'v2', 120_000)]);
    const m = (await db.collection('models').doc(model).get()).data() as { latestValid?: { version?: string } } | undefined;
    const gens = [a?.['observedGeneration'], b?.['observedGeneration']].map((g) => BigInt(String(g ?? 0)));
    const expected = gens[1]! >= gens[0]! ? 'v2' : 'v1';
    results.push({
      scenario: 'two versions of one model uploaded at once',
      tried: 2,
      held: (a?.['status'] === 'valid' ? 1 : 0) + (b?.['status'] === 'valid' ? 1 : 0),
      lost: (a ? 0 : 1) + (b ? 0 : 1),
      duplicated: Math.max(0, Number(a?.['validations'] ?? 0) - 1) + Math.max(0, Number(b?.['validations'] ?? 0) - 1),
      stuck: [a, b].filter((d) => d && d['status'] !== 'valid').length,
      note: `latest ${m?.latestValid?.version}; uploaded last: ${expected}${m?.latestValid?.version === expected ? '' : ' — WRONG latest'}`,
    });
  }

  // 4. Hostile safetensors headers uploaded for real: a 95 MB __metadata__ (legal).
  {
    const model = `soak-hostile-${uid()}`;
    const pidBefore = hostPid();
    const header = Buffer.from(`{"__metadata__":{"notes":"${'x'.repeat(95_000_000)}"},"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`);
    const bytes = Buffer.alloc(8 + header.length + 2);
    bytes.writeBigUInt64LE(BigInt(header.length), 0);
    header.copy(bytes, 8);
    await save(`models/${model}/v1/config.json`, readFileSync(join(LLAMA, 'config.json')));
    await save(`models/${model}/v1/model.safetensors`, bytes);
    const v = await settle(model, 'v1', 180_000);
    const codes = ((v?.['errors'] as Array<{ code: string }> | undefined) ?? []).map((e) => e.code);
    results.push({
      scenario: 'hostile header uploaded for real: 95 MB __metadata__',
      tried: 1,
      held: v?.['status'] === 'invalid' && codes.includes('HEADER_TOO_LARGE_TO_VALIDATE') && hostPid() === pidBefore ? 1 : 0,
      lost: v ? 0 : 1,
      duplicated: Math.max(0, Number(v?.['validations'] ?? 0) - 1),
      stuck: v && v['status'] !== 'invalid' ? 1 : 0,
      note: `status ${v?.['status']}; codes ${codes.join(',')}; host pid ${pidBefore} → ${hostPid()}`,
    });
  }

  // 5. Malformed CloudEvents at the edge: never a 5xx, never an HTML page with file paths.
  {
    const cases: Array<[string, Record<string, string>, string | Buffer]> = [
      ['non-JSON body', ceHeaders(`bad-${uid()}`, 'models/x/v1/config.json'), 'this is not json{'],
      ['missing ce-* headers', { 'content-type': 'application/json' }, '{}'],
      [
        'wrong event type',
        { ...ceHeaders(`bad-${uid()}`, 'a'), 'ce-type': 'google.cloud.storage.object.v1.deleted' },
        '{"bucket":"bbb","name":"a","generation":"1"}',
      ],
      [
        'path traversal name',
        ceHeaders(`bad-${uid()}`, 'models/../../etc/passwd'),
        JSON.stringify({ bucket: env['FERRY_BUCKET'], name: 'models/../../etc/passwd', generation: '1' }),
      ],
      [
        'odd unicode name',
        ceHeaders(`bad-${uid()}`, 'models/m/v/x'), // headers are ByteStrings: the odd name travels in the body
        JSON.stringify({ bucket: env['FERRY_BUCKET'], name: 'models/m\u202e/v\u0000/x', generation: '1' }),
      ],
      ['10 MB body', ceHeaders(`bad-${uid()}`, 'x'), Buffer.alloc(10_000_000, 0x20)],
    ];
    let held = 0;
    const bad: string[] = [];
    for (const [what, h, b] of cases) {
      const r = await post(h, b);
      const ok = r.status > 0 && r.status < 500 && !/<html|\/work\/|node_modules/i.test(r.text);
      if (ok) held++;
      else bad.push(`${what}: ${r.status} ${r.text.slice(0, 80).replace(/\s+/g, ' ')}`);
    }
    results.push({
      scenario: 'malformed CloudEvents at onCheckpointUpload',
      tried: cases.length,
      held,
      lost: 0,
      duplicated: 0,
      stuck: 0,
      note: bad.length ? `not held: ${bad.join(' | ')}` : 'every one refused or ignored with a clean answer',
    });
  }

  // 6. The event delivery itself: nothing given up, nothing refused, nothing left queued.
  {
    const deadline = Date.now() + 60_000;
    let st: Record<string, number> = {};
    while (Date.now() < deadline) {
      st = (await (await fetch(`${env['FERRY_EVENTS_URL']}/status`)).json()) as Record<string, number>;
      if (!st['queued'] && !st['retrying'] && !st['inFlight']) break;
      await sleep(500);
    }
    results.push({
      scenario: 'storage event delivery over the whole soak',
      tried: st['enqueued'] ?? 0,
      held: st['delivered'] ?? 0,
      lost: (st['gaveUp'] ?? 0) + (st['refused'] ?? 0),
      duplicated: 0,
      stuck: (st['queued'] ?? 0) + (st['retrying'] ?? 0) + (st['inFlight'] ?? 0),
      note: `${st['failedAttempts'] ?? 0} failed attempts retried`,
    });
  }

  await db.terminate();
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30) },
    results,
  };
  mkdirSync(join(REPO_ROOT, '.ferry'), { recursive: true });
  writeFileSync(join(REPO_ROOT, '.ferry', 'soak-results.json'), JSON.stringify(out, null, 2));
  process.stdout.write('| scenario | tried | held | lost | duplicated | stuck | note |\n|---|---|---|---|---|---|---|\n');
  for (const r of results) process.stdout.write(`| ${r.scenario} | ${r.tried} | ${r.held} | ${r.lost} | ${r.duplicated} | ${r.stuck} | ${r.note} |\n`);
  await own?.stop();
  const failed = results.some((r) => r.lost || r.duplicated || r.stuck || r.held < r.tried);
  process.exit(failed ? 1 : 0);
}

await main();

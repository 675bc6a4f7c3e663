/**
 * Storage events at onCheckpointUpload: a duplicate storm, two versions at once, a hostile header
 * uploaded for real, malformed CloudEvents, and the delivery queue's own figures over the soak.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LLAMA, cleanAnswer, postEarly, sleep, uid, waitFor, type Scenario } from './context.ts';

export const duplicateStorm: Scenario = {
  name: 'duplicate-storm',
  group: 'storage',
  what: '900 duplicate finalize events at 50 concurrent, sent as the upload lands: one validation',
  async run(ctx) {
    const model = `soak-dup-${uid()}`;
    const files = await ctx.uploadFixture(`models/${model}/v1/`);
    const last = files.find((f) => f.name.endsWith('config.json'))!;
    const body = JSON.stringify({ bucket: ctx.env['FERRY_BUCKET'], name: last.name, generation: last.generation, size: '1', metageneration: '1' });
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 900) {
          const i = next++;
          statuses.push((await ctx.postUpload(ctx.ceHeaders(`storm-${i % 7}`, last.name), body)).status);
        }
      }),
    );
    const v = await ctx.settle(model, 'v1', 120_000);
    const held = statuses.filter((s) => s >= 200 && s < 300).length;
    return [
      {
        scenario: 'duplicate storm: 900 finalize events at 50 concurrent',
        tried: 900,
        held,
        lost: 900 - held,
        duplicated: Math.max(0, Number(v?.['validations'] ?? 0) - 1),
        stuck: v?.['status'] === 'valid' ? 0 : 1,
        note: `status ${v?.['status']}; validations ${v?.['validations']}; non-2xx: ${[...new Set(statuses.filter((s) => s < 200 || s >= 300))].join(',') || 'none'}`,
      },
    ];
  },
};

export const twoVersions: Scenario = {
  name: 'two-versions',
  group: 'storage',
  what: 'two versions of one model uploaded at once: latest is the one uploaded last',
  async run(ctx) {
    const model = `soak-latest-${uid()}`;
    const v1 = ctx.uploadFixture(`models/${model}/v1/`);
    await sleep(50);
    const v2 = ctx.uploadFixture(`models/${model}/v2/`);
    await Promise.all([v1, v2]);
    const [a, b] = await Promise.all([ctx.settle(model, 'v1', 120_000), ctx.settle(model, 'v2', 120_000)]);
    const m = (await ctx.db.collection('models').doc(model).get()).data() as { latestValid?: { version?: string } } | undefined;
    const gens = [a?.['observedGeneration'], b?.['observedGeneration']].map((g) => BigInt(String(g ?? 0)));
    const expected = gens[1]! >= gens[0]! ? 'v2' : 'v1';
    return [
      {
        scenario: 'two versions of one model uploaded at once',
        tried: 2,
        held: (a?.['status'] === 'valid' ? 1 : 0) + (b?.['status'] === 'valid' ? 1 : 0),
        lost: (a ? 0 : 1) + (b ? 0 : 1),
        duplicated: Math.max(0, Number(a?.['validations'] ?? 0) - 1) + Math.max(0, Number(b?.['validations'] ?? 0) - 1),
        stuck: [a, b].filter((d) => d && d['status'] !== 'valid').length,
        note: `latest ${m?.latestValid?.version}; uploaded last: ${expected}${m?.latestValid?.version === expected ? '' : ' — WRONG latest'}`,
      },
    ];
  },
};

export const hostileHeader: Scenario = {
  name: 'hostile-header',
  group: 'storage',
  what: 'a 95 MB __metadata__ header uploaded for real: refused with its code, no crash',
  async run(ctx) {
    const model = `soak-hostile-${uid()}`;
    const pidBefore = ctx.hostPid();
    const header = Buffer.from(`{"__metadata__":{"notes":"${'x'.repeat(95_000_000)}"},"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`);
    const bytes = Buffer.alloc(8 + header.length + 2);
    bytes.writeBigUInt64LE(BigInt(header.length), 0);
    header.copy(bytes, 8);
    await ctx.save(`models/${model}/v1/config.json`, readFileSync(join(LLAMA, 'config.json')));
    await ctx.save(`models/${model}/v1/model.safetensors`, bytes);
    const v = await ctx.settle(model, 'v1', 180_000);
    const codes = ((v?.['errors'] as Array<{ code: string }> | undefined) ?? []).map((e) => e.code);
    return [
      {
        scenario: 'hostile header uploaded for real: 95 MB `__metadata__`',
        tried: 1,
        held: v?.['status'] === 'invalid' && codes.includes('HEADER_TOO_LARGE_TO_VALIDATE') && ctx.hostPid() === pidBefore ? 1 : 0,
        lost: v ? 0 : 1,
        duplicated: Math.max(0, Number(v?.['validations'] ?? 0) - 1),
        stuck: v && v['status'] !== 'invalid' ? 1 : 0,
        note: `status ${v?.['status']}; codes ${codes.join(',')}; host pid ${pidBefore} → ${ctx.hostPid()}`,
      },
    ];
  },
};

export const malformedCloudEvents: Scenario = {
  name: 'malformed-cloudevents',
  group: 'storage',
  what: 'malformed CloudEvents at onCheckpointUpload: never a 5xx, never an HTML page with file paths',
  async run(ctx) {
    const bucket = ctx.env['FERRY_BUCKET'];
    const cases: Array<[string, Record<string, string>, string | Buffer | number]> = [
      ['non-JSON body', ctx.ceHeaders(`bad-${uid()}`, 'models/x/v1/config.json'), 'this is not json{'],
      ['missing ce-* headers', { 'content-type': 'application/json' }, '{}'],
      [
        'wrong event type',
        { ...ctx.ceHeaders(`bad-${uid()}`, 'a'), 'ce-type': 'google.cloud.storage.object.v1.deleted' },
        '{"bucket":"bbb","name":"a","generation":"1"}',
      ],
      [
        'path traversal name',
        ctx.ceHeaders(`bad-${uid()}`, 'models/../../etc/passwd'),
        JSON.stringify({ bucket, name: 'models/../../etc/passwd', generation: '1' }),
      ],
      [
        'odd unicode name',
        ctx.ceHeaders(`bad-${uid()}`, 'models/m/v/x'), // headers are ByteStrings: the odd name travels in the body
        JSON.stringify({ bucket, name: 'models/m\u202e/v\u0000/x', generation: '1' }),
      ],
      ['10 MB body', ctx.ceHeaders(`bad-${uid()}`, 'x'), 10_000_000],
    ];
    let held = 0;
    const bad: string[] = [];
    for (const [what, h, b] of cases) {
      const r = typeof b === 'number' ? await postEarly(ctx.urls.upload, b, h) : await ctx.postUpload(h, b);
      if (cleanAnswer(r)) held++;
      else bad.push(`${what}: ${r.status} ${r.text.slice(0, 80).replace(/\s+/g, ' ')}`);
    }
    return [
      {
        scenario: 'malformed CloudEvents at onCheckpointUpload',
        tried: cases.length,
        held,
        lost: 0,
        duplicated: 0,
        stuck: 0,
        note: bad.length ? `not held: ${bad.join(' | ')}` : 'every one refused or ignored with a clean answer',
      },
    ];
  },
};

/** Runs last: nothing given up, nothing refused, nothing left queued over the whole soak. */
export const deliveryOverSoak: Scenario = {
  name: 'delivery',
  group: 'storage',
  what: 'the storage event delivery over the whole soak: nothing given up or left queued',
  async run(ctx) {
    const r = await waitFor(
      () => ctx.eventStatus(),
      (st) => !st['queued'] && !st['retrying'] && !st['inFlight'],
      120_000,
    );
    const st = r.value;
    return [
      {
        scenario: 'storage event delivery over the whole soak',
        tried: st['enqueued'] ?? 0,
        held: st['delivered'] ?? 0,
        lost: (st['gaveUp'] ?? 0) + (st['refused'] ?? 0),
        duplicated: 0,
        stuck: (st['queued'] ?? 0) + (st['retrying'] ?? 0) + (st['inFlight'] ?? 0),
        note: `${st['failedAttempts'] ?? 0} failed attempts retried`,
      },
    ];
  },
};

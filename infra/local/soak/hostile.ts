/**
 * Hostile input at the other edges: odd object names uploaded for real, huge bodies at every
 * function, and Slack requests that are forged, stale, replayed, oversized or from users who may not
 * deploy. Every one must be refused (or ignored) with its reason, crash nothing and deploy nothing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { slackSignature } from '../../../shared/domain/slack.ts';
import { LLAMA, SOAK_NS, cleanAnswer, post, postEarly, uid, waitFor, type HttpAnswer, type Scenario, type SoakContext } from './context.ts';
import { validModel } from './deploys.ts';

export const hostileNames: Scenario = {
  name: 'hostile-names',
  group: 'hostile',
  what: 'path traversal, control characters, RTL override and very long object names uploaded for real: delivered, acked, no crash',
  async run(ctx) {
    const id = uid();
    const names = [
      `models/../../etc/soak-${id}/v1/config.json`,
      `models/soak-${id}/v1/../../../etc/passwd`,
      `models/%2e%2e/%2e%2e/soak-${id}/v1/config.json`,
      `models/soak-${id}%2F..%2F/v1/config.json`,
      `models/./soak-${id}/v1/config.json`,
      `models/soak-${id}\u0007\u001b[31m/v1/config.json`,
      `models/soak-${id}\u202eelif/v1/config.json`,
      `models/soak-${id}-\u00e9\u6a21\u578b/v1/config.json`,
      `models/soak-${id}/v1\u200b/config.json`,
      `models/soak-${id}-${'a'.repeat(900)}/v1/config.json`,
      `models/soak-${id}/${'v'.repeat(300)}/model.safetensors`,
      `models/soak-${id}\\..\\..\\x/v1/config.json`,
    ];
    const pid = ctx.hostPid();
    const logFrom = ctx.functionsLogSize();
    const config = readFileSync(join(LLAMA, 'config.json'));
    const uploaded: string[] = [];
    const refusedByStorage: string[] = [];
    for (const n of names) {
      try {
        await ctx.save(n, config);
        uploaded.push(n);
      } catch (e) {
        refusedByStorage.push(`${JSON.stringify(n.slice(0, 40))}: ${String(e).slice(0, 60)}`);
      }
    }
    // Each uploaded object's finalize event: delivered and acknowledged (2xx), never given up.
    const records = await waitFor(
      async () => {
        const res = await fetch(`${ctx.urls.events}/deliveries?prefix=${encodeURIComponent('models/')}&limit=20000`);
        const all = (await res.json()) as Array<{ name: string; state: string; lastStatus: number | null }>;
        return uploaded.map((n) => all.filter((r) => r.name === n).at(-1));
      },
      (rs) => rs.every((r) => r && (r.state === 'delivered' || r.state === 'gave-up')),
      120_000,
    );
    const delivered = records.value.filter((r) => r?.state === 'delivered' && r.lastStatus !== null && r.lastStatus < 300).length;
    const log = ctx.functionsLogSince(logFrom);
    const reasons = [...new Set([...log.matchAll(/"reason":"(INVALID_MODEL_NAME|INVALID_VERSION_NAME|OUTSIDE_PREFIX|NOT_A_VERSION_FILE)"/g)].map((m) => m[1]))];
    // No version document may carry a name the model/version grammar refuses.
    const models = (await ctx.db.collection('models').listDocuments()).map((d) => d.id).filter((m) => m.includes(id));
    const oddModels = models.filter((m) => !/^[a-z0-9][a-z0-9._-]*$/i.test(m));
    const samePid = ctx.hostPid() === pid;
    return [
      {
        scenario: 'hostile object names uploaded for real',
        tried: names.length,
        held: samePid && !oddModels.length ? delivered + refusedByStorage.length : 0,
        lost: uploaded.length - records.value.filter((r) => r?.state === 'delivered').length,
        duplicated: 0,
        stuck: records.ok ? 0 : records.value.filter((r) => !r || (r.state !== 'delivered' && r.state !== 'gave-up')).length,
        note:
          `${uploaded.length} stored, ${delivered} delivered and acked; reasons logged ${reasons.join(',') || 'none'}; ` +
          `models recorded ${models.length} (odd ids ${oddModels.length}); host ${samePid ? 'did not restart' : 'RESTARTED'}` +
          (refusedByStorage.length ? `; refused by the Storage emulator itself: ${refusedByStorage.join(' | ')}` : ''),
      },
    ];
  },
};

/** A body larger than each function's cap: refused before it is read, cleanly, no crash. */
export const hugeBodies: Scenario = {
  name: 'huge-bodies',
  group: 'hostile',
  what: 'bodies over the cap at every function (declared and chunked): 413 or acked, never a crash',
  async run(ctx) {
    const pid = ctx.hostPid();
    const chunked = (bytes: number): ReadableStream<Uint8Array> => {
      let left = bytes;
      return new ReadableStream({
        pull(c) {
          if (left <= 0) return c.close();
          const n = Math.min(left, 256 * 1024);
          left -= n;
          c.enqueue(new Uint8Array(n).fill(0x61));
        },
      });
    };
    const postChunked = async (url: string, bytes: number, headers: Record<string, string>): Promise<HttpAnswer> => {
      const t0 = Date.now();
      try {
        const res = await fetch(url, { method: 'POST', headers, body: chunked(bytes), duplex: 'half', signal: AbortSignal.timeout(60_000) } as RequestInit);
        return { status: res.status, text: await res.text(), ms: Date.now() - t0 };
      } catch (e) {
        // The server may close the connection once the cap is reached: that is a refusal too.
        return {
          status: /ECONNRESET|EPIPE|other side closed|SocketError/i.test(String((e as { cause?: unknown }).cause ?? e)) ? 413 : 0,
          text: String(e),
          ms: Date.now() - t0,
        };
      }
    };
    const ce = ctx.ceHeaders(`huge-${uid()}`, 'models/x/v1/config.json');
    const deployPath = `${ctx.urls.deploy}/projects/${ctx.env['GOOGLE_CLOUD_PROJECT']}/topics/${ctx.env['FERRY_DEPLOY_TOPIC']}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const cases: Array<[string, () => Promise<HttpAnswer>]> = [
      ['onCheckpointUpload, 64 MB declared', () => postEarly(ctx.urls.upload, 64 * 1024 * 1024, ce)],
      ['onCheckpointUpload, 16 MB chunked', () => postChunked(ctx.urls.upload, 16 * 1024 * 1024, ce)],
      ['onDeployRequest, 64 MB declared', () => postEarly(deployPath, 64 * 1024 * 1024, { 'content-type': 'application/json' })],
      ['onDeployRequest, 16 MB chunked', () => postChunked(deployPath, 16 * 1024 * 1024, { 'content-type': 'application/json' })],
      ['slackCommand, 8 MB declared', () => postEarly(ctx.urls.slack, 8 * 1024 * 1024, form)],
      ['slackCommand, 8 MB chunked', () => postChunked(ctx.urls.slack, 8 * 1024 * 1024, form)],
    ];
    let held = 0;
    const notes: string[] = [];
    for (const [what, run] of cases) {
      const r = await run();
      const ok = cleanAnswer(r);
      if (ok) held++;
      notes.push(`${what}: ${r.status}${ok ? '' : ` NOT HELD ${r.text.slice(0, 80).replace(/\s+/g, ' ')}`}`);
    }
    const samePid = ctx.hostPid() === pid;
    return [
      {
        scenario: 'huge bodies at every function',
        tried: cases.length,
        held: samePid ? held : 0,
        lost: 0,
        duplicated: 0,
        stuck: 0,
        note: `${notes.join('; ')}; host ${samePid ? 'did not restart' : 'RESTARTED'}`,
      },
    ];
  },
};

/** A local response_url for signed slash commands (onChatCommand posts the results here). */
export async function replyServer(): Promise<{ url: string; posts: () => number; close: () => void }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/reply`, posts: () => n, close: () => server.close() };
}

export function slashForm(text: string, opts: { user?: string; responseUrl: string; channel?: string }): string {
  return new URLSearchParams({
    team_id: 'T0LOCAL',
    team_domain: 'local',
    channel_id: opts.channel ?? 'C0LOCAL',
    channel_name: 'local',
    user_id: opts.user ?? 'ULOCALDEV',
    user_name: 'soak',
    command: '/ferry',
    text,
    response_url: opts.responseUrl,
    trigger_id: randomUUID(),
  }).toString();
}

export function signedSlack(ctx: SoakContext, body: string, opts: { ts?: number; secret?: string } = {}): Record<string, string> {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': ts,
    'x-slack-signature': slackSignature(opts.secret ?? ctx.env['FERRY_SLACK_SIGNING_SECRET']!, ts, body),
  };
}

export const hostileSlack: Scenario = {
  name: 'hostile-slack',
  group: 'hostile',
  what: 'Slack requests forged, stale, replayed, oversized, malformed or from unauthorised users: refused with their reason, nothing deployed',
  async run(ctx) {
    const model = await validModel(ctx);
    const ns = `${SOAK_NS}-slack-${uid()}`;
    const reply = await replyServer();
    const logFrom = ctx.functionsLogSize();
    const now = Math.floor(Date.now() / 1000);
    const deployText = (name: string) => `deploy ${model}@v1 to local/${ns}/${name} accelerator=nvidia-l4`;
    const f = (text: string, o: { user?: string; responseUrl?: string } = {}) => slashForm(text, { responseUrl: reply.url, ...o });
    const send = (body: string, headers: Record<string, string>) => post(ctx.urls.slack, headers, body, 30_000);
    const text = (r: HttpAnswer) => {
      try {
        return String((JSON.parse(r.text) as { text?: string }).text ?? '');
      } catch {
        return r.text;
      }
    };
    // [what, send it, held when, the reason the log must show (or null), target that must not exist]
    type Case = [string, () => Promise<HttpAnswer>, (r: HttpAnswer) => boolean, string | null, string | null];
    const replayed = f('status');
    const replayHeaders = signedSlack(ctx, replayed);
    const cases: Case[] = [
      [
        'forged: signed with another secret',
        () => {
          const b = f(deployText('forged'));
          return send(b, signedSlack(ctx, b, { secret: 'not-the-secret' }));
        },
        (r) => r.status === 401,
        'MISMATCH',
        'forged',
      ],
      [
        'forged: body changed after signing',
        () => {
          const b = f('status');
          return send(f(deployText('tampered')), signedSlack(ctx, b));
        },
        (r) => r.status === 401,
        'MISMATCH',
        'tampered',
      ],
      [
        'stale: timestamp 6 min old',
        () => {
          const b = f(deployText('stale'));
          return send(b, signedSlack(ctx, b, { ts: now - 360 }));
        },
        (r) => r.status === 401,
        'STALE',
        'stale',
      ],
      [
        'stale: timestamp 6 min ahead',
        () => {
          const b = f(deployText('future'));
          return send(b, signedSlack(ctx, b, { ts: now + 360 }));
        },
        (r) => r.status === 401,
        'STALE',
        'future',
      ],
      [
        'no signature headers',
        () => send(f(deployText('unsigned')), { 'content-type': 'application/x-www-form-urlencoded' }),
        (r) => r.status === 401,
        'MISSING',
        'unsigned',
      ],
      [
        'malformed signature',
        () => {
          const b = f(deployText('malformed'));
          return send(b, { ...signedSlack(ctx, b), 'x-slack-signature': 'v1=zz' });
        },
        (r) => r.status === 401,
        'MALFORMED',
        'malformed',
      ],
      [
        'oversized: 100 KB signed',
        () => {
          const b = f(`status ${'x'.repeat(100_000)}`);
          return send(b, signedSlack(ctx, b));
        },
        (r) => r.status === 413 || r.status === 401,
        null,
        null,
      ],
      [
        'unauthorised user deploys',
        () => {
          const b = f(deployText('intruder'), { user: 'UINTRUDER1' });
          return send(b, signedSlack(ctx, b));
        },
        (r) => r.status === 200 && /not on ferry's list|not allowed|may not/i.test(text(r)),
        'USER_NOT_ALLOWED',
        'intruder',
      ],
      [
        'response_url to the metadata server',
        () => {
          const b = f('status', { responseUrl: 'http://169.254.169.254/computeMetadata/v1/' });
          return send(b, signedSlack(ctx, b));
        },
        (r) => r.status === 200 && !/^Working on/.test(text(r)),
        'RESPONSE_URL_REFUSED',
        null,
      ],
      [
        'signed, not a form',
        () => {
          const b = '{"text":"deploy"}';
          return send(b, signedSlack(ctx, b));
        },
        (r) => r.status === 200 && !/^Working on/.test(text(r)),
        'FORM_INVALID',
        null,
      ],
      ['replayed: the first copy', () => send(replayed, replayHeaders), (r) => r.status === 200, null, null],
      [
        'replayed: the same signature again',
        () => send(replayed, replayHeaders),
        (r) => r.status === 200 && /already received/i.test(text(r)),
        'DUPLICATE',
        null,
      ],
    ];
    let held = 0;
    const bad: string[] = [];
    const answers: HttpAnswer[] = [];
    for (const [what, run, ok] of cases) {
      const r = await run();
      answers.push(r);
      if (ok(r) && cleanAnswer(r)) held++;
      else bad.push(`${what}: ${r.status} ${text(r).slice(0, 80)}`);
    }
    // Give any (wrongly) queued command time to act before looking for Deployments.
    await new Promise((r) => setTimeout(r, 5000));
    const log = ctx.functionsLogSince(logFrom);
    const missingReasons = cases.filter(([, , , reason]) => reason && !log.includes(`"reason":"${reason}"`)).map(([w, , , reason]) => `${w} (${reason})`);
    const deployed: string[] = [];
    for (const [, , , , target] of cases) if (target && (await ctx.deployment(ns, target))) deployed.push(target);
    reply.close();
    await ctx.dropNamespace(ns);
    return [
      {
        scenario: 'hostile Slack requests',
        tried: cases.length,
        held: deployed.length ? 0 : held,
        lost: 0,
        duplicated: 0,
        stuck: 0,
        note:
          `${bad.length ? `not held: ${bad.join(' | ')}; ` : 'every one refused as designed; '}` +
          `reasons in the log: ${missingReasons.length ? `MISSING for ${missingReasons.join(', ')}` : 'all'}; deployed: ${deployed.join(',') || 'nothing'}`,
      },
    ];
  },
};

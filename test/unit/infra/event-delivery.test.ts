/**
 * The local Storage-event delivery (infra/local/event-delivery.ts) against a real HTTP server:
 * Eventarc's binary-mode shape, bounded concurrency under a burst, at-least-once retry when the
 * function answers an error or is not there at all (a crashed functions host that comes back), and
 * giving up only on events older than the maximum age.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventDelivery, backoffMs, ceHeaderValue, toBinaryMode, type StructuredCloudEvent } from '../../../infra/local/event-delivery.ts';
import { freePort } from '../../../infra/local/proc.ts';

interface Got {
  headers: IncomingMessage['headers'];
  body: string;
}

function serve(port: number, handler: (got: Got, res: ServerResponse) => void | Promise<void>): Promise<Server> {
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handler({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }, res));
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** As the Storage emulator builds it (firebase-tools@14.27.0 lib/emulator/storage/cloudFunctions.js#L68-86). */
function emulatorEvent(name: string, generation: string, id = `id-${name}-${generation}`): StructuredCloudEvent {
  return {
    specversion: '1.0',
    id,
    type: 'google.cloud.storage.object.v1.finalized',
    source: `//storage.googleapis.com/projects/_/buckets/b1/objects/${name}`,
    time: '2026-12-06T10:00:00.000Z',
    data: { kind: 'storage#object', name, bucket: 'b1', generation, metageneration: '1', size: '12' },
  };
}

describe('local Storage-event delivery', () => {
  it('sends the binary-mode CloudEvent Eventarc sends: source is the bucket, subject the object, int64 as strings', () => {
    const ev = emulatorEvent('models/m/v1/a b.safetensors', '17');
    (ev.data as Record<string, unknown>)['size'] = 12; // whatever the emulator gave
    const bin = toBinaryMode(ev);
    assert.equal(bin.headers['ce-source'], '//storage.googleapis.com/projects/_/buckets/b1');
    assert.equal(bin.headers['ce-subject'], 'objects/models/m/v1/a%20b.safetensors');
    assert.equal(bin.headers['ce-type'], 'google.cloud.storage.object.v1.finalized');
    assert.equal(decodeURIComponent(bin.headers['ce-id']!), ev.id);
    assert.equal(bin.headers['ce-specversion'], '1.0');
    assert.equal(bin.headers['content-type'], 'application/json');
    const body = JSON.parse(bin.body) as Record<string, unknown>;
    assert.equal(body['size'], '12');
    assert.equal(body['generation'], '17');
    assert.equal(bin.generation, '17');
  });

  it('percent-encodes header values as the CloudEvents HTTP binding says, so any object name can be sent', async () => {
    // cloudevents/spec@v1.0.2 http-protocol-binding.md §3.1.3.2: space, '"', '%' and all outside U+0021-U+007E.
    assert.equal(ceHeaderValue('objects/a b"c%d'), 'objects/a%20b%22c%25d');
    assert.equal(ceHeaderValue('\u00e9\u202e\u0007'), '%C3%A9%E2%80%AE%07');
    assert.equal(ceHeaderValue('\u{1F600}'), '%F0%9F%98%80');
    // Found by the soak (hostile-names): names with an RTL override, a bell or CJK were never
    // delivered (fetch refuses a non-ByteString header) and were retried until they expired.
    const names = [
      'models/m\u202eelif/v1/config.json',
      'models/m\u0007\u001b[31m/v1/config.json',
      'models/m-\u00e9\u6a21\u578b/v1/config.json',
      'models/m/v1\u200b/x',
    ];
    const port = await freePort();
    const got: Got[] = [];
    const srv = await serve(port, (g, res) => {
      got.push(g);
      res.writeHead(204).end();
    });
    const d = new EventDelivery({ url: `http://127.0.0.1:${port}`, minBackoffMs: 10, maxBackoffMs: 20 });
    try {
      for (const n of names) d.enqueue(emulatorEvent(n, '1'));
      await d.idle();
      assert.equal(d.stats().delivered, names.length);
      assert.equal(d.stats().failedAttempts, 0);
      const subjects = got.map((g) => decodeURIComponent(String(g.headers['ce-subject']))).sort();
      assert.deepEqual(subjects, names.map((n) => `objects/${n}`).sort());
      // The body keeps the name as it is: that is what ferry reads.
      assert.deepEqual(got.map((g) => (JSON.parse(g.body) as { name: string }).name).sort(), [...names].sort());
    } finally {
      d.stop();
      await close(srv);
    }
  });

  it('backs off exponentially with jitter, capped', () => {
    assert.equal(
      backoffMs(1, 100, 1000, () => 0.5),
      100,
    );
    assert.equal(
      backoffMs(3, 100, 1000, () => 0.5),
      400,
    );
    assert.equal(
      backoffMs(10, 100, 1000, () => 0.5),
      1000,
    );
    assert.equal(
      backoffMs(2, 100, 1000, () => 0),
      150,
    );
    assert.equal(
      backoffMs(2, 100, 1000, () => 1),
      250,
    );
  });

  it('holds a 1,000-event burst with at most `concurrency` requests in flight, delivering each once', async () => {
    const port = await freePort();
    let inFlight = 0;
    let maxInFlight = 0;
    const seen = new Map<string, number>();
    const srv = await serve(port, async (got, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(2);
      const id = String(got.headers['ce-id']);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      inFlight--;
      res.writeHead(204).end();
    });
    const d = new EventDelivery({ url: `http://127.0.0.1:${port}/`, concurrency: 6 });
    try {
      for (let i = 0; i < 1000; i++) assert.ok(d.enqueue(emulatorEvent(`models/m/v1/s${i}`, String(1000 + i))));
      await d.idle();
      assert.ok(maxInFlight <= 6, `max in flight ${maxInFlight}`);
      assert.ok(maxInFlight >= 2, `the queue should drain in parallel (max in flight ${maxInFlight})`);
      assert.equal(seen.size, 1000);
      assert.ok([...seen.values()].every((n) => n === 1));
      const st = d.stats();
      assert.deepEqual([st.enqueued, st.delivered, st.failedAttempts, st.gaveUp, st.queued, st.inFlight], [1000, 1000, 0, 0, 0, 0]);
    } finally {
      d.stop();
      await close(srv);
    }
  });

  it('retries an event the function answered with an error, until it is acknowledged', async () => {
    const port = await freePort();
    let calls = 0;
    const srv = await serve(port, (_got, res) => {
      calls++;
      res.writeHead(calls < 3 ? 500 : 200).end(calls < 3 ? 'boom' : 'ok');
    });
    const d = new EventDelivery({ url: `http://127.0.0.1:${port}/`, minBackoffMs: 10, maxBackoffMs: 50 });
    try {
      d.enqueue(emulatorEvent('models/m/v1/config.json', '5'));
      await d.idle();
      const [r] = d.deliveries('models/m/v1/');
      assert.equal(r?.state, 'delivered');
      assert.equal(r?.attempts, 3);
      assert.equal(r?.lastStatus, 200);
      assert.equal(d.stats().failedAttempts, 2);
    } finally {
      d.stop();
      await close(srv);
    }
  });

  it('keeps events while the function is down and delivers them when it comes back (a crashed host)', async () => {
    const port = await freePort(); // nothing listens yet: connection refused
    const d = new EventDelivery({ url: `http://127.0.0.1:${port}/`, minBackoffMs: 20, maxBackoffMs: 100 });
    const got: string[] = [];
    let srv: Server | undefined;
    try {
      for (let i = 0; i < 20; i++) d.enqueue(emulatorEvent(`models/m/v2/s${i}`, String(i + 1)));
      await until(() => d.stats().failedAttempts >= 20, 'first attempts to fail');
      assert.equal(d.stats().delivered, 0);
      srv = await serve(port, (g, res) => {
        got.push(String(g.headers['ce-subject']));
        res.writeHead(200).end();
      });
      await d.idle();
      assert.equal(new Set(got).size, 20);
      assert.equal(d.stats().delivered, 20);
      assert.equal(d.stats().gaveUp, 0);
      assert.ok(d.deliveries('models/m/v2/').every((r) => r.state === 'delivered' && r.attempts >= 2));
    } finally {
      d.stop();
      if (srv) await close(srv);
    }
  });

  it('gives up only on an event older than the maximum age, and says so', async () => {
    const port = await freePort();
    const srv = await serve(port, (_g, res) => void res.writeHead(503).end());
    const logs: string[] = [];
    const d = new EventDelivery({
      url: `http://127.0.0.1:${port}/`,
      minBackoffMs: 10,
      maxBackoffMs: 20,
      maxAgeMs: 150,
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });
    try {
      d.enqueue(emulatorEvent('models/m/v3/config.json', '9'));
      await d.idle();
      const [r] = d.deliveries();
      assert.equal(r?.state, 'gave-up');
      assert.ok((r?.attempts ?? 0) >= 2);
      assert.equal(d.stats().gaveUp, 1);
      assert.ok(logs.some((l) => l.startsWith('error event-delivery: gave up')));
    } finally {
      d.stop();
      await close(srv);
    }
  });

  it('refuses events beyond its bound instead of growing without limit', () => {
    const d = new EventDelivery({ url: 'http://127.0.0.1:9/', concurrency: 1, maxQueued: 3 });
    try {
      const taken = [0, 1, 2, 3, 4].map((i) => d.enqueue(emulatorEvent(`x${i}`, '1')));
      assert.deepEqual(taken, [true, true, true, false, false]);
      assert.equal(d.stats().refused, 2);
    } finally {
      d.stop();
    }
  });
});

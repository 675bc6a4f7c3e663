/**
 * The running stack's watcher (issue #23): a dead piece is restarted when that is safe, otherwise the
 * stack stops with a message naming it — never a silently dead path. Fake processes and probes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchPieces, type WatchedProcess } from '../../../infra/local/watch-pieces.ts';

class FakeProcess implements WatchedProcess {
  static next = 100;
  pid = FakeProcess.next++;
  private resolve!: (code: number | null) => void;
  exited = new Promise<number | null>((r) => (this.resolve = r));
  die(code: number | null): void {
    this.resolve(code);
  }
}

async function until(what: string, cond: () => boolean): Promise<void> {
  // Waits on the condition; the bound only keeps a broken build from hanging forever.
  for (let i = 0; i < 3000 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `never: ${what}`);
}

test('a dead process piece that is safe to restart is restarted and watched again, then stops the stack when it keeps dying', async () => {
  const log: string[] = [];
  let current = new FakeProcess();
  const first = current;
  const fatal: string[] = [];
  const w = watchPieces(
    [
      {
        name: 'the functions host',
        process: () => current,
        restart: async () => {
          current = new FakeProcess();
        },
        advice: 'See .ferry/stack/logs/functions.log.',
      },
    ],
    { log: (m) => log.push(m), stopping: () => false, onFatal: (m) => void fatal.push(m), intervalMs: 10, maxRestarts: 2 },
  );
  try {
    first.die(137);
    await until('restarted once', () => current !== first && log.includes('watch: the functions host is back'));
    assert.ok(
      log.some((l) => l === `watch: the functions host died (pid ${first.pid} exited with code 137); restarting it (1/2 in 10 min)`),
      log.join('\n'),
    );
    const second = current;
    await sleep(50); // the watcher picks up the new instance
    second.die(null);
    await until('restarted twice', () => current !== second);
    await sleep(50);
    current.die(1);
    await until('the stack stops', () => fatal.length === 1);
    assert.match(
      fatal[0]!,
      /^ferry: STOPPING: the functions host died \(pid \d+ exited with code 1; it died 3 times within 10 min\)\. See \.ferry\/stack\/logs\/functions\.log\.$/,
    );
  } finally {
    w.stop();
  }
});

test('a piece that cannot be restarted safely stops the stack once, naming it, even when several die', async () => {
  const log: string[] = [];
  const fatal: string[] = [];
  const etcd = new FakeProcess();
  let pubsubUp = true;
  const w = watchPieces(
    [
      { name: 'etcd', process: () => etcd, advice: 'Restart the stack: Ctrl-C, then npm start.' },
      { name: 'the Pub/Sub emulator', probe: async () => pubsubUp, advice: 'Restart the stack.' },
    ],
    { log: (m) => log.push(m), stopping: () => false, onFatal: (m) => void fatal.push(m), intervalMs: 10, failuresToDead: 3 },
  );
  try {
    pubsubUp = false;
    await until('the stack stops', () => fatal.length > 0);
    etcd.die(2);
    await sleep(100);
    assert.equal(fatal.length, 1);
    assert.equal(
      fatal[0],
      'ferry: STOPPING: the Pub/Sub emulator died (it stopped answering: 3 probes in a row failed; the stack does not restart it). Restart the stack.',
    );
    assert.deepEqual(log, []);
  } finally {
    w.stop();
  }
});

test('a probe that fails now and then is not a dead piece', async () => {
  const fatal: string[] = [];
  let n = 0;
  const w = watchPieces([{ name: 'the GKE server', probe: async () => n++ % 2 === 0, advice: '' }], {
    log: () => undefined,
    stopping: () => false,
    onFatal: (m) => void fatal.push(m),
    intervalMs: 10,
    failuresToDead: 2,
  });
  try {
    await until('20 probes', () => n >= 20);
    assert.deepEqual(fatal, []);
  } finally {
    w.stop();
  }
});

test('a probe that throws counts as failed; a restart that fails stops the stack', async () => {
  const fatal: string[] = [];
  const w = watchPieces(
    [
      {
        name: 'the event delivery',
        probe: async () => {
          throw new Error('ECONNREFUSED');
        },
        restart: async () => {
          throw new Error('port 9000 is taken');
        },
        advice: 'Free the port.',
      },
    ],
    { log: () => undefined, stopping: () => false, onFatal: (m) => void fatal.push(m), intervalMs: 10, failuresToDead: 2 },
  );
  try {
    await until('the stack stops', () => fatal.length === 1);
    assert.equal(
      fatal[0],
      'ferry: STOPPING: the event delivery died (it stopped answering: 2 probes in a row failed; restarting it failed: port 9000 is taken). Free the port.',
    );
  } finally {
    w.stop();
  }
});

test('nothing is restarted or reported while the stack is stopping', async () => {
  const log: string[] = [];
  const fatal: string[] = [];
  const p = new FakeProcess();
  let restarted = 0;
  const w = watchPieces(
    [
      {
        name: 'kube-apiserver',
        process: () => p,
        restart: async () => {
          restarted++;
        },
        advice: '',
      },
      { name: 'the Storage emulator', probe: async () => false, advice: '' },
    ],
    { log: (m) => log.push(m), stopping: () => true, onFatal: (m) => void fatal.push(m), intervalMs: 10, failuresToDead: 1 },
  );
  try {
    p.die(0);
    await sleep(200);
    assert.equal(restarted, 0);
    assert.deepEqual(fatal, []);
    assert.deepEqual(log, []);
  } finally {
    w.stop();
  }
});

test('a hung process piece (alive, its probe failing) is restarted once: the exit of the instance the restart stops is no second death', async () => {
  const log: string[] = [];
  let current = new FakeProcess();
  const hung = current;
  let healthy = true;
  let restarts = 0;
  const w = watchPieces(
    [
      {
        name: 'kube-scheduler',
        process: () => current,
        probe: async () => healthy,
        restart: async () => {
          restarts++;
          current.die(null); // as kube.ts does: stop what is left of the hung instance first
          await sleep(30); // then start a new one and wait until it is ready
          current = new FakeProcess();
          healthy = true;
        },
        advice: 'See its log.',
      },
    ],
    { log: (m) => log.push(m), stopping: () => false, onFatal: () => undefined, intervalMs: 10, failuresToDead: 3 },
  );
  try {
    await sleep(50); // watched
    healthy = false;
    await until('replaced', () => current !== hung && log.includes('watch: kube-scheduler is back'));
    await sleep(200); // room for a wrong second restart
    assert.equal(restarts, 1, log.join('\n'));
    assert.ok(
      log.some((l) => l.startsWith('watch: kube-scheduler died (it stopped answering: 3 probes in a row failed); restarting it (1/3')),
      log.join('\n'),
    );
  } finally {
    w.stop();
  }
});

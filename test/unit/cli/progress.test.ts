/**
 * Upload progress: formatting, the meter (rate and ETA per file and in total) and the bar / lines
 * renderings, driven by a fake clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatBytes,
  formatRate,
  formatDuration,
  fitName,
  formatBar,
  formatTotalLine,
  formatFileDoneLine,
  TransferMeter,
  progressRenderer,
  resolveProgressMode,
} from '../../../shared/cli/progress.ts';

const MiB = 1024 * 1024;
function fakeClock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('formatting', () => {
  it('bytes in binary units with three significant digits', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.00 KiB');
    assert.equal(formatBytes(65664), '64.1 KiB');
    assert.equal(formatBytes(1024 * 1023.99), '1.00 MiB');
    assert.equal(formatBytes(150 * MiB), '150 MiB');
    assert.equal(formatBytes(1.5 * 1024 * MiB), '1.50 GiB');
    assert.equal(formatBytes(-1), '?');
  });

  it('rates and durations, with -- when unknown', () => {
    assert.equal(formatRate(85.3 * MiB), '85.3 MiB/s');
    assert.equal(formatRate(undefined), '--/s');
    assert.equal(formatDuration(undefined), '--');
    assert.equal(formatDuration(Infinity), '--');
    assert.equal(formatDuration(7.4), '7s');
    assert.equal(formatDuration(65), '1m05s');
    assert.equal(formatDuration(2 * 3600 + 3 * 60 + 9), '2h03m');
    assert.equal(formatDuration(200 * 3600), '8d');
  });

  it('long names are cut in the middle, keeping the shard number', () => {
    assert.equal(fitName('model-00001-of-00006.safetensors', 100), 'model-00001-of-00006.safetensors');
    assert.equal(fitName('model-00001-of-00006.safetensors', 20), 'model-00001-…tensors');
    assert.equal(fitName('model-00001-of-00006.safetensors', 20).length, 20);
  });

  it('auto is a bar on a terminal, lines otherwise, nothing beside --json', () => {
    assert.equal(resolveProgressMode('auto', { isTTY: true, json: false }), 'bar');
    assert.equal(resolveProgressMode('auto', { isTTY: true, term: 'dumb', json: false }), 'lines');
    assert.equal(resolveProgressMode('auto', { isTTY: false, json: false }), 'lines');
    assert.equal(resolveProgressMode('auto', { isTTY: true, json: true }), 'none');
    assert.equal(resolveProgressMode('lines', { isTTY: true, json: true }), 'lines');
  });
});

describe('TransferMeter', () => {
  const files = [
    { name: 'a.safetensors', size: 100 * MiB },
    { name: 'b.safetensors', size: 50 * MiB },
    { name: 'config.json', size: 1024 },
  ];

  it('rate and ETA in total and per file, from the bytes reported over time', () => {
    const c = fakeClock();
    const m = new TransferMeter(files, c.now);
    assert.equal(m.snapshot().rate, undefined, 'no rate before any time has passed');
    m.start('a.safetensors');
    m.start('b.safetensors');
    c.advance(1000);
    m.bytes('a.safetensors', 10 * MiB);
    m.bytes('b.safetensors', 10 * MiB);
    const s = m.snapshot();
    assert.equal(s.sentBytes, 20 * MiB);
    assert.equal(s.rate, 20 * MiB, '20 MiB in 1 s');
    assert.equal(Math.round(s.eta!), Math.round((150 * MiB + 1024 - 20 * MiB) / (20 * MiB)));
    assert.deepEqual(
      s.active.map((f) => [f.name, f.sent, f.rate, f.eta]),
      [
        ['a.safetensors', 10 * MiB, 10 * MiB, 9],
        ['b.safetensors', 10 * MiB, 10 * MiB, 4],
      ],
    );
    assert.equal(s.doneFiles, 0);
    assert.equal(s.elapsedSeconds, 1);
  });

  it('the total rate follows the last 5 s, not the whole run', () => {
    const c = fakeClock();
    const m = new TransferMeter(files, c.now);
    m.start('a.safetensors');
    for (let i = 1; i <= 10; i++) {
      c.advance(1000);
      m.bytes('a.safetensors', i * 8 * MiB); // 8 MiB/s for 10 s
    }
    for (let i = 1; i <= 6; i++) {
      c.advance(1000);
      m.bytes('a.safetensors', 80 * MiB + i * MiB); // then 1 MiB/s
    }
    const r = m.snapshot().rate!;
    assert.ok(r >= 0.9 * MiB && r <= 1.5 * MiB, `${r / MiB} MiB/s`);
  });

  it('a retry starts the file again from 0; done counts the file whole', () => {
    const c = fakeClock();
    const m = new TransferMeter(files, c.now);
    m.start('b.safetensors');
    c.advance(500);
    m.bytes('b.safetensors', 30 * MiB);
    m.bytes('b.safetensors', 0);
    assert.equal(m.snapshot().sentBytes, 0);
    m.bytes('b.safetensors', 80 * MiB); // more than the file: clamped
    assert.equal(m.snapshot().sentBytes, 50 * MiB);
    c.advance(500);
    m.done('b.safetensors');
    m.bytes('b.safetensors', 0); // late event after done: ignored
    const s = m.snapshot();
    assert.equal(s.doneFiles, 1);
    assert.equal(s.sentBytes, 50 * MiB);
    assert.deepEqual(m.fileSummary('b.safetensors'), { size: 50 * MiB, seconds: 1, rate: 50 * MiB });
    assert.throws(() => m.bytes('nope', 1), /not in the upload/);
  });

  it('when every file is done, time stops: ETA 0 and the final elapsed time', () => {
    const c = fakeClock();
    const m = new TransferMeter([{ name: 'x', size: 10 }], c.now);
    m.start('x');
    c.advance(2000);
    m.done('x');
    c.advance(60_000);
    const s = m.snapshot();
    assert.equal(s.eta, 0);
    assert.equal(s.elapsedSeconds, 2);
    assert.deepEqual(s.active, []);
  });
});

describe('renderings', () => {
  const files = [
    { name: 'model-00001-of-00002.safetensors', size: 64 * MiB },
    { name: 'model-00002-of-00002.safetensors', size: 64 * MiB },
    { name: 'config.json', size: 700 },
  ];

  it('the bar: totals, then the file in flight, within the terminal width', () => {
    const c = fakeClock();
    const m = new TransferMeter(files, c.now);
    m.start('model-00001-of-00002.safetensors');
    c.advance(2000);
    m.bytes('model-00001-of-00002.safetensors', 32 * MiB);
    assert.equal(
      formatBar(m.snapshot(), 140),
      '[######------------------]  24%  32.0 MiB / 128 MiB  16.0 MiB/s  ETA 6s  0/3 files  model-00001-of-00002.safetensors 50% ETA 2s',
    );
    assert.equal(
      formatBar(m.snapshot(), 120),
      '[######------------------]  24%  32.0 MiB / 128 MiB  16.0 MiB/s  ETA 6s  0/3 files  model-00001-of…fetensors 50% ETA 2s',
    );
    assert.equal(formatBar(m.snapshot(), 60), '[##--------]  24%  32.0 MiB / 128 MiB  16.0 MiB/s  ETA 6s');
    assert.equal(formatBar(m.snapshot(), 40), '[##--------]  24%  32.0 MiB / 128 MiB');
  });

  it('bar mode redraws one line in place, at most every 100 ms, and ends it at finish', () => {
    const c = fakeClock();
    let out = '';
    const r = progressRenderer({ mode: 'bar', files, write: (s) => (out += s), now: c.now, columns: 100 });
    r.start('model-00001-of-00002.safetensors');
    for (let i = 1; i <= 10; i++) {
      c.advance(20);
      r.bytes('model-00001-of-00002.safetensors', i * MiB);
    }
    const draws = out.split('\r').length - 1;
    assert.equal(draws, 3, 'at 0, 100 and 200 ms');
    assert.ok(!out.includes('\n'));
    assert.ok(out.endsWith('\x1b[K'));
    r.done('model-00001-of-00002.safetensors');
    r.finish();
    assert.ok(out.endsWith('\x1b[K\n'));
    assert.match(out.split('\r').at(-1)!, /1\/3 files/);
  });

  it('lines mode: one line per finished file, the totals and files in flight every 5 s', () => {
    const c = fakeClock();
    const lines: string[] = [];
    const r = progressRenderer({ mode: 'lines', files, write: (s) => lines.push(s), now: c.now });
    r.start('model-00001-of-00002.safetensors');
    r.start('model-00002-of-00002.safetensors');
    c.advance(3000);
    r.bytes('model-00001-of-00002.safetensors', 24 * MiB);
    assert.deepEqual(lines, [], 'nothing before 5 s');
    c.advance(2000);
    r.bytes('model-00002-of-00002.safetensors', 16 * MiB);
    assert.equal(lines.length, 3);
    assert.equal(lines[0], '   31%  40.0 MiB / 128 MiB  8.00 MiB/s  ETA 11s  (0/3 files)\n');
    assert.equal(lines[1], '        model-00001-of-00002.safetensors  24.0 MiB / 64.0 MiB  4.80 MiB/s  ETA 8s\n');
    assert.equal(lines[2], '        model-00002-of-00002.safetensors  16.0 MiB / 64.0 MiB  3.20 MiB/s  ETA 15s\n');
    c.advance(3000);
    r.done('model-00001-of-00002.safetensors');
    assert.equal(lines[3], '  [1/3]  62%  model-00001-of-00002.safetensors  64.0 MiB in 8.0s (8.00 MiB/s)\n');
    r.finish();
    assert.equal(lines.length, 4);
  });

  it('none writes nothing', () => {
    const c = fakeClock();
    let out = '';
    const r = progressRenderer({ mode: 'none', files, write: (s) => (out += s), now: c.now });
    r.start('config.json');
    r.bytes('config.json', 700);
    r.done('config.json');
    r.finish();
    assert.equal(out, '');
  });

  it('total and done lines for a finished upload', () => {
    const c = fakeClock();
    const m = new TransferMeter([{ name: 'config.json', size: 700 }], c.now);
    m.start('config.json');
    c.advance(250);
    m.done('config.json');
    assert.equal(formatTotalLine(m.snapshot()), '  100%  700 B / 700 B  2.73 KiB/s  ETA 0s  (1/1 files)');
    assert.equal(formatFileDoneLine('config.json', m.fileSummary('config.json'), m.snapshot()), '  [1/1] 100%  config.json  700 B in 0.3s (2.73 KiB/s)');
  });
});

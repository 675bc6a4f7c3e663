/**
 * Transfer progress for `ferry upload`: a meter (bytes, rate and ETA per file and in total, from
 * the byte counts the SDK reports) and its renderings — a live single-line bar for a terminal,
 * plain lines for logs and CI. Time comes from an injected `now()` (ms), and output goes through an
 * injected `write`, so all of it is tested with a fake clock.
 */

export type ProgressMode = 'bar' | 'lines' | 'none';
export const PROGRESS_CHOICES = ['auto', 'bar', 'lines', 'none'] as const;
export type ProgressChoice = (typeof PROGRESS_CHOICES)[number];

/** `auto`: a bar on a terminal (not TERM=dumb), lines otherwise; nothing beside `--json` output. */
export function resolveProgressMode(choice: ProgressChoice, t: { isTTY: boolean; term?: string | undefined; json: boolean }): ProgressMode {
  if (choice !== 'auto') return choice;
  if (t.json) return 'none';
  return t.isTTY && t.term !== 'dumb' ? 'bar' : 'lines';
}

// ---------------------------------------------------------------------------------------------
// Formatting

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 0 B, 999 B, 1.0 KiB, 12.3 MiB, 1.50 GiB: three significant digits above 1 KiB. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.96 KiB would print as "1024.0 KiB": show it as 1.00 MiB instead.
  if (v >= 999.95 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${UNITS[u]}`;
}

export function formatRate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) ? '--/s' : `${formatBytes(bytesPerSecond)}/s`;
}

/** 7s, 1m05s, 2h03m; `--` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 100 * 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d`;
}

const percent = (done: number, total: number) => (total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 100);

/** `name` cut to `width` characters in the middle, keeping more of its start (where shard numbers are). */
export function fitName(name: string, width: number): string {
  if (name.length <= width) return name;
  if (width <= 1) return name.slice(0, Math.max(0, width));
  const head = Math.ceil((width - 1) * 0.6);
  return `${name.slice(0, head)}…${name.slice(name.length - (width - 1 - head))}`;
}

// ---------------------------------------------------------------------------------------------
// The meter

export interface FileProgress {
  name: string;
  size: number;
  sent: number;
  /** Average since this file started, bytes/s (undefined until time has passed). */
  rate: number | undefined;
  eta: number | undefined;
  done: boolean;
}

export interface ProgressSnapshot {
  totalFiles: number;
  doneFiles: number;
  totalBytes: number;
  sentBytes: number;
  elapsedSeconds: number;
  /** Bytes/s over the last few seconds (the whole run while it is shorter). */
  rate: number | undefined;
  /** Seconds left at `rate`. */
  eta: number | undefined;
  /** Files being sent now, in the order they started. */
  active: FileProgress[];
}

/** Rate window: long enough to smooth a shard's bursts, short enough to follow a change of speed. */
const WINDOW_MS = 5_000;

export class TransferMeter {
  private readonly files = new Map<string, { size: number; sent: number; startedAt?: number; doneAt?: number }>();
  private readonly totalBytes: number;
  private startedAt: number | undefined;
  private finishedAt: number | undefined;
  private sent = 0;
  private samples: Array<{ t: number; sent: number }> = [];
  private readonly now: () => number;

  constructor(files: ReadonlyArray<{ name: string; size: number }>, now: () => number) {
    this.now = now;
    for (const f of files) this.files.set(f.name, { size: f.size, sent: 0 });
    this.totalBytes = files.reduce((a, f) => a + f.size, 0);
  }

  start(name: string): void {
    const f = this.file(name);
    const t = this.now();
    this.startedAt ??= t;
    f.startedAt ??= t;
    this.sample(t);
  }

  /** Bytes of `name` sent in its current attempt: may go down (a retry starts again from 0). */
  bytes(name: string, sent: number): void {
    const f = this.file(name);
    if (f.doneAt !== undefined) return;
    const clamped = Math.max(0, Math.min(f.size, sent));
    this.sent += clamped - f.sent;
    f.sent = clamped;
    this.sample(this.now());
  }

  done(name: string): void {
    const f = this.file(name);
    if (f.doneAt !== undefined) return;
    this.sent += f.size - f.sent;
    f.sent = f.size;
    f.doneAt = this.now();
    this.sample(f.doneAt);
    if ([...this.files.values()].every((x) => x.doneAt !== undefined)) this.finishedAt = f.doneAt;
  }

  snapshot(): ProgressSnapshot {
    const t = this.finishedAt ?? this.now();
    const elapsed = this.startedAt === undefined ? 0 : (t - this.startedAt) / 1000;
    const rate = this.rate(t);
    const active: FileProgress[] = [];
    let doneFiles = 0;
    for (const [name, f] of this.files) {
      if (f.doneAt !== undefined) doneFiles++;
      else if (f.startedAt !== undefined) {
        const secs = (t - f.startedAt) / 1000;
        const r = secs > 0 && f.sent > 0 ? f.sent / secs : undefined;
        active.push({ name, size: f.size, sent: f.sent, rate: r, eta: r ? (f.size - f.sent) / r : undefined, done: false });
      }
    }
    active.sort((a, b) => this.files.get(a.name)!.startedAt! - this.files.get(b.name)!.startedAt!);
    const left = this.totalBytes - this.sent;
    return {
      totalFiles: this.files.size,
      doneFiles,
      totalBytes: this.totalBytes,
      sentBytes: this.sent,
      elapsedSeconds: elapsed,
      rate,
      eta: left === 0 ? 0 : rate ? left / rate : undefined,
      active,
    };
  }

  /** One finished file: its size, time and average rate. */
  fileSummary(name: string): { size: number; seconds: number; rate: number | undefined } {
    const f = this.file(name);
    const seconds = f.startedAt !== undefined && f.doneAt !== undefined ? (f.doneAt - f.startedAt) / 1000 : 0;
    return { size: f.size, seconds, rate: seconds > 0 ? f.size / seconds : undefined };
  }

  private file(name: string) {
    const f = this.files.get(name);
    if (!f) throw new Error(`progress for a file not in the upload: ${name}`);
    return f;
  }

  private sample(t: number): void {
    this.samples.push({ t, sent: this.sent });
    while (this.samples.length > 2 && this.samples[1]!.t <= t - WINDOW_MS) this.samples.shift();
  }

  private rate(t: number): number | undefined {
    const first = this.samples[0];
    if (!first || t - first.t < 200) return undefined;
    const r = ((this.sent - first.sent) * 1000) / (t - first.t);
    return r > 0 ? r : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Renderings

/** `[########------------]  41%  1.20 GiB / 2.93 GiB  85.3 MiB/s  ETA 21s  3/9 files  <file> 64%` */
export function formatBar(s: ProgressSnapshot, columns: number): string {
  const pct = percent(s.sentBytes, s.totalBytes);
  const barWidth = columns >= 100 ? 24 : columns >= 70 ? 16 : 10;
  const filled = Math.round((barWidth * pct) / 100);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`;
  // Fields in order of importance: as many as fit the terminal, then the file in flight if it fits.
  const fields = [
    `${bar} ${String(pct).padStart(3)}%`,
    `${formatBytes(s.sentBytes)} / ${formatBytes(s.totalBytes)}`,
    formatRate(s.rate),
    `ETA ${formatDuration(s.eta)}`,
    `${s.doneFiles}/${s.totalFiles} files`,
  ];
  const max = columns - 1;
  let head = fields[0]!;
  for (const f of fields.slice(1)) {
    if (head.length + 2 + f.length > max) break;
    head += `  ${f}`;
  }
  const current = s.active[0];
  let line = head;
  if (current && head.length === fields.join('  ').length) {
    const more = s.active.length > 1 ? ` +${s.active.length - 1}` : '';
    const tail = ` ${percent(current.sent, current.size)}% ETA ${formatDuration(current.eta)}${more}`;
    const room = max - head.length - 2 - tail.length;
    if (room >= 8) line = `${head}  ${fitName(current.name, room)}${tail}`;
  }
  return line.slice(0, Math.max(0, max));
}

/** One line for the whole upload (lines mode, every few seconds). */
export function formatTotalLine(s: ProgressSnapshot): string {
  return `  ${String(percent(s.sentBytes, s.totalBytes)).padStart(3)}%  ${formatBytes(s.sentBytes)} / ${formatBytes(s.totalBytes)}  ${formatRate(s.rate)}  ETA ${formatDuration(s.eta)}  (${s.doneFiles}/${s.totalFiles} files)`;
}

/** One line for a file being sent (lines mode, under the total line). */
export function formatActiveFileLine(f: FileProgress): string {
  return `        ${f.name}  ${formatBytes(f.sent)} / ${formatBytes(f.size)}  ${formatRate(f.rate)}  ETA ${formatDuration(f.eta)}`;
}

/** A file finished: `  [3/9]  41%  model-00001-of-00006.safetensors  64.1 KiB in 0.3s (213 KiB/s)` */
export function formatFileDoneLine(name: string, f: { size: number; seconds: number; rate: number | undefined }, s: ProgressSnapshot): string {
  const n = String(s.totalFiles).length;
  return `  [${String(s.doneFiles).padStart(n)}/${s.totalFiles}] ${String(percent(s.sentBytes, s.totalBytes)).padStart(3)}%  ${name}  ${formatBytes(f.size)} in ${f.seconds < 10 ? f.seconds.toFixed(1) + 's' : formatDuration(f.seconds)} (${formatRate(f.rate)})`;
}

export interface ProgressRenderer {
  start(name: string): void;
  bytes(name: string, sent: number): void;
  done(name: string): void;
  /** Ends the bar's line (or prints the last total line). */
  finish(): void;
}

export interface RendererOptions {
  mode: ProgressMode;
  files: ReadonlyArray<{ name: string; size: number }>;
  write: (s: string) => void;
  now: () => number;
  /** Terminal width for the bar (default 80). */
  columns?: number;
  /** Bar: redraw at most this often (default 100 ms). */
  redrawMs?: number;
  /** Lines: a total line (and one per file being sent) at most this often (default 5 s). */
  linesEveryMs?: number;
}

/**
 * Drives a TransferMeter and writes it out. Bar: `\r` + the line + erase-to-end-of-line (ESC[K),
 * redrawn at most every `redrawMs` and when a file finishes; `finish()` ends the line. Lines: a line
 * per finished file, and every `linesEveryMs` the totals and each file in flight.
 */
export function progressRenderer(o: RendererOptions): ProgressRenderer & { meter: TransferMeter } {
  const meter = new TransferMeter(o.files, o.now);
  const columns = Math.max(20, o.columns ?? 80);
  const redrawMs = o.redrawMs ?? 100;
  const linesEveryMs = o.linesEveryMs ?? 5_000;
  let lastDraw = -Infinity;
  let drawn = false;
  let lastLines: number | undefined;

  const drawBar = (force: boolean) => {
    const t = o.now();
    if (!force && t - lastDraw < redrawMs) return;
    lastDraw = t;
    drawn = true;
    o.write(`\r${formatBar(meter.snapshot(), columns)}\x1b[K`);
  };
  const maybeLines = () => {
    const t = o.now();
    lastLines ??= t;
    if (t - lastLines < linesEveryMs) return;
    lastLines = t;
    const s = meter.snapshot();
    o.write(`${formatTotalLine(s)}\n`);
    for (const f of s.active) o.write(`${formatActiveFileLine(f)}\n`);
  };

  return {
    meter,
    start(name) {
      meter.start(name);
      if (o.mode === 'bar') drawBar(false);
      else if (o.mode === 'lines') lastLines ??= o.now();
    },
    bytes(name, sent) {
      meter.bytes(name, sent);
      if (o.mode === 'bar') drawBar(false);
      else if (o.mode === 'lines') maybeLines();
    },
    done(name) {
      meter.done(name);
      if (o.mode === 'bar') drawBar(true);
      else if (o.mode === 'lines') o.write(`${formatFileDoneLine(name, meter.fileSummary(name), meter.snapshot())}\n`);
    },
    finish() {
      if (o.mode === 'bar' && drawn) {
        drawBar(true);
        o.write('\n');
      }
    },
  };
}

/**
 * The console's HTML toolkit: an escaping template tag, formatting, the page layout (with its
 * inline style and live-update script, both allowed by hash in the Content-Security-Policy) and a
 * small inline-SVG bar chart. Pure: no I/O.
 */
import { createHash } from 'node:crypto';

/** Markup that is already safe (built by `html` or `raw`). */
export class Html {
  readonly s: string;
  constructor(s: string) {
    this.s = s;
  }
  toString(): string {
    return this.s;
  }
}
export const raw = (s: string): Html => new Html(s);

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

function part(v: unknown): string {
  if (v instanceof Html) return v.s;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(String(v));
}

/** Template tag: every interpolated value is escaped unless it is Html (or an array of them). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1]!;
  return new Html(out);
}

// ---------------------------------------------------------------------------------------------
// Links (deep links: every model, version, rollout and target has its own address)

const seg = encodeURIComponent;
export const links = {
  models: () => '/models',
  model: (m: string) => `/models/${seg(m)}`,
  version: (m: string, v: string) => `/models/${seg(m)}/versions/${seg(v)}`,
  targets: () => '/targets',
  target: (key: string) => `/targets/${seg(key)}`,
  rollout: (id: string) => `/rollouts/${seg(id)}`,
  caches: () => '/caches',
  teardown: () => '/teardown',
  rejected: () => '/rejected',
};
export const a = (href: string, text: unknown, cls?: string): Html => html`<a href="${href}" ${cls ? raw(` class="${esc(cls)}"`) : ''}>${text}</a>`;

/** A column heading: its label, or [label, 'n'] for a right-aligned number column. */
export type Column = string | readonly [string, 'n'];
/** A table of rows under its column headings, or the `empty` note when there are none. */
export function table(columns: readonly Column[], rows: readonly unknown[], empty: Html): Html {
  if (!rows.length) return html`<p class="muted">${empty}</p>`;
  const th = (c: Column) => (typeof c === 'string' ? html`<th>${c}</th>` : html`<th class="n">${c[0]}</th>`);
  return html`<table>
    <thead>
      <tr>
        ${columns.map(th)}
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function fmtCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, seconds);
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
}

/** `2026-12-06T13:07:25.123Z` → `2026-12-06 13:07:25Z` inside a <time> element. */
export function time(iso: string | null | undefined): Html {
  if (!iso) return raw('—');
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

/** A status word with a class the stylesheet colours (valid, invalid, succeeded, rolled_back …). */
export const badge = (word: string): Html => html`<span class="b b-${word.replace(/[^a-z_]/g, '')}">${word.replace(/_/g, ' ')}</span>`;

// ---------------------------------------------------------------------------------------------
// Chart

export interface Bar {
  label: string;
  value: number;
  href?: string;
  /** A status word: the bar takes its colour. */
  tone?: string;
  title?: string;
}

/** A horizontal bar chart in inline SVG (no script, no library): one bar per point, value at its end. */
export function barChart(title: string, bars: readonly Bar[], format: (v: number) => string): Html {
  if (bars.length === 0) return html`<p class="muted">${title}: nothing recorded yet.</p>`;
  const rowH = 22;
  const labelW = 230;
  const barW = 420;
  const width = labelW + barW + 110;
  const height = bars.length * rowH + 8;
  const max = Math.max(...bars.map((b) => b.value), 1e-9);
  const rows = bars.map((b, i) => {
    const y = i * rowH + 4;
    const w = Math.max(2, (b.value / max) * barW);
    const label = b.label.length > 34 ? `${b.label.slice(0, 33)}…` : b.label;
    const bar = html`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 6}" class="bar b-${(b.tone ?? '').replace(/[^a-z_]/g, '')}"
      ><title>${b.title ?? `${b.label}: ${format(b.value)}`}</title></rect
    >`;
    const text = html`<text x="${labelW - 6}" y="${y + rowH - 10}" text-anchor="end">${label}</text
      ><text x="${labelW + w + 6}" y="${y + rowH - 10}">${format(b.value)}</text>`;
    return b.href ? html`<a href="${b.href}">${bar}${text}</a>` : html`${bar}${text}`;
  });
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <svg role="img" aria-label="${title}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${rows}</svg>
  </figure>`;
}

// ---------------------------------------------------------------------------------------------
// Layout

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#667;--bg:#fff;--line:#d8dde3;--accent:#1a66d2;--ok:#1e8e3e;--bad:#c5221f;--warn:#b06000;--info:#5f6b7a}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ee;--muted:#9aa4b1;--bg:#14171b;--line:#2c3440;--accent:#7fb0ff}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:18px;align-items:center;padding:10px 20px;border-bottom:1px solid var(--line)}
header strong{font-size:16px}header nav a{margin-right:14px}#live{margin-left:auto;color:var(--muted);font-size:12px}
main{padding:16px 20px 40px;max-width:1280px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:22px 0 8px}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
table{border-collapse:collapse;width:100%;margin:6px 0 14px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:var(--muted)}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{color:var(--muted)}dd{margin:0}
.b{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600;border:1px solid currentColor}
.b-valid,.b-succeeded,.b-running,.b-done{color:var(--ok)}.b-invalid,.b-failed,.b-rolled_back,.b-error{color:var(--bad)}
.b-rolling_back,.b-validating,.b-caching,.b-applying,.b-progressing,.b-pending,.b-creating,.b-started,.b-planned,.b-warning{color:var(--warn)}
.b-superseded,.b-incomplete,.b-skipped,.b-disabled,.b-absent,.b-paused,.b-unknown{color:var(--info)}
ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid var(--line)}ol.timeline li{padding:4px 0 10px 14px;position:relative}
ol.timeline li::before{content:"";position:absolute;left:-8px;top:9px;width:11px;height:11px;border-radius:50%;background:var(--bg);border:2px solid var(--accent)}
.slot{border:1px dashed var(--line);padding:8px 12px;border-radius:6px;margin:8px 0}
figure.chart{margin:8px 0 16px}figure.chart figcaption{color:var(--muted);font-size:12px;margin-bottom:4px}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}rect.bar{fill:var(--accent)}rect.b-succeeded{fill:var(--ok)}rect.b-rolled_back,rect.b-failed{fill:var(--bad)}rect.b-rolling_back,rect.b-progressing,rect.b-applying,rect.b-caching{fill:var(--warn)}
.changes li{margin:2px 0}form.inline{display:inline}
`;

/** Polls the page with its ETag; a changed page replaces <main> in place (no reload). */
const SCRIPT = `(()=>{const m=document.querySelector('main');if(!m)return;let tag=m.dataset.etag;const every=Number(m.dataset.poll||5)*1000;const live=document.getElementById('live');
const tick=async()=>{try{const r=await fetch(location.href,{headers:{'x-ferry-fragment':'1','if-none-match':tag},cache:'no-store',credentials:'same-origin'});
if(r.status===200){m.innerHTML=await r.text();tag=r.headers.get('etag')||tag;m.dataset.etag=tag;live.textContent='updated '+new Date().toLocaleTimeString();}
else if(r.status===304){live.textContent='live · checked '+new Date().toLocaleTimeString();}
else if(r.status===401){live.textContent='signed out: reload to sign in again';return;}}catch(e){live.textContent='offline: retrying';}
setTimeout(tick,every);};setTimeout(tick,every);})();`;

const sha256b64 = (s: string): string => createHash('sha256').update(s).digest('base64');
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${sha256b64(STYLE)}'`,
  `script-src 'sha256-${sha256b64(SCRIPT)}'`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The ETag of a page: a digest of what <main> holds. */
export const etagOf = (main: string): string => `W/"${createHash('sha256').update(main).digest('base64url').slice(0, 27)}"`;

export interface Layout {
  title: string;
  main: Html;
  etag: string;
  pollSeconds: number;
  who: string | null;
}

export function page(l: Layout): string {
  const nav = [
    a(links.models(), 'Models'),
    a(links.targets(), 'Targets'),
    a(links.caches(), 'Caches'),
    a(links.teardown(), 'Teardown'),
    a(links.rejected(), 'Rejected requests'),
  ];
  // The <style> and <script> bodies are byte for byte what CONTENT_SECURITY_POLICY hashes: they are
  // joined here as plain strings (prettier reformats the insides of html`` templates).
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    html`<title>${l.title} · ferry</title>`.s +
    `<style>${STYLE}</style></head><body>` +
    html`<header>
      <strong>ferry</strong>
      <nav>${nav}</nav>
      <span id="live">${l.who ? `signed in as ${l.who} · ` : ''}live</span>
    </header>`.s +
    html`<main data-etag="${l.etag}" data-poll="${l.pollSeconds}">${l.main}</main>`.s +
    `<script>${SCRIPT}</script></body></html>`
  );
}

/** A page for errors (401, 404 …): a code and what to do, never a stack trace. */
export function errorPage(status: number, code: string, message: string, hint: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    html`<title>${status} · ferry</title>`.s +
    `<style>${STYLE}</style></head><body>` +
    html`<main>
      <h1>${status}: ${message}</h1>
      <p><code>${code}</code></p>
      <p>${hint}</p>
    </main>`.s +
    `</body></html>`
  );
}

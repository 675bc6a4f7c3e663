/**
 * What the Run:ai Model Streamer's `list_safetensors(gs://…)` returns (pure), per streamer version
 * (docs/UPSTREAM.md V2, V3):
 *  - the path gets a trailing `/` (runai-model-streamer@0.15.2:py/runai_model_streamer_gcs/
 *    runai_model_streamer_gcs/files/files.py#L16-17);
 *  - 0.14.0–0.15.3 list `bucket.list_blobs(prefix=…)` with no delimiter: every object under the
 *    prefix, at any depth (files.py#L55-57); 0.15.4 and later pass `delimiter='/'`: top level only;
 *  - names ending in `/` are dropped (`_filter_ignore(paths, ["*\/"])`), then `fnmatch(name,
 *    "*.safetensors")` on the whole object name, where `*` also matches `/` and case matters on Linux;
 *  - the result is `gs://bucket/name` in listing order (GCS lists names in lexicographic order).
 */

/** Streamer version of the pinned GPU image: inferred from release dates (docs/UPSTREAM.md M6). */
export const DEFAULT_STREAMER_VERSION = '0.15.0';

export interface GsPath {
  bucket: string;
  /** Object-name prefix, always ending in `/` (the streamer adds it). */
  prefix: string;
}

export function parseGsPath(uri: string): GsPath | null {
  const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m || !m[1]) return null;
  const rest = m[2] ?? '';
  return { bucket: m[1], prefix: rest === '' || rest.endsWith('/') ? rest : `${rest}/` };
}

/** True for streamer versions that list only the top level of the prefix (≥ 0.15.4). */
export function listsTopLevelOnly(version: string): boolean {
  const [maj = 0, min = 0, pat = 0] = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  return maj > 0 || min > 15 || (min === 15 && pat >= 4);
}

/** `fnmatch.fnmatch(name, "*.safetensors")` on POSIX. */
export const matchesSafetensors = (name: string): boolean => name.endsWith('.safetensors');

/**
 * The object names the streamer streams, from the names GCS lists under `prefix` without a
 * delimiter (in GCS order). With a top-level-only streamer the deeper names are left out, as
 * `delimiter='/'` would have returned them as prefixes instead of items.
 */
export function streamerListing(names: readonly string[], prefix: string, version: string): string[] {
  const topOnly = listsTopLevelOnly(version);
  return names.filter((n) => {
    if (!n.startsWith(prefix) || n.endsWith('/')) return false;
    if (topOnly && n.slice(prefix.length).includes('/')) return false;
    return matchesSafetensors(n);
  });
}

/**
 * humanize.naturalsize(n, binary=True), which the streamer's log line uses for sizes and rates
 * (python-humanize src/humanize/filesize.py `naturalsize`: "%d Byte(s)" below 1024, else "%.1f" and
 * a binary suffix, bumping the unit when rounding reaches 1024).
 */
export function naturalsizeBinary(bytes: number): string {
  const labels = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB', 'RiB', 'QiB'];
  const abs = Math.abs(bytes);
  if (abs === 1) return `${Math.trunc(bytes)} Byte`;
  if (abs < 1024) return `${Math.trunc(bytes)} Bytes`;
  let power = Math.trunc(Math.min(Math.log(abs) / Math.log(1024), labels.length));
  if (power < labels.length && Math.abs(Number((abs / 1024 ** power).toFixed(1))) >= 1024) power += 1;
  return `${(bytes / 1024 ** power).toFixed(1)} ${labels[power - 1]}`;
}

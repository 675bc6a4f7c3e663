/**
 * What a simulated vLLM answers (pure): deterministic completion text, OpenAI response bodies, and
 * the Prometheus text of `/metrics` with vLLM's metric names.
 *
 * Metric names and labels: vLLM V1's `PrometheusStatLogger` (vllm/v1/metrics/loggers.py, docs/UPSTREAM.md
 * V15): gauges `vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc`
 * and counters `vllm:prompt_tokens`, `vllm:generation_tokens`, `vllm:request_success` (the
 * `finished_reason` label on the last), all labelled `model_name` (the first served name) and
 * `engine`; prometheus_client exposes a counter `x` as `x_total` (plus `x_created`).
 */
import { createHash } from 'node:crypto';

/** A small fixed vocabulary: text is these words, chosen by hashing (digest, prompt, position). */
const WORDS = (
  'the of and to in is was for on that with as by at from it an be this are which or has had not but ' +
  'river stone light weight tensor ferry harbor signal model north quiet early bright shard stream ' +
  'cloud bucket engine token crossing pilot anchor current evening morning bridge lantern'
).split(' ');

/** Token count of a text: whitespace-separated pieces (a simulation, not a tokenizer). */
export const countTokens = (text: string): number => text.split(/\s+/).filter(Boolean).length;

/** The completion of `prompt` by the weights with digest `weightsDigest`: a pure function of both. */
export function completionText(weightsDigest: string, prompt: string, maxTokens: number): string {
  const out: string[] = [];
  let state = createHash('sha256').update(weightsDigest).update('\0').update(prompt).digest();
  for (let i = 0; i < maxTokens; i++) {
    out.push(WORDS[state.readUInt32BE(0) % WORDS.length]!);
    state = createHash('sha256').update(state).digest();
  }
  return ' ' + out.join(' ');
}

/** The prompt vLLM's chat template would build, simplified: role-tagged messages, then the assistant turn. */
export function chatPrompt(messages: ReadonlyArray<{ role?: unknown; content?: unknown }>): string {
  return (
    messages
      .map((m) => {
        const content =
          typeof m.content === 'string'
            ? m.content
            : Array.isArray(m.content)
              ? m.content.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join('')
              : '';
        return `<|${String(m.role ?? 'user')}|>\n${content}`;
      })
      .join('\n') + '\n<|assistant|>\n'
  );
}

export interface MetricsState {
  modelName: string;
  running: number;
  waiting: number;
  kvCacheUsage: number;
  promptTokens: number;
  generationTokens: number;
  /** Finished requests by finished_reason (`stop`, `length`, `abort`). */
  success: Record<string, number>;
  /** Unix seconds when the counters were created. */
  createdAt: number;
}

const labelValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const num = (v: number): string => (Number.isInteger(v) ? `${v}.0` : String(v));

/** Prometheus text exposition format 0.0.4, as prometheus_client writes it. */
export function renderMetrics(s: MetricsState): string {
  const base = `model_name="${labelValue(s.modelName)}",engine="0"`;
  const lines: string[] = [];
  const gauge = (name: string, help: string, v: number): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}{${base}} ${num(v)}`);
  };
  const counter = (name: string, help: string, series: Array<[string, number]>): void => {
    lines.push(`# HELP ${name}_total ${help}`, `# TYPE ${name}_total counter`);
    for (const [extra, v] of series) lines.push(`${name}_total{${base}${extra}} ${num(v)}`);
    lines.push(`# HELP ${name}_created ${help}`, `# TYPE ${name}_created gauge`);
    for (const [extra] of series) lines.push(`${name}_created{${base}${extra}} ${num(s.createdAt)}`);
  };
  gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', s.running);
  gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', s.waiting);
  gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', s.kvCacheUsage);
  counter('vllm:prompt_tokens', 'Number of prefill tokens processed.', [['', s.promptTokens]]);
  counter('vllm:generation_tokens', 'Number of generation tokens processed.', [['', s.generationTokens]]);
  counter(
    'vllm:request_success',
    'Count of successfully processed requests.',
    ['stop', 'length', 'abort'].map((r) => [`,finished_reason="${r}"`, s.success[r] ?? 0]),
  );
  return lines.join('\n') + '\n';
}

/** vLLM's log line prefix: `INFO 12-06 13:45:01 [file.py:123] ` (vllm/logger.py _FORMAT). */
export function vllmLogLine(level: 'INFO' | 'WARNING' | 'ERROR', where: string, message: string, now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const ts = `${p(now.getUTCMonth() + 1)}-${p(now.getUTCDate())} ${p(now.getUTCHours())}:${p(now.getUTCMinutes())}:${p(now.getUTCSeconds())}`;
  return `${level} ${ts} [${where}] ${message}`;
}

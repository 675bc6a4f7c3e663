/**
 * Try `/ferry …` against the local stack without Slack: signs the command with the stack's signing
 * secret (as Slack would), POSTs it to the slackCommand function, and prints the immediate answer
 * and every message the worker posts to a response_url served here on 127.0.0.1.
 *
 *   ./node_modules/.bin/node infra/local/slack.ts 'status'
 *   ./node_modules/.bin/node infra/local/slack.ts 'deploy llama@latest to local/ml/llama accelerator=nvidia-l4'
 *   ./node_modules/.bin/node infra/local/slack.ts --user UINTRUDER 'rollback local/ml/llama'
 *
 * Reads FERRY_SLACK_URL and FERRY_SLACK_SIGNING_SECRET from the environment or .ferry/local.env
 * (written by `npm start`). Waits for the final message (or --wait seconds, default 120).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { REPO_ROOT } from './stack.ts';
import { readLocalEnv, mergeEnv } from '../../shared/config.ts';
import { slackSignature } from '../../shared/domain/slack.ts';
import type { ChatMessage } from '../../shared/domain/chat-blocks.ts';

const args = process.argv.slice(2);
let user = 'ULOCALDEV';
let channel = 'C0LOCAL';
let waitSeconds = 120;
const words: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--user') user = args[++i] ?? user;
  else if (a === '--channel') channel = args[++i] ?? channel;
  else if (a === '--wait') waitSeconds = Number(args[++i] ?? waitSeconds);
  else words.push(a);
}
const text = words.join(' ');
const env = mergeEnv(process.env, readLocalEnv(REPO_ROOT));
const url = env['FERRY_SLACK_URL'];
const secret = env['FERRY_SLACK_SIGNING_SECRET'];
if (!url || !secret) {
  process.stderr.write('ferry slack: FERRY_SLACK_URL / FERRY_SLACK_SIGNING_SECRET are not set; start the local stack first (npm start).\n');
  process.exit(2);
}

/** Plain text of a Block Kit message, roughly as Slack shows it. */
function show(m: ChatMessage): string {
  const parts: string[] = [];
  for (const b of m.blocks ?? []) {
    if (b.type === 'header') parts.push(`== ${b.text.text} ==`);
    else if (b.type === 'section') {
      if (b.text) parts.push(b.text.text);
      if (b.fields) parts.push(b.fields.map((f) => f.text.replace('\n', ': ')).join(' | '));
    } else if (b.type === 'context') parts.push(b.elements.map((e) => e.text).join(' '));
  }
  return `[${m.response_type ?? 'ephemeral'}] ${parts.length ? parts.join('\n') : m.text}`;
}

/** Messages after which nothing more will come for this command. */
const isFinal = (m: ChatMessage): boolean => !/^(Rollout started|Rollout queued|Deploy request for .* published)/.test(m.text);

let resolveDone: () => void = () => undefined;
const done = new Promise<void>((r) => (resolveDone = r));
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    res.end('ok');
    const m = JSON.parse(body) as ChatMessage;
    process.stdout.write(`\n--- posted to response_url ---\n${show(m)}\n`);
    if (isFinal(m)) resolveDone();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const form = new URLSearchParams({
  team_id: 'T0LOCAL',
  team_domain: 'local',
  channel_id: channel,
  channel_name: 'local',
  user_id: user,
  user_name: 'local-dev',
  command: '/ferry',
  text,
  response_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/reply`,
  trigger_id: randomUUID(),
}).toString();
const ts = String(Math.floor(Date.now() / 1000));
const res = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature(secret, ts, form) },
  body: form,
});
const answer = await res.text();
process.stdout.write(`--- HTTP ${res.status} ---\n${res.ok && answer ? show(JSON.parse(answer) as ChatMessage) : answer}\n`);
const queued = res.ok && /^Working on/.test((JSON.parse(answer || '{}') as { text?: string }).text ?? '');
if (queued) {
  const timer = setTimeout(() => {
    process.stdout.write(`\n(no final message within ${waitSeconds} s; see .ferry/stack/logs/functions.log)\n`);
    resolveDone();
  }, waitSeconds * 1000);
  await done;
  clearTimeout(timer);
}
server.close();

/**
 * `npm run soak [-- <scenario|group>…]`: a bounded fault-injection run over the local stack (issue
 * #23). Every scenario is bounded in count and time, everything stays on 127.0.0.1. Uses the
 * running `npm start` stack (.ferry/stack.json), or starts one on free ports. Prints, and writes to
 * .ferry/soak-results.json, per scenario: tried / held / lost / duplicated / stuck.
 *
 *   held: answered as designed (acked, or refused with its reason); lost: an event or request whose
 *   effect never showed; duplicated: work done twice (a second validation of one content, a second
 *   rollout for one request); stuck: still not settled when the scenario's time ran out.
 *
 * The scenarios live in infra/local/soak/, one module per group; `--help` lists them.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { REPO_ROOT, runningStack, startStack, type Stack } from './stack.ts';
import { SoakContext, say, type Figures, type Scenario } from './soak/context.ts';
import { duplicateStorm, twoVersions, hostileHeader, malformedCloudEvents, deliveryOverSoak } from './soak/storage-events.ts';
import { deployDuplicates, deployBurst, deployInFlight, deployRefusals, hostilePushes } from './soak/deploys.ts';
import { hostileNames, hugeBodies, hostileSlack } from './soak/hostile.ts';
import { loadBusy } from './soak/load.ts';
import { hostKillUpload, hostKillRollout, firestoreDies, pubsubDies, controlPlaneDies } from './soak/restarts.ts';

/** In the order they run. The delivery figures come last: they sum up the whole run. */
export const SCENARIOS: readonly Scenario[] = [
  duplicateStorm,
  twoVersions,
  hostileHeader,
  malformedCloudEvents,
  deployDuplicates,
  deployBurst,
  deployInFlight,
  deployRefusals,
  hostilePushes,
  hostileNames,
  hugeBodies,
  hostileSlack,
  loadBusy,
  hostKillUpload,
  hostKillRollout,
  firestoreDies,
  pubsubDies,
  controlPlaneDies,
  deliveryOverSoak,
];

/** The scenarios the arguments name (by name or group, in SCENARIOS order); all when none. */
export function pickScenarios(args: readonly string[], all: readonly Scenario[] = SCENARIOS): Scenario[] {
  if (!args.length) return [...all];
  const known = new Set(all.flatMap((s) => [s.name, s.group]));
  const unknown = args.filter((a) => !known.has(a));
  if (unknown.length) {
    throw new Error(`unknown scenario${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Run \`npm run soak -- --help\` to list them.`);
  }
  return all.filter((s) => args.includes(s.name) || args.includes(s.group));
}

export function usage(all: readonly Scenario[] = SCENARIOS): string {
  const groups = [...new Set(all.map((s) => s.group))];
  const lines = ['usage: npm run soak [-- <scenario|group>…]   (no argument: every scenario, in this order)', ''];
  for (const g of groups) {
    lines.push(`${g}:`);
    for (const s of all.filter((x) => x.group === g)) lines.push(`  ${s.name.padEnd(22)} ${s.what}`);
  }
  return lines.join('\n') + '\n';
}

export function table(results: readonly Figures[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return (
    '| scenario | tried | held | lost | duplicated | stuck | note |\n|---|---|---|---|---|---|---|\n' +
    results.map((r) => `| ${esc(r.scenario)} | ${r.tried} | ${r.held} | ${r.lost} | ${r.duplicated} | ${r.stuck} | ${esc(r.note)} |\n`).join('')
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage());
    return;
  }
  let picked: Scenario[];
  try {
    picked = pickScenarios(args);
  } catch (e) {
    process.stderr.write(`ferry soak: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const rec = runningStack();
  let own: Stack | undefined;
  let env: Record<string, string>;
  if (rec) {
    env = rec.env;
    say(`using the running stack (pid ${rec.pid})`);
  } else {
    say('no running stack: starting one on free ports…');
    own = await startStack({ dir: join(REPO_ROOT, '.ferry', 'soak'), ports: 'free', envFile: null, scheduleEverySeconds: 3, log: () => undefined });
    env = own.env;
  }
  const ctx = new SoakContext(env);
  const results: Figures[] = [];
  for (const s of picked) {
    const t0 = Date.now();
    say(`${s.name}: ${s.what}`);
    try {
      results.push(...(await s.run(ctx)));
    } catch (e) {
      // A scenario that could not finish is a finding, not a reason to drop the others.
      results.push({
        scenario: s.name,
        tried: 1,
        held: 0,
        lost: 0,
        duplicated: 0,
        stuck: 1,
        note: `the scenario failed: ${String((e as Error).message ?? e).slice(0, 300)}`,
      });
    }
    say(`${s.name}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  await ctx.close();
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg() },
    scenarios: picked.map((s) => s.name),
    results,
  };
  mkdirSync(join(REPO_ROOT, '.ferry'), { recursive: true });
  writeFileSync(join(REPO_ROOT, '.ferry', 'soak-results.json'), JSON.stringify(out, null, 2));
  process.stdout.write(table(results));
  await own?.stop();
  const failed = results.some((r) => r.lost || r.duplicated || r.stuck || r.held < r.tried);
  process.exit(failed ? 1 : 0);
}

if (import.meta.main) await main();

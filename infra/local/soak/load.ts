/**
 * Load: 50+ concurrent deliveries to one function, each answered within its deadline, while two
 * nice'd child processes keep both cores busy. The burners stop themselves after their budget and
 * are killed when the scenario ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cleanAnswer, percentile, uid, type Figures, type HttpAnswer, type Scenario } from './context.ts';
import { validModel, request } from './deploys.ts';
import { replyServer, signedSlack, slashForm } from './hostile.ts';
import { SOAK_NS } from './context.ts';

/** `n` processes spinning for at most `ms` (each also ends itself then), at nice 10. */
export function burnCpu(n: number, ms: number): { stop: () => void } {
  const kids: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const k = spawn('nice', ['-n', '10', process.execPath, '-e', `const end = Date.now() + ${ms}; let x = 0; while (Date.now() < end) x++;`], {
      stdio: 'ignore',
    });
    kids.push(k);
  }
  return {
    stop: () => {
      for (const k of kids) if (k.pid && k.exitCode === null) k.kill('SIGKILL');
    },
  };
}

const figures = (scenario: string, answers: HttpAnswer[], deadlineMs: number, extra = ''): Figures => {
  const inTime = answers.filter((a) => a.status >= 200 && a.status < 300 && a.ms <= deadlineMs && cleanAnswer(a)).length;
  const ms = answers.map((a) => a.ms);
  const statuses = [...new Set(answers.filter((a) => a.status < 200 || a.status >= 300).map((a) => a.status))];
  return {
    scenario,
    tried: answers.length,
    held: inTime,
    lost: answers.filter((a) => a.status === 0 || a.status >= 300).length,
    duplicated: 0,
    stuck: answers.filter((a) => a.status >= 200 && a.status < 300 && a.ms > deadlineMs).length,
    note: `deadline ${deadlineMs / 1000} s; p50 ${percentile(ms, 50)} ms, p95 ${percentile(ms, 95)} ms, max ${Math.max(...ms)} ms${statuses.length ? `; non-2xx ${statuses.join(',')}` : ''}${extra}`,
  };
};

export const loadBusy: Scenario = {
  name: 'load',
  group: 'load',
  what: '60 concurrent deliveries each to onCheckpointUpload, onDeployRequest and slackCommand with both cores busy',
  async run(ctx) {
    const N = 60;
    const model = await validModel(ctx);
    const files = await ctx.bucket.getFiles({ prefix: `models/${model}/v1/` });
    const cfg = files[0].find((f) => f.name.endsWith('config.json'))!;
    const ns = `${SOAK_NS}-load-${uid()}`;
    const reply = await replyServer();
    const out: Figures[] = [];
    const burner = burnCpu(2, 240_000);
    try {
      await new Promise((r) => setTimeout(r, 2000)); // let the burners take the cores
      // 1. Late finalize events for a version already valid (distinct event ids): each a fast skip.
      // Deadline: the function's timeout (infra/functions.tf on-checkpoint-upload: 540 s).
      {
        const body = JSON.stringify({
          bucket: ctx.env['FERRY_BUCKET'],
          name: cfg.name,
          generation: String(cfg.metadata.generation),
          size: '1',
          metageneration: '1',
        });
        const answers = await Promise.all(Array.from({ length: N }, (_, i) => ctx.postUpload(ctx.ceHeaders(`load-${uid()}-${i}`, cfg.name), body, 600_000)));
        out.push(figures(`load: ${N} concurrent late finalize events, cores busy`, answers, 540_000));
      }
      // 2. Deploy pushes with distinct message ids and one spec: one rollout, the rest duplicates.
      // Deadline: the function's timeout (infra/functions.tf on-deploy-request: 240 s).
      {
        const req = request(model, ns, 'load');
        const answers = await Promise.all(Array.from({ length: N }, () => ctx.pushDeploy(ctx.pushBody(`load-${uid()}`, req), 300_000)));
        const rollouts = await ctx.settledRollouts(`local~${ns}~load`, 180_000);
        out.push(figures(`load: ${N} concurrent deploy pushes (one spec), cores busy`, answers, 240_000, `; rollouts ${rollouts.rollouts.length}`));
        if (rollouts.rollouts.length > 1) out.at(-1)!.duplicated = rollouts.rollouts.length - 1;
      }
      // 3. Signed slash commands at once. Deadline: Slack's 3 s for the answer (infra/functions.tf slack-command).
      {
        const answers = await Promise.all(
          Array.from({ length: N }, () => {
            const b = slashForm(`status ${model}`, { responseUrl: reply.url });
            return ctx.postSlack(b, signedSlack(ctx, b));
          }),
        );
        out.push(figures(`load: ${N} concurrent signed /ferry status, cores busy`, answers, 3000));
      }
    } finally {
      burner.stop();
      reply.close();
    }
    await ctx.dropNamespace(ns);
    return out;
  },
};

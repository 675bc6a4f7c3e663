/** The console's batched reads on the memory fakes (the Firestore adapters: test/integration/console-reads.test.ts). */
import { test } from 'node:test';
import { MemoryCheckpointState } from '../../helpers/memory.ts';
import { FakeRollouts } from '../../helpers/chat-fakes.ts';
import { checkConsoleReads } from '../../helpers/console-reads-contract.ts';

test('memory fakes: version briefs, sizes of some versions and rollouts by id, each in one call', async () => {
  const versions = new MemoryCheckpointState();
  const rollouts = new FakeRollouts();
  await checkConsoleReads(
    {
      versions,
      rollouts,
      seed: async (d) => {
        for (const v of d.versions) versions.versions.set(`${v.model}/${v.version}`, v);
        for (const r of d.rollouts) rollouts.rollouts.set(r.id, r);
      },
    },
    'mem',
  );
});

/** GCS finalize (Eventarc) → handleCheckpointUpload. Thin: decode, wire, call. */
import * as ff from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { runEvent, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/functions.ts')).uploadDeps);

export async function onCheckpointUpload(ce: CloudEvent<unknown>): Promise<void> {
  await runEvent('onCheckpointUpload', ce, async (log) => {
    const [{ StorageFinalizedEvent, describeIssues }, { handleCheckpointUpload }] = await Promise.all([
      import('../shared/domain/events.ts'),
      import('../shared/app/checkpoint-upload.ts'),
    ]);
    const parsed = StorageFinalizedEvent.safeParse(ce);
    if (!parsed.success) {
      log.error('malformed storage event; dropped', { code: 'EVENT_INVALID', issues: describeIssues(parsed.error) });
      return { outcome: 'malformed' };
    }
    const d = await deps();
    return handleCheckpointUpload(parsed.data, { ...d, logger: log });
  });
}

ff.cloudEvent('onCheckpointUpload', onCheckpointUpload);

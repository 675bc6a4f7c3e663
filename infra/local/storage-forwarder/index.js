// DEV ONLY — never deployed. Runs inside the Firebase Functions emulator started by
// infra/local/emulators.ts.
//
// Why it exists: the Firebase Storage emulator only dispatches object events to a Functions
// emulator in the same firebase process, and that emulator only loads firebase-functions code. ferry's
// real upload handler is a plain functions-framework function, so this forwarder receives each
// finalize event and re-sends it, as Eventarc would deliver it to a Cloud Functions gen2 function, to
// FERRY_UPLOAD_FUNCTION_URL as a binary-mode CloudEvent (ce-* headers, body = object metadata).
//
// The bucket is a firebase-functions param (read from the .env file emulators.ts writes into the
// generated config dir): trigger discovery runs in a child process that does not see firebase's own
// environment, so `process.env.FERRY_BUCKET` would be undefined at discovery time.
//
// firebase-functions / firebase-admin resolve from the repository's root node_modules (normal Node
// resolution walks up from this directory); this codebase has no node_modules of its own — do not
// run npm install here. package.json still lists them under "dependencies" because the emulator's
// runtime refuses to install its firebase-admin/firebase-functions stubs for modules the codebase
// does not declare (it logs "requires the module firebase-admin to be installed").
import { onObjectFinalized } from 'firebase-functions/v2/storage';
import { defineString } from 'firebase-functions/params';
import { logger } from 'firebase-functions';

const bucket = defineString('FERRY_BUCKET', { description: 'bucket whose finalize events are forwarded' });

/** int64 fields arrive as JSON strings from GCS/Eventarc; keep them that way whatever we got. */
function asString(v) {
  return v === undefined || v === null ? v : String(v);
}

// 540 s: the gen2 event-driven maximum, so a slow upload handler is not cut off by the default 60 s.
export const ferryStorageForwarder = onObjectFinalized({ bucket, timeoutSeconds: 540 }, async (event) => {
  const url = process.env.FERRY_UPLOAD_FUNCTION_URL;
  const data = { ...event.data };
  for (const k of ['size', 'generation', 'metageneration']) {
    if (k in data) data[k] = asString(data[k]);
  }
  const name = data.name;
  const objectBucket = data.bucket ?? event.bucket;
  if (!url) {
    logger.warn(`ferry-forwarder: FERRY_UPLOAD_FUNCTION_URL unset; dropping gs://${objectBucket}/${name}#${data.generation}`);
    return;
  }
  const headers = {
    'ce-id': String(event.id),
    'ce-specversion': '1.0',
    'ce-type': 'google.cloud.storage.object.v1.finalized',
    // The emulator puts the object path in source; Eventarc's source is the bucket only.
    'ce-source': `//storage.googleapis.com/projects/_/buckets/${objectBucket}`,
    'ce-subject': `objects/${name}`,
    'ce-time': event.time ?? new Date().toISOString(),
    'content-type': 'application/json',
  };
  const what = `gs://${objectBucket}/${name}#${data.generation}`;
  let res;
  try {
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(data), signal: AbortSignal.timeout(535_000) });
  } catch (e) {
    const cause = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(e);
    throw new Error(`ferry-forwarder: POST ${url} failed for ${what}: ${cause}`);
  }
  const text = await res.text().catch(() => '');
  logger.info(`ferry-forwarder: ${what} size=${data.size} -> ${url} ${res.status}`);
  if (!res.ok) {
    throw new Error(`ferry-forwarder: ${url} answered ${res.status} for gs://${objectBucket}/${name}: ${text.slice(0, 500)}`);
  }
});

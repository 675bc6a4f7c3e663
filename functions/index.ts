/**
 * The Cloud Functions entry module (package.json `main` after `npm run build`). Each import
 * registers one function with functions-framework; the SDKs each needs load on its first call.
 * Every function here must also be listed in ./manifest.ts (a test checks both ways).
 */
import './http-guard.ts'; // first: the body cap and the unreadable-body answers (see the file)
export { onCheckpointUpload } from './onCheckpointUpload.ts';
export { onDeployRequest } from './onDeployRequest.ts';
export { followRollout } from './followRollout.ts';
export { reconcileRollouts } from './reconcileRollouts.ts';
export { slackCommand } from './slackCommand.ts';
export { onChatCommand } from './onChatCommand.ts';
export { onDeployResult } from './onDeployResult.ts';
export { teardownIdle } from './teardownIdle.ts';
export { console } from './console.ts';

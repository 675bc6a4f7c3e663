/**
 * The deployed entry module (package.json `main`). Every Cloud Function runs as its own service,
 * where functions-framework starts with FUNCTION_TARGET naming that function: only its module is
 * loaded (its SDKs load on its first call), so a cold start does not pay for the others. With no
 * known target (functions-framework given `--target` as a flag, local tools) every function loads,
 * exactly as ./index.ts does. BENCHMARKS.md has the measured difference.
 */
// First: the body cap and the unreadable-body answers, before functions-framework builds its server.
import './http-guard.ts';
import type { FunctionName } from './manifest.ts';
import { functionTarget } from './env.ts';

const LOADERS = {
  onCheckpointUpload: () => import('./onCheckpointUpload.ts'),
  onDeployRequest: () => import('./onDeployRequest.ts'),
  followRollout: () => import('./followRollout.ts'),
  reconcileRollouts: () => import('./reconcileRollouts.ts'),
  slackCommand: () => import('./slackCommand.ts'),
  onChatCommand: () => import('./onChatCommand.ts'),
  onDeployResult: () => import('./onDeployResult.ts'),
  teardownIdle: () => import('./teardownIdle.ts'),
  console: () => import('./console.ts'),
} as const satisfies Record<FunctionName, () => Promise<unknown>>;

const target = functionTarget();
if (target !== undefined && Object.hasOwn(LOADERS, target)) await LOADERS[target as FunctionName]();
else await import('./index.ts');

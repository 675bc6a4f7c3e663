/**
 * `ferry render`: what a deploy request would apply, without side effects. The same steps as the
 * deploy path (app/rollouts.ts handleDeployRequest) up to the apply: resolve the version, size the
 * request from the checkpoint (serving-plan.ts resolveAccelerator), plan caches and render
 * (renderRollout). Not done: the cluster capacity check (it resizes node pools) and admission.
 */
import type { DeployRequest } from '../domain/deploy-request.ts';
import type { KubeObject } from '../domain/render.ts';
import { objectsToApply, type Rendered } from '../domain/rendered-spec.ts';
import type { VersionDoc } from '../domain/version.ts';
import type { CheckpointState } from '../ports/checkpoint-state.ts';
import type { Logger } from '../ports/logger.ts';
import type { CacheDeps } from './caches.ts';
import { renderRollout, resolveVersion } from './rollouts.ts';
import { resolveAccelerator } from '../domain/serving-plan.ts';

/** The rollout id rendered into a preview's annotations (a real rollout's derives from its message). */
export const PREVIEW_ROLLOUT_ID = 'preview';

export interface PreviewDeps {
  versions: CheckpointState;
  caches?: CacheDeps | undefined;
  serviceAccountName?: string | undefined;
  logger: Logger;
}

export type Preview =
  | {
      ok: true;
      /** The request as it would render: version resolved, accelerator chosen or checked. */
      request: DeployRequest;
      version: VersionDoc;
      rendered: Rendered;
      /** Every object, in apply order. */
      objects: KubeObject[];
      /** True when ferry chose the accelerator. */
      recommended: boolean;
      warnings: string[];
    }
  | { ok: false; reason: string; message: string };

export async function previewDeploy(request: DeployRequest, deps: PreviewDeps): Promise<Preview> {
  const resolved = await resolveVersion(request, deps.versions);
  if ('reason' in resolved) return { ok: false, reason: resolved.reason, message: resolved.message };
  const version = resolved.doc;
  const sized = resolveAccelerator(request, version.summary);
  if ('reject' in sized) return { ok: false, ...sized.reject };
  const warnings = [...sized.warnings];
  // Warnings the cache planner logs are part of the answer.
  const collecting = (base: Logger): Logger => ({
    debug: (m, f) => base.debug(m, f),
    info: (m, f) => base.info(m, f),
    warn: (m, f) => {
      warnings.push(m);
      base.warn(m, f);
    },
    error: (m, f) => base.error(m, f),
    child: (f) => collecting(base.child(f)),
  });
  const out = await renderRollout(sized.request, version, {
    rolloutId: PREVIEW_ROLLOUT_ID,
    caches: deps.caches,
    serviceAccountName: deps.serviceAccountName,
    logger: collecting(deps.logger),
  });
  if ('reject' in out) return { ok: false, ...out.reject };
  warnings.push(...out.rendered.warnings.map((w) => `render: ${w}`));
  return {
    ok: true,
    request: { ...sized.request, version: version.version },
    version,
    rendered: out.rendered,
    objects: objectsToApply(out.rendered),
    recommended: sized.recommended,
    warnings,
  };
}

/**
 * What the policy fixes in every rendered Pod, whatever the request: the service account from
 * configuration, no privilege escalation, no capabilities, no host namespaces, the default seccomp
 * profile. A request cannot even say otherwise: the request schema is strict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeployRequest } from '../../../shared/domain/deploy-request.ts';
import { render } from '../../../shared/domain/render.ts';
import { parseDeployRequest } from '../../../shared/domain/deploy-request.ts';

const base = {
  apiVersion: 'ferry/v1',
  model: 'llama',
  version: 'v1',
  target: { cluster: 'local', namespace: 'ml', name: 'llama' },
  accelerator: { type: 'nvidia-l4' },
  requestedBy: { source: 'cli', principal: 'alice' },
};

test('every rendered Pod runs with the fixed service account and security context', () => {
  for (const over of [
    {},
    { image: 'vllm/vllm-openai:v0.12.0', vllmArgs: ['--max-model-len=4096'] },
    { accelerator: { type: 'tpu-v6e-slice', topology: '2x4' } },
  ]) {
    const request = DeployRequest.parse({ ...base, ...over });
    const r = render({
      request,
      rolloutId: 'r-1',
      bucket: 'ferry-models',
      serviceAccountName: 'ferry-vllm-sa',
      checkpoint: { uri: 'gs://ferry-models/models/llama/v1', tensorBytes: 1e9, digest: 'sha256:' + '1'.repeat(64), shards: 1 },
    });
    const pod = r.deployment.spec!.template.spec!;
    assert.equal(pod.serviceAccountName, 'ferry-vllm-sa');
    assert.deepEqual([pod.hostNetwork, pod.hostPID, pod.hostIPC], [false, false, false]);
    assert.deepEqual(pod.securityContext, { seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of pod.containers) {
      assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } });
    }
  }
});

test('a request naming a service account, a security context or host namespaces is refused by the schema', () => {
  for (const extra of [{ serviceAccountName: 'admin' }, { securityContext: { privileged: true } }, { hostNetwork: true }, { hostPID: true }]) {
    const r = parseDeployRequest(JSON.stringify({ ...base, ...extra }));
    assert.equal(r.ok, false, JSON.stringify(extra));
    assert.equal(!r.ok && r.reason, 'SCHEMA');
  }
});

/**
 * What ferry needs from a Kubernetes cluster. Objects are plain JSON (rendered by
 * shared/domain/render.ts); the adapter applies them with server-side apply.
 */
import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';

export interface ClusterClient {
  /** Server-side apply (field manager `ferry`, forced) of a Deployment. Returns the live object. */
  applyDeployment(obj: V1Deployment): Promise<V1Deployment>;
  applyService(obj: V1Service): Promise<V1Service>;
  getDeployment(namespace: string, name: string): Promise<V1Deployment | undefined>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  scaleDeployment(namespace: string, name: string, replicas: number): Promise<void>;
  ensureNamespace(namespace: string): Promise<void>;
}

/** Resolves a target's `cluster` (`local` or a GKE resource name) to a client. */
export interface ClusterProvider {
  get(cluster: string): Promise<ClusterClient>;
}

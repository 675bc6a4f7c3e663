/**
 * What ferry needs from a Kubernetes cluster. Objects are plain JSON (rendered by
 * shared/domain/render.ts); the adapter applies them with server-side apply.
 */
import type { V1Deployment, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { KubeObject, KubeObjectRef } from '../domain/serving-profile.ts';

export interface ClusterClient {
  /** Server-side apply (field manager `ferry`, forced) of a Deployment. Returns the live object. */
  applyDeployment(obj: V1Deployment): Promise<V1Deployment>;
  applyService(obj: V1Service): Promise<V1Service>;
  getDeployment(namespace: string, name: string): Promise<V1Deployment | undefined>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  scaleDeployment(namespace: string, name: string, replicas: number): Promise<void>;
  ensureNamespace(namespace: string): Promise<void>;
  /** Nodes matching a label selector (e.g. `cloud.google.com/gke-accelerator=nvidia-l4`). */
  listNodes(labelSelector?: string): Promise<V1Node[]>;
  /**
   * Server-side apply (field manager `ferry`, forced) of any object: ComputeClass, PodMonitoring,
   * HPA, … An autoscaling/v2 HPA is applied as autoscaling/v2beta2 when the server has no v2
   * (Kubernetes < 1.23). Returns the live object. A kind the server does not know (its CRD is not
   * installed) is CLUSTER_API_MISSING, not retryable.
   */
  applyObject(obj: KubeObject): Promise<KubeObject>;
  /** Deletes an object; NotFound (object or kind) is success. */
  deleteObject(ref: KubeObjectRef): Promise<void>;
  /**
   * GET `path` on a pod's port through the API server's pod proxy
   * (`/api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH`), e.g. vLLM's `/metrics`. Optional: clients
   * without it (test fakes) mean "not reachable".
   */
  podProxyGet?(namespace: string, pod: string, port: number, path: string): Promise<string>;
  /**
   * Watches a target's workload: the Deployment `deployment` and the pods matching `podSelector` in
   * `namespace` (a list for the resourceVersion, then a watch from it, as informers do). Calls
   * `onChange` for every added, modified or deleted object, and `onEnd` once when the watch stops by
   * itself: null when the server or an idle timeout closed it, else the error (e.g. WATCH_EXPIRED for
   * 410 Gone). The caller re-lists (calls this again) to go on. Optional: clients without it (test
   * fakes, other clusters) are polled instead (shared/app/follow-deployment.ts).
   */
  watchWorkload?(namespace: string, deployment: string, podSelector: string, handlers: WorkloadWatchHandlers): Promise<WatchHandle>;
}

export interface WorkloadWatchHandlers {
  onChange(): void;
  onEnd(err: Error | null): void;
}

/** A running watch; stop() ends it without calling onEnd. */
export interface WatchHandle {
  stop(): void;
}

/** Resolves a target's `cluster` (`local` or a GKE resource name) to a client. */
export interface ClusterProvider {
  get(cluster: string): Promise<ClusterClient>;
}

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
   * POST a JSON body to `path` on a pod's port through the same pod proxy (the promotion gate's
   * prompts to `/v1/completions`). Any HTTP status comes back as it is (the caller tells the API
   * server's own `Status` errors from the pod's); network errors and the timeout throw
   * CLUSTER_UNAVAILABLE (retryable). The body read is capped at `maxBytes`.
   */
  podProxyPost?(
    namespace: string,
    pod: string,
    port: number,
    path: string,
    body: unknown,
    opts: { timeoutMs: number; maxBytes: number },
  ): Promise<{ status: number; body: string }>;
  /**
   * A container's log through the pod log API (`GET /api/v1/namespaces/NS/pods/POD/log`), from its
   * start (or the last `sinceSeconds`), at most `limitBytes` (default and cap READ_POD_LOG_MAX_BYTES,
   * 1 MiB, so a chatty pod cannot fill the function's memory). `timestamps`: each line starts with
   * an RFC3339(Nano) time and a space. The current container only (not `previous`). A pod that is
   * gone is CLUSTER_NOT_FOUND; a container not started yet is CLUSTER_UNAVAILABLE (retryable).
   * Optional: clients without it (test fakes) mean "no logs".
   */
  readPodLog?(namespace: string, pod: string, opts: ReadPodLogOptions): Promise<string>;
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

export interface ReadPodLogOptions {
  container?: string;
  limitBytes?: number;
  timestamps?: boolean;
  sinceSeconds?: number;
}

/** Default and upper bound of ReadPodLogOptions.limitBytes. */
export const READ_POD_LOG_MAX_BYTES = 1024 * 1024;

/** Resolves a target's `cluster` (`local` or a GKE resource name) to a client. */
export interface ClusterProvider {
  get(cluster: string): Promise<ClusterClient>;
}

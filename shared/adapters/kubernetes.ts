/**
 * Kubernetes adapter (@kubernetes/client-node 2.x). `local` uses the kubeconfig the local stack
 * writes; a GKE cluster is reached with its endpoint and CA from the GKE API and a fresh access
 * token from application default credentials (there is no gcloud auth plugin in Cloud Functions).
 */
import {
  KubeConfig,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  ApiException,
  KubernetesObjectApi,
  ApisApi,
  Watch,
  type V1Deployment,
  type V1Service,
  type V1Pod,
  type V1Node,
} from '@kubernetes/client-node';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { FerryError } from '../domain/errors.ts';
import { HPA_API_VERSION, HPA_FALLBACK_API_VERSION, type KubeObject, type KubeObjectRef } from '../domain/serving-profile.ts';
import {
  READ_POD_LOG_MAX_BYTES,
  type ClusterClient,
  type ClusterProvider,
  type ReadPodLogOptions,
  type WatchHandle,
  type WorkloadWatchHandlers,
} from '../ports/cluster.ts';

export const FIELD_MANAGER = 'ferry';
const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Turns an ApiException (or a network error) into a FerryError with a retryable flag. */
export function kubeError(e: unknown, what: string): FerryError {
  if (e instanceof FerryError) return e;
  if (e instanceof ApiException) {
    const status = e.code;
    const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      /* not JSON */
    }
    if (status === 401 || status === 403) {
      return new FerryError('CLUSTER_FORBIDDEN', `${what}: ${message}`, {
        cause: e,
        hint: "Grant ferry's identity the Kubernetes permissions it needs (on GKE: roles/container.clusterViewer and the ferry-deployer ClusterRole of Terraform's gke_rbac_manifest output; locally the same role).",
      });
    }
    if (status === 409) return new FerryError('CLUSTER_CONFLICT', `${what}: ${message}`, { cause: e, retryable: true });
    if (status === 422 || status === 400)
      return new FerryError('MANIFEST_REJECTED', `${what}: ${message}`, {
        cause: e,
        hint: 'The rendered manifest was refused by the API server; this is a ferry bug or an incompatible cluster version.',
      });
    if (status === 404) return new FerryError('CLUSTER_NOT_FOUND', `${what}: ${message}`, { cause: e });
    return new FerryError('CLUSTER_UNAVAILABLE', `${what}: HTTP ${status}: ${message}`, { cause: e, retryable: status === 429 || status >= 500 });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new FerryError('CLUSTER_UNAVAILABLE', `${what}: ${message}`, { cause: e, retryable: true });
}

/** What to do when the cluster does not serve a kind ferry renders. */
const MISSING_API_HINTS: Readonly<Record<string, string>> = {
  PodMonitoring: 'Enable Google Cloud Managed Service for Prometheus on the cluster (on by default since GKE 1.27), or deploy without autoscaling.',
  ComputeClass: 'Custom compute classes need GKE 1.30.3-gke.1451000 or later; or deploy without capacity.computeClass.',
  HorizontalPodAutoscaler: 'The cluster serves neither autoscaling/v2 nor autoscaling/v2beta2.',
};

/** KubernetesObjectApi's "this kind is not served" failures (discovery 404, or the group lacks the kind). */
function isMissingApi(e: unknown): boolean {
  if (e instanceof ApiException) return e.code === 404 && /Failed to fetch resource metadata/.test(String((e as Error).message));
  return e instanceof Error && /^Unrecognized API version and kind/.test(e.message);
}

const describeObject = (o: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } }): string =>
  `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'} (${o.apiVersion})`;

export class KubeClusterClient implements ClusterClient {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly objects: KubernetesObjectApi;
  private readonly apis: ApisApi;
  private served: Promise<ReadonlySet<string>> | undefined;
  private readonly kc: KubeConfig;
  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.apis = kc.makeApiClient(ApisApi);
  }

  /** Group versions the server serves (`autoscaling/v2`, …), discovered once per client. */
  private servedGroupVersions(): Promise<ReadonlySet<string>> {
    this.served ??= this.apis.getAPIVersions().then(
      (list) => new Set(list.groups.flatMap((g) => g.versions.map((v) => v.groupVersion))),
      (e: unknown) => {
        this.served = undefined;
        throw kubeError(e, 'discover API groups');
      },
    );
    return this.served;
  }

  /** autoscaling/v2 → autoscaling/v2beta2 on servers without v2 (Kubernetes < 1.23); everything else as is. */
  private async servedApiVersion(apiVersion: string, kind: string): Promise<string> {
    if (kind !== 'HorizontalPodAutoscaler' || apiVersion !== HPA_API_VERSION) return apiVersion;
    const served = await this.servedGroupVersions();
    return !served.has(HPA_API_VERSION) && served.has(HPA_FALLBACK_API_VERSION) ? HPA_FALLBACK_API_VERSION : apiVersion;
  }

  async applyObject(obj: KubeObject): Promise<KubeObject> {
    // KubernetesObjectApi fills in metadata/namespace on the object it is given: hand it a copy.
    const body = structuredClone(obj);
    body.apiVersion = await this.servedApiVersion(body.apiVersion, body.kind);
    const what = `apply ${describeObject(body)}`;
    try {
      const live = await this.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      return live as unknown as KubeObject;
    } catch (e) {
      if (isMissingApi(e)) {
        throw new FerryError('CLUSTER_API_MISSING', `${what}: the cluster does not serve ${body.apiVersion} ${body.kind}`, {
          cause: e,
          ...(MISSING_API_HINTS[body.kind] ? { hint: MISSING_API_HINTS[body.kind] } : {}),
        });
      }
      throw kubeError(e, what);
    }
  }

  async deleteObject(ref: KubeObjectRef): Promise<void> {
    const spec = {
      apiVersion: await this.servedApiVersion(ref.apiVersion, ref.kind),
      kind: ref.kind,
      metadata: { name: ref.name, ...(ref.namespace !== undefined ? { namespace: ref.namespace } : {}) },
    };
    try {
      await this.objects.delete(spec);
    } catch (e) {
      if (isMissingApi(e) || (e instanceof ApiException && e.code === 404)) return;
      throw kubeError(e, `delete ${describeObject(spec)}`);
    }
  }

  async applyDeployment(obj: V1Deployment): Promise<V1Deployment> {
    const { name, namespace } = meta(obj);
    try {
      return await this.apps.patchNamespacedDeployment({ name, namespace, body: obj, fieldManager: FIELD_MANAGER, force: true }, APPLY);
    } catch (e) {
      throw kubeError(e, `apply Deployment ${namespace}/${name}`);
    }
  }

  async applyService(obj: V1Service): Promise<V1Service> {
    const { name, namespace } = meta(obj);
    try {
      return await this.core.patchNamespacedService({ name, namespace, body: obj, fieldManager: FIELD_MANAGER, force: true }, APPLY);
    } catch (e) {
      throw kubeError(e, `apply Service ${namespace}/${name}`);
    }
  }

  async getDeployment(namespace: string, name: string): Promise<V1Deployment | undefined> {
    try {
      return await this.apps.readNamespacedDeployment({ name, namespace });
    } catch (e) {
      if (e instanceof ApiException && e.code === 404) return undefined;
      throw kubeError(e, `read Deployment ${namespace}/${name}`);
    }
  }

  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    try {
      return (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
    } catch (e) {
      throw kubeError(e, `list pods in ${namespace}`);
    }
  }

  async podProxyGet(namespace: string, pod: string, port: number, path: string): Promise<string> {
    try {
      const body: unknown = await this.core.connectGetNamespacedPodProxyWithPath({ name: `${pod}:${port}`, namespace, path: path.replace(/^\//, '') });
      // The generated client deserializes a JSON answer (vLLM's /v1/models) although its type says
      // string: give callers the text either way.
      return typeof body === 'string' ? body : JSON.stringify(body);
    } catch (e) {
      throw kubeError(e, `read ${path} of pod ${namespace}/${pod} through the API proxy`);
    }
  }

  /**
   * The generated client cannot send a body with a proxy call (CoreV1Api
   * connectPostNamespacedPodProxyWithPath has no body parameter, @kubernetes/client-node 2.0.1
   * dist/gen/apis/CoreV1Api.d.ts), so this is a plain request to the same path,
   * `/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}`, with the kubeconfig's credentials
   * (KubeConfig.applyToHTTPSOptions). RBAC: a POST is the `create` verb on `pods/proxy`
   * (kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb).
   */
  async podProxyPost(
    namespace: string,
    pod: string,
    port: number,
    path: string,
    body: unknown,
    opts: { timeoutMs: number; maxBytes: number },
  ): Promise<{ status: number; body: string }> {
    const what = `POST ${path} to pod ${namespace}/${pod} through the API proxy`;
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new FerryError('CLUSTER_UNAVAILABLE', `${what}: the kubeconfig names no cluster`);
    const url = new URL(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(`${pod}:${port}`)}/proxy/${path.replace(/^\//, '')}`,
      server,
    );
    const payload = Buffer.from(JSON.stringify(body));
    const options: RequestOptions = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': payload.length, accept: 'application/json' },
    };
    await this.kc.applyToHTTPSOptions(options);
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (message: string): void => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(new FerryError('CLUSTER_UNAVAILABLE', `${what}: ${message}`, { retryable: true }));
      };
      const req: ClientRequest = send(url, options, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > opts.maxBytes) return fail(`the answer is over ${opts.maxBytes} bytes`);
          chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => fail(e.message));
      });
      const timer = setTimeout(() => fail(`no answer within ${Math.round(opts.timeoutMs / 1000)}s`), opts.timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        fail(e.message);
      });
      req.end(payload);
    });
  }

  async readPodLog(namespace: string, pod: string, opts: ReadPodLogOptions): Promise<string> {
    const what = `read the log of ${opts.container ? `container ${opts.container} of ` : ''}pod ${namespace}/${pod}`;
    // core/v1 PodLogOptions (@kubernetes/client-node 2.0.1 CoreV1ApiReadNamespacedPodLogRequest):
    // limitBytes "the number of bytes to read from the server before terminating the log output";
    // timestamps "add an RFC3339 or RFC3339Nano timestamp at the beginning of every line".
    const limit = opts.limitBytes;
    const limitBytes = typeof limit === 'number' && Number.isInteger(limit) && limit > 0 ? Math.min(limit, READ_POD_LOG_MAX_BYTES) : READ_POD_LOG_MAX_BYTES;
    const since = opts.sinceSeconds;
    try {
      const text = await this.core.readNamespacedPodLog({
        name: pod,
        namespace,
        limitBytes,
        ...(opts.container ? { container: opts.container } : {}),
        ...(opts.timestamps ? { timestamps: true } : {}),
        ...(typeof since === 'number' && Number.isInteger(since) && since > 0 ? { sinceSeconds: since } : {}),
      });
      // The server may return "slightly more" than limitBytes (the field's own doc): cut to the cap.
      return Buffer.byteLength(text) > limitBytes ? Buffer.from(text).subarray(0, limitBytes).toString('utf8') : text;
    } catch (e) {
      // 400: the container has not started yet ("… is waiting to start: ContainerCreating") or is not
      // in the pod; neither is a rendered-manifest problem (kubeError's reading of 400).
      if (e instanceof ApiException && e.code === 400) {
        const ferr = kubeError(e, what);
        throw new FerryError('CLUSTER_UNAVAILABLE', ferr.message, { cause: e, retryable: true });
      }
      throw kubeError(e, what);
    }
  }

  /**
   * List, then watch from the list's resourceVersion (the Kubernetes API's list+watch contract:
   * kubernetes/website@0099629:content/en/docs/reference/using-api/api-concepts.md "Efficient
   * detection of changes": a watch whose resourceVersion is no longer kept fails with 410 Gone and
   * the client must re-list; "Watch bookmarks": allowWatchBookmarks, never at a fixed interval;
   * docs/UPSTREAM.md K14). Two streams: the Deployment (fieldSelector on its
   * name) and its pods (label selector). @kubernetes/client-node 2.0.1 `Watch.watch`
   * (dist/watch.js): calls back (type, object) per event line, `done(err)` once when the stream
   * closes, errs or stays idle for 30 s (its requestTimeoutMs), and resolves to an AbortController.
   */
  async watchWorkload(namespace: string, deployment: string, podSelector: string, handlers: WorkloadWatchHandlers): Promise<WatchHandle> {
    const fieldSelector = `metadata.name=${deployment}`;
    let lists;
    try {
      lists = await Promise.all([
        this.apps.listNamespacedDeployment({ namespace, fieldSelector }),
        this.core.listNamespacedPod({ namespace, labelSelector: podSelector }),
      ]);
    } catch (e) {
      throw kubeError(e, `list Deployment ${namespace}/${deployment} and its pods to watch them`);
    }
    const [deployments, pods] = lists;
    const controllers: AbortController[] = [];
    let ended = false;
    const end = (err: Error | null) => {
      if (ended) return;
      ended = true;
      for (const c of controllers) c.abort();
      handlers.onEnd(err);
    };
    const what = `watch Deployment ${namespace}/${deployment} and its pods`;
    const onEvent = (type: string, obj: unknown) => {
      if (ended || type === 'BOOKMARK') return;
      if (type === 'ERROR') {
        const st = (obj ?? {}) as { code?: number; reason?: string; message?: string };
        const expired = st.code === 410;
        return end(
          new FerryError(
            'CLUSTER_UNAVAILABLE',
            `${what}: ${expired ? 'resourceVersion expired (410 Gone)' : `HTTP ${st.code ?? '?'} ${st.reason ?? ''}`}: ${st.message ?? ''}`,
            {
              retryable: true,
              details: { status: st.code ?? null, reason: st.reason ?? null },
            },
          ),
        );
      }
      handlers.onChange();
    };
    const onDone = (err: unknown) => {
      if (!err) return end(null);
      const status = (err as { statusCode?: number }).statusCode;
      const message = err instanceof Error ? err.message : String(err);
      end(new FerryError('CLUSTER_UNAVAILABLE', `${what}: ${status ? `HTTP ${status} ` : ''}${message}`, { cause: err, retryable: true }));
    };
    const watch = new Watch(this.kc);
    const streams: Array<[string, Record<string, string | boolean>, string | undefined]> = [
      [`/apis/apps/v1/namespaces/${namespace}/deployments`, { fieldSelector }, deployments.metadata?.resourceVersion],
      [`/api/v1/namespaces/${namespace}/pods`, { labelSelector: podSelector }, pods.metadata?.resourceVersion],
    ];
    for (const [path, query, resourceVersion] of streams) {
      if (ended) break;
      let c: AbortController;
      try {
        c = await watch.watch(path, { ...query, allowWatchBookmarks: true, ...(resourceVersion ? { resourceVersion } : {}) }, onEvent, onDone);
      } catch (e) {
        ended = true;
        for (const o of controllers) o.abort();
        throw kubeError(e, what);
      }
      controllers.push(c);
      if (ended) c.abort();
    }
    return {
      stop: () => {
        ended = true;
        for (const c of controllers) c.abort();
      },
    };
  }

  async scaleDeployment(namespace: string, name: string, replicas: number): Promise<void> {
    try {
      await this.apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas } } }, MERGE);
    } catch (e) {
      throw kubeError(e, `scale Deployment ${namespace}/${name}`);
    }
  }

  async listNodes(labelSelector?: string): Promise<V1Node[]> {
    try {
      return (await this.core.listNode(labelSelector ? { labelSelector } : {})).items;
    } catch (e) {
      throw kubeError(e, 'list nodes');
    }
  }

  async ensureNamespace(namespace: string): Promise<void> {
    try {
      await this.core.readNamespace({ name: namespace });
    } catch (e) {
      if (!(e instanceof ApiException && e.code === 404)) throw kubeError(e, `read Namespace ${namespace}`);
      try {
        await this.core.createNamespace({ body: { metadata: { name: namespace, labels: { 'app.kubernetes.io/managed-by': 'ferry' } } } });
      } catch (e2) {
        if (!(e2 instanceof ApiException && e2.code === 409)) throw kubeError(e2, `create Namespace ${namespace}`);
      }
    }
  }
}

function meta(obj: { metadata?: { name?: string; namespace?: string } }): { name: string; namespace: string } {
  const name = obj.metadata?.name;
  const namespace = obj.metadata?.namespace;
  if (!name || !namespace) throw new FerryError('MANIFEST_INVALID', 'a rendered object has no metadata.name/namespace');
  return { name, namespace };
}

export interface ClusterProviderOptions {
  /** Kubeconfig path for the cluster named `local` (the local stack's KUBECONFIG). */
  localKubeconfig?: string;
}

/**
 * `local` → the local kubeconfig. `projects/P/locations/L/clusters/C` → GKE: endpoint + CA from
 * getCluster, a bearer token from ADC, built fresh per call (tokens last about an hour).
 */
export function clusterProvider(opts: ClusterProviderOptions): ClusterProvider {
  let local: KubeClusterClient | undefined;
  return {
    async get(cluster: string): Promise<ClusterClient> {
      if (cluster === 'local') {
        if (!opts.localKubeconfig) {
          throw new FerryError('CLUSTER_NOT_CONFIGURED', 'the target cluster is "local" but no KUBECONFIG is configured', {
            hint: 'Start the local stack with `npm start` (it writes KUBECONFIG to .ferry/local.env), or target a GKE cluster.',
          });
        }
        if (!local) {
          const kc = new KubeConfig();
          kc.loadFromFile(opts.localKubeconfig);
          local = new KubeClusterClient(kc);
        }
        return local;
      }
      return gkeClient(cluster);
    },
  };
}

async function gkeClient(cluster: string): Promise<ClusterClient> {
  const [{ ClusterManagerClient }, { GoogleAuth }] = await Promise.all([import('@google-cloud/container'), import('google-auth-library')]);
  const gke = new ClusterManagerClient();
  let info;
  try {
    [info] = await gke.getCluster({ name: cluster });
  } catch (e) {
    const code = (e as { code?: number }).code;
    if (code === 5) {
      throw new FerryError('CLUSTER_DELETED', `GKE cluster ${cluster} does not exist`, { cause: e, hint: 'Create the cluster or deploy to another target.' });
    }
    if (code === 7)
      throw new FerryError('CLUSTER_FORBIDDEN', `not allowed to read GKE cluster ${cluster}`, {
        cause: e,
        hint: 'Grant roles/container.clusterViewer on the GKE project (Terraform does it for the GKE-facing functions).',
      });
    throw new FerryError('CLUSTER_UNAVAILABLE', `GKE getCluster ${cluster} failed: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      retryable: true,
    });
  }
  const endpoint = info.controlPlaneEndpointsConfig?.dnsEndpointConfig?.endpoint || info.endpoint;
  if (!endpoint) throw new FerryError('CLUSTER_UNAVAILABLE', `GKE cluster ${cluster} has no endpoint yet (status ${String(info.status)})`, { retryable: true });
  const token = await new GoogleAuth({ scopes: 'https://www.googleapis.com/auth/cloud-platform' }).getAccessToken();
  if (!token) throw new FerryError('CLUSTER_FORBIDDEN', 'no access token from application default credentials');
  const kc = new KubeConfig();
  const caData = info.masterAuth?.clusterCaCertificate ?? undefined;
  kc.loadFromClusterAndUser({ name: 'gke', server: `https://${endpoint}`, ...(caData ? { caData } : {}), skipTLSVerify: false }, { name: 'ferry', token });
  return new KubeClusterClient(kc);
}

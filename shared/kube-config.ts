/**
 * Where a process finds its Kubernetes cluster (KUBECONFIG, in-cluster config in a pod, else the
 * default kubeconfig), with every API call over ONE shared keep-alive connection pool
 * (@kubernetes/client-node 2.x builds a new undici Agent, hence a new TCP+TLS connection, per
 * call). Used by the functions runtime (shared/runtime/kube.ts) and the init containers.
 */
import { KubeConfig } from "@kubernetes/client-node";

type RequestContext = Parameters<KubeConfig["applySecurityAuthentication"]>[0];
type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/** Runs the generated clients' security step once, then reuses its connection pool for every call. */
class SharedAgentKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    // super built a fresh Agent (no connection opened yet); keep the first one and use it always.
    this.#dispatcher ??= context.getDispatcher();
    if (this.#dispatcher) context.setDispatcher(this.#dispatcher);
  }
}

export function loadKubeConfig(): KubeConfig {
  const kc = new SharedAgentKubeConfig();
  if (process.env.KUBECONFIG) kc.loadFromFile(process.env.KUBECONFIG);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

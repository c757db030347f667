/**
 * Where a process finds its Kubernetes cluster (KUBECONFIG, in-cluster config in a pod, else the
 * default kubeconfig), with every API call over ONE shared keep-alive connection pool
 * (@kubernetes/client-node 2.x builds a new undici Agent, hence a new TCP+TLS connection, per
 * call). Used by the init containers, and by a function process only for a kubeconfig that
 * needs client-node's auth (shared/kube-access-client-node.ts; the runtime otherwise reaches the
 * apiserver through shared/kube-access.ts, without loading client-node).
 * `impersonating(kc, user)`: the same cluster and credentials, over the same pool, with every call
 * made as `user` (the Impersonate-User header), as a functions host acts as each function.
 */
import { KubeConfig } from "@kubernetes/client-node";

type RequestContext = Parameters<KubeConfig["applySecurityAuthentication"]>[0];
type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/** One connection pool, shared by a kubeconfig and every impersonating copy of it. */
interface Pool {
  dispatcher?: Dispatcher;
}

/** Runs the generated clients' security step once, then reuses its connection pool for every call. */
export class SharedAgentKubeConfig extends KubeConfig {
  readonly #pool: Pool;
  readonly #as: string | undefined;

  constructor(pool: Pool = {}, as?: string) {
    super();
    this.#pool = pool;
    this.#as = as;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    // super built a fresh Agent (no connection opened yet); keep the first one and use it always.
    this.#pool.dispatcher ??= context.getDispatcher();
    if (this.#pool.dispatcher) context.setDispatcher(this.#pool.dispatcher);
    if (this.#as !== undefined) context.setHeaderParam("Impersonate-User", this.#as);
  }

  /** A copy acting as `user`, over this one's pool. */
  as(user: string): SharedAgentKubeConfig {
    const kc = new SharedAgentKubeConfig(this.#pool, user);
    kc.clusters = this.clusters;
    kc.users = this.users;
    kc.contexts = this.contexts;
    kc.currentContext = this.currentContext;
    return kc;
  }
}

export function loadKubeConfig(): KubeConfig {
  const kc = new SharedAgentKubeConfig();
  if (process.env.KUBECONFIG) kc.loadFromFile(process.env.KUBECONFIG);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/**
 * `kc`'s cluster and credentials, every call made as `user` (Impersonate-User). The caller needs
 * the `impersonate` verb on that user (for a ServiceAccount: on `serviceaccounts`, by name); the
 * apiserver then authorizes each call as `user` alone, so a missing permission is that user's 403.
 */
export function impersonating(kc: KubeConfig, user: string): KubeConfig {
  return sharingOnePool(kc).as(user);
}

/** `kc` itself if it already sends every call over one pool; else (a test's KubeConfig) a copy that does. */
export function sharingOnePool(kc: KubeConfig): SharedAgentKubeConfig {
  if (kc instanceof SharedAgentKubeConfig) return kc;
  const shared = new SharedAgentKubeConfig();
  shared.clusters = kc.clusters;
  shared.users = kc.users;
  shared.contexts = kc.contexts;
  shared.currentContext = kc.currentContext;
  return shared;
}

/**
 * KubeAccess through @kubernetes/client-node's KubeConfig: for a kubeconfig whose credentials only
 * client-node can produce (exec plugins, auth-providers; kube-access.ts loads this module only
 * then), and for a caller that already holds a KubeConfig (tests, benchmarks). Every request's
 * headers and pool come from the KubeConfig's own security step, over one shared pool.
 */
import { HttpMethod, RequestContext } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { ConfigError } from "./errors.ts";
import type { Authenticated, KubeAccess } from "./kube-access.ts";
import { impersonating, SharedAgentKubeConfig, sharingOnePool } from "./kube-config.ts";

class ClientNodeAccess implements KubeAccess {
  readonly server: string;
  readonly #kc: KubeConfig;

  constructor(kc: KubeConfig) {
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new ConfigError("KUBECONFIG", "the kubeconfig's current context names no cluster server");
    this.server = server.replace(/\/+$/, "");
    this.#kc = kc;
  }

  async authenticate(): Promise<Authenticated> {
    const ctx = new RequestContext(this.server, HttpMethod.GET);
    await this.#kc.applySecurityAuthentication(ctx);
    return { headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() };
  }

  as(user: string): KubeAccess {
    return new ClientNodeAccess(impersonating(this.#kc, user));
  }
}

/** `kc`'s cluster and credentials as a KubeAccess, every request over one pool. */
export function accessOf(kc: KubeConfig): KubeAccess {
  return new ClientNodeAccess(sharingOnePool(kc));
}

/** The kubeconfig file at `path`, loaded by client-node. */
export function accessFromKubeconfigFile(path: string): KubeAccess {
  const kc = new SharedAgentKubeConfig();
  kc.loadFromFile(path);
  return accessOf(kc);
}

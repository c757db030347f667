/**
 * Warm informer caches, so the failover path only writes: the pods of each master's set, the
 * EndpointSlices of its Service and its ConfigMap, per namespace, started once and kept watching
 * (restarted with a delay after a watch error, e.g. while the apiserver is down).
 */
import { makeInformer } from "@kubernetes/client-node";
import type { Informer, KubernetesObject, ObjectCache, V1ConfigMap, V1EndpointSlice, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../logger.ts";
import type { Kube } from "./kube.ts";

type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export class Caches {
  readonly #kube: Kube;
  readonly #log: Logger;
  readonly #informers = new Map<string, { informer: Cache<KubernetesObject>; synced: Promise<void> }>();
  #stopped = false;

  constructor(kube: Kube, log: Logger) {
    this.#kube = kube;
    this.#log = log;
  }

  async #get<T extends KubernetesObject>(key: string, make: () => Cache<T>): Promise<Cache<T>> {
    let entry = this.#informers.get(key);
    if (!entry) {
      const informer = make();
      informer.on("error", (err: unknown) => {
        if (this.#stopped) return;
        this.#log.warn({ err, cache: key }, "informer error, restarting");
        setTimeout(() => {
          if (!this.#stopped) informer.start().catch(() => undefined);
        }, 1000);
      });
      // A failed first list (apiserver down) forgets the cache, so the next reconcile tries again.
      const synced = informer.start().catch((err: unknown) => {
        this.#informers.delete(key);
        throw err;
      });
      entry = { informer: informer as unknown as Cache<KubernetesObject>, synced };
      this.#informers.set(key, entry);
    }
    await entry.synced;
    return entry.informer as unknown as Cache<T>;
  }

  /** Pods of `namespace` matching `selector`. */
  async pods(namespace: string, selector: string): Promise<readonly V1Pod[]> {
    const core = this.#kube.core;
    const inf = await this.#get<V1Pod>(`pods/${namespace}/${selector}`, () =>
      makeInformer(
        this.#kube.kc,
        `/api/v1/namespaces/${namespace}/pods`,
        () => core.listNamespacedPod({ namespace, labelSelector: selector }),
        selector,
      ),
    );
    return inf.list(namespace);
  }

  /** EndpointSlices of one Service. */
  async endpointSlices(namespace: string, service: string): Promise<readonly V1EndpointSlice[]> {
    const selector = `kubernetes.io/service-name=${service}`;
    const discovery = this.#kube.discovery;
    const inf = await this.#get<V1EndpointSlice>(`slices/${namespace}/${service}`, () =>
      makeInformer(
        this.#kube.kc,
        `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
        () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector: selector }),
        selector,
      ),
    );
    return inf.list(namespace);
  }

  /** ConfigMaps of `namespace` labelled as written by this project. */
  async configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    const selector = "app.kubernetes.io/managed-by=failover-functions";
    const core = this.#kube.core;
    const inf = await this.#get<V1ConfigMap>(`configmaps/${namespace}`, () =>
      makeInformer(
        this.#kube.kc,
        `/api/v1/namespaces/${namespace}/configmaps`,
        () => core.listNamespacedConfigMap({ namespace, labelSelector: selector }),
        selector,
      ),
    );
    return inf.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#informers.values()].map((e) => e.informer.stop().catch(() => undefined)));
  }
}

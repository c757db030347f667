/**
 * Warm watch caches, so the failover path only writes: pods, EndpointSlices and the project's
 * ConfigMaps, per namespace, started at the first read and kept watching.
 *
 * One watch per namespace and kind, not one per master: the pods of every master whose selector
 * requires the same label keys (`redis.failover.io/master=<name>` for all of them by default) come
 * from one watch of `redis.failover.io/master`, and each master's are picked in memory; every
 * Service's EndpointSlices from one watch of `kubernetes.io/service-name`. 200 masters are 3
 * watches instead of 401 (docs/design.md, "Decisions"). The price: a selector such as `app=cache`
 * watches every pod of its namespace that has an `app` label.
 */
import type { KubernetesObject, V1ConfigMap, V1EndpointSlice, V1Pod } from "@kubernetes/client-node";
import { matchesLabels, parseLabelSelector, watchSelector } from "../label-selector.ts";
import type { LabelSelector } from "../label-selector.ts";
import type { Logger } from "../logger.ts";
import type { Kube } from "./kube.ts";
import { untilChange } from "./until-change.ts";
import { WatchCache } from "./watch-cache.ts";

const MANAGED_BY = "app.kubernetes.io/managed-by=failover-functions";

export class Caches {
  readonly #kube: Kube;
  readonly #log: Logger;
  readonly #caches = new Map<string, { cache: WatchCache<KubernetesObject>; synced: Promise<void> }>();
  readonly #selectors = new Map<string, LabelSelector>();
  #stopped = false;

  constructor(kube: Kube, log: Logger) {
    this.#kube = kube;
    this.#log = log;
  }

  /** The cache of `path` under `selector`, started at the first call; a failed first list is forgotten, so the next read tries again. */
  async #get<T extends KubernetesObject>(path: string, selector: string | undefined): Promise<WatchCache<T>> {
    const key = `${path}?${selector ?? ""}`;
    let entry = this.#caches.get(key);
    if (!entry) {
      const cache = new WatchCache<KubernetesObject>(this.#kube, path, selector, (err) => {
        if (!this.#stopped) this.#log.warn({ err, cache: key }, "watch cache error, retrying");
      });
      const synced = cache.start().catch((err: unknown) => {
        this.#caches.delete(key);
        throw err;
      });
      entry = { cache, synced };
      this.#caches.set(key, entry);
    }
    await entry.synced;
    return entry.cache as unknown as WatchCache<T>;
  }

  #parsed(selector: string): LabelSelector {
    let parsed = this.#selectors.get(selector);
    if (!parsed) {
      parsed = parseLabelSelector(selector);
      this.#selectors.set(selector, parsed);
    }
    return parsed;
  }

  /** The shared pod watch that holds the pods of `namespace` matching `selector`, and that selector parsed. */
  async #podCache(namespace: string, selector: string): Promise<{ wanted: LabelSelector; cache: WatchCache<V1Pod> }> {
    const wanted = this.#parsed(selector);
    return { wanted, cache: await this.#get<V1Pod>(`/api/v1/namespaces/${namespace}/pods`, watchSelector(wanted)) };
  }

  /** Pods of `namespace` matching `selector`. */
  async pods(namespace: string, selector: string): Promise<readonly V1Pod[]> {
    const { wanted, cache } = await this.#podCache(namespace, selector);
    return cache.list().filter((p) => matchesLabels(wanted, p.metadata?.labels));
  }

  /**
   * Calls `listener` with every pod of `namespace` matching `selector` that is added, changes or is
   * deleted from now on (the same shared watch as pods()). Resolves once that watch is listed, with
   * the unsubscribe.
   */
  async onPods(namespace: string, selector: string, listener: (pod: V1Pod) => void): Promise<() => void> {
    const { wanted, cache } = await this.#podCache(namespace, selector);
    return cache.onChange((p) => {
      if (matchesLabels(wanted, p.metadata?.labels)) listener(p);
    });
  }

  #sliceCache(namespace: string): Promise<WatchCache<V1EndpointSlice>> {
    return this.#get<V1EndpointSlice>(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, "kubernetes.io/service-name");
  }

  /** EndpointSlices of one Service. */
  async endpointSlices(namespace: string, service: string): Promise<readonly V1EndpointSlice[]> {
    return slicesOf(await this.#sliceCache(namespace), service);
  }

  /** Until `done` holds for one Service's EndpointSlices (KubeCaches.untilEndpointSlices): woken by the watch, no polling. */
  async untilEndpointSlices(
    namespace: string,
    service: string,
    done: (slices: readonly V1EndpointSlice[]) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const cache = await this.#sliceCache(namespace);
    return untilChange(cache, () => done(slicesOf(cache, service)), timeoutMs, signal);
  }

  /** ConfigMaps of `namespace` labelled as written by this project. */
  async configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    const cache = await this.#get<V1ConfigMap>(`/api/v1/namespaces/${namespace}/configmaps`, MANAGED_BY);
    return cache.get(namespace, name);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#caches.values()].map((e) => e.cache.stop().catch(() => undefined)));
  }
}

const slicesOf = (cache: WatchCache<V1EndpointSlice>, service: string): V1EndpointSlice[] =>
  cache.list().filter((s) => s.metadata?.labels?.["kubernetes.io/service-name"] === service);

/**
 * One resource's objects under one label selector, kept in memory by a list and then a watch
 * from the list's resourceVersion (with bookmarks, so a quiet watch still moves on): what
 * client-go's reflector and client-node's informer do, over the Kube client's one pool. The
 * apiserver's end of a watch (its timeout) re-watches from the last version seen; 410 Gone (that
 * version compacted away) lists again; any other failure is reported and retried after a second.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import type { KubernetesObject } from "@kubernetes/client-node";
import { RetryableError } from "../errors.ts";
import type { Kube } from "./kube.ts";

/** A watch asks the apiserver to end it after 5-10 minutes (client-go's spread), so watches do not all end at once. */
const watchTimeoutSeconds = (): string => String(300 + Math.floor(Math.random() * 300));
const RETRY_MS = 1000;

const keyOf = (o: KubernetesObject): string => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

/**
 * The object as the cache keeps it: without `metadata.managedFields`, which no function reads and
 * which is 39-42 % of a pod's JSON on the sandbox's node (a redis pod: 6.0 of 14.3 kB), what
 * client-go's TransformStripManagedFields drops too.
 */
function kept<T extends KubernetesObject>(o: T): T {
  if (o.metadata?.managedFields) delete o.metadata.managedFields;
  return o;
}

export class WatchCache<T extends KubernetesObject> {
  readonly #kube: Kube;
  readonly #path: string;
  readonly #query: Record<string, string>;
  readonly #onError: (err: unknown) => void;
  readonly #objects = new Map<string, T>();
  readonly #listeners = new Set<(object: T) => void>();
  readonly #abort = new AbortController();
  #resourceVersion = "";
  #loop: Promise<void> | undefined;

  /** `path`: the collection, e.g. `/api/v1/namespaces/redis/pods`; `labelSelector`: undefined for all of it. */
  constructor(kube: Kube, path: string, labelSelector: string | undefined, onError: (err: unknown) => void) {
    this.#kube = kube;
    this.#path = path;
    this.#query = labelSelector === undefined ? {} : { labelSelector };
    this.#onError = onError;
  }

  /** Lists, then keeps watching in the background. Resolves once the list is in; rejects if it fails (then nothing runs). */
  async start(): Promise<void> {
    await this.#list();
    this.#loop = this.#watchForever();
  }

  /** Every object, as last seen. */
  list(): T[] {
    return [...this.#objects.values()];
  }

  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(`${namespace}/${name}`);
  }

  /**
   * Calls `listener` with every object the cache takes in after now: added, changed, deleted (as
   * last seen), and on a relist each object listed and each one gone since. Returns the unsubscribe.
   */
  onChange(listener: (object: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(object: T): void {
    for (const listener of this.#listeners) listener(object);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #list(): Promise<void> {
    const { items, resourceVersion } = await this.#kube.list<T>(this.#path, this.#query);
    const before = new Map(this.#objects);
    this.#objects.clear();
    for (const o of items) {
      this.#objects.set(keyOf(o), kept(o));
      before.delete(keyOf(o));
    }
    this.#resourceVersion = resourceVersion;
    for (const gone of before.values()) this.#changed(gone);
    for (const o of items) this.#changed(o);
  }

  async #watchForever(): Promise<void> {
    const signal = this.#abort.signal;
    let relist = false;
    while (!signal.aborted) {
      try {
        if (relist) {
          await this.#list();
          relist = false;
        }
        relist = (await this.#watchOnce(signal)) === "expired";
      } catch (err) {
        if (signal.aborted) return;
        this.#onError(err);
        // A failed list lists again; a failed watch resumes from the last version (410 lists again).
        await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** One watch until it ends: "expired" when its version is gone (410: list again), else "ended". */
  async #watchOnce(signal: AbortSignal): Promise<"expired" | "ended"> {
    const query = {
      ...this.#query,
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: "true",
      timeoutSeconds: watchTimeoutSeconds(),
    };
    try {
      for await (const event of this.#kube.watch(this.#path, query, signal)) {
        if (event.type === "ERROR") {
          if (event.object.code === 410) return "expired";
          throw new RetryableError(
            `watch ${this.#path}: ${event.object.code ?? "?"} ${event.object.reason ?? ""} ${event.object.message ?? ""}`.trim(),
          );
        }
        const version = event.object.metadata?.resourceVersion;
        if (version) this.#resourceVersion = version;
        if (event.type === "BOOKMARK") continue;
        const object = kept(event.object as T);
        if (event.type === "DELETED") this.#objects.delete(keyOf(object));
        else this.#objects.set(keyOf(object), object);
        this.#changed(object);
      }
    } catch (err) {
      if (err instanceof ApiException && err.code === 410) return "expired";
      throw err;
    }
    return "ended";
  }
}

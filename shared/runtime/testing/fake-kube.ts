/**
 * An in-memory Kubernetes for unit tests: FakeKube (writes) and FakeCaches (reads) over one store,
 * so what a reconcile applies is what the next reconcile reads. Server-side apply is modelled for
 * one field manager: a Pod's labels and annotations are merged into the stored Pod, any other
 * object replaces the stored one of the same kind, namespace and name.
 */
import type { EventsV1Event, KubernetesObject, V1ConfigMap, V1EndpointSlice, V1Pod } from "@kubernetes/client-node";
import type { KubeCaches, KubeClient } from "../context.ts";
import { untilChange } from "../until-change.ts";

type Stored = KubernetesObject & Record<string, unknown>;

const keyOf = (o: KubernetesObject) => `${o.kind ?? ""}/${o.metadata?.namespace ?? "default"}/${o.metadata?.name ?? ""}`;

/** `a=b,c!=d,e==f` against labels (the equality-based selectors the project uses). */
export function matchesSelector(labels: Record<string, string> | undefined, selector: string): boolean {
  return selector
    .split(",")
    .map((term) => term.trim())
    .filter((term) => term !== "")
    .every((term) => {
      const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(term);
      if (!m) return labels?.[term] !== undefined; // `key`: exists
      const value = labels?.[m[1]!.trim()];
      return m[2] === "!=" ? value !== m[3]!.trim() : value === m[3]!.trim();
    });
}

export class FakeCluster {
  readonly #objects = new Map<string, Stored>();
  readonly #listeners = new Set<() => void>();

  constructor(objects: readonly KubernetesObject[] = []) {
    for (const o of objects) this.put(o);
  }

  /** Stores a copy of `object` (kind and metadata.name required). */
  put(object: KubernetesObject): void {
    this.#objects.set(keyOf(object), structuredClone(object) as Stored);
    for (const listener of this.#listeners) listener();
  }

  /** Removes an object, as a deletion would (what reads see next). */
  delete(kind: string, namespace: string, name: string): void {
    this.#objects.delete(`${kind}/${namespace}/${name}`);
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` after every put and delete, as a watch would; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get<T extends KubernetesObject>(kind: string, namespace: string, name: string): T | undefined {
    return this.#objects.get(`${kind}/${namespace}/${name}`) as T | undefined;
  }

  list<T extends KubernetesObject>(kind: string, namespace: string): T[] {
    return [...this.#objects.values()].filter((o) => o.kind === kind && (o.metadata?.namespace ?? "default") === namespace) as T[];
  }
}

export interface AppliedObject {
  object: KubernetesObject;
  fieldManager: string;
}

export class FakeKube implements KubeClient {
  readonly cluster: FakeCluster;
  /** Every apply, in order. */
  readonly applied: AppliedObject[] = [];
  /** Every Event created (not those that already existed). */
  readonly events: EventsV1Event[] = [];
  /** Set to make calls fail: called before each apply / createEvent, throw from it to fail that call. */
  failWhen: ((call: { verb: "apply" | "createEvent"; object: KubernetesObject }) => void) | undefined;

  constructor(cluster: FakeCluster) {
    this.cluster = cluster;
  }

  async apply<T extends KubernetesObject>(object: T, fieldManager: string): Promise<void> {
    this.failWhen?.({ verb: "apply", object });
    this.applied.push({ object: structuredClone(object), fieldManager });
    const ns = object.metadata?.namespace ?? "default";
    const current = this.cluster.get(object.kind ?? "", ns, object.metadata?.name ?? "");
    if (object.kind === "Pod" && current) {
      const merged = structuredClone(current);
      merged.metadata = {
        ...merged.metadata,
        labels: { ...merged.metadata?.labels, ...object.metadata?.labels },
        annotations: { ...merged.metadata?.annotations, ...object.metadata?.annotations },
      };
      this.cluster.put(merged);
    } else {
      this.cluster.put(object);
    }
    return Promise.resolve();
  }

  async createEvent(event: EventsV1Event): Promise<"created" | "exists"> {
    this.failWhen?.({ verb: "createEvent", object: { kind: "Event", metadata: event.metadata } });
    if (this.events.some((e) => e.metadata?.name === event.metadata?.name && e.metadata?.namespace === event.metadata?.namespace))
      return Promise.resolve("exists");
    this.events.push(structuredClone(event));
    return Promise.resolve("created");
  }
}

/** Reads as the runtime's watch caches answer them. */
export class FakeCaches implements KubeCaches {
  readonly #cluster: FakeCluster;

  constructor(cluster: FakeCluster) {
    this.#cluster = cluster;
  }

  pods(namespace: string, selector: string): Promise<readonly V1Pod[]> {
    return Promise.resolve(this.#cluster.list<V1Pod>("Pod", namespace).filter((p) => matchesSelector(p.metadata?.labels, selector)));
  }

  #slices(namespace: string, service: string): V1EndpointSlice[] {
    return this.#cluster
      .list<V1EndpointSlice>("EndpointSlice", namespace)
      .filter((s) => s.metadata?.labels?.["kubernetes.io/service-name"] === service);
  }

  endpointSlices(namespace: string, service: string): Promise<readonly V1EndpointSlice[]> {
    return Promise.resolve(this.#slices(namespace, service));
  }

  untilEndpointSlices(
    namespace: string,
    service: string,
    done: (slices: readonly V1EndpointSlice[]) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return untilChange(this.#cluster, () => done(this.#slices(namespace, service)), timeoutMs, signal);
  }

  /** Only ConfigMaps labelled `app.kubernetes.io/managed-by=failover-functions`, like the real cache. */
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    const cm = this.#cluster.get<V1ConfigMap>("ConfigMap", namespace, name);
    return Promise.resolve(cm?.metadata?.labels?.["app.kubernetes.io/managed-by"] === "failover-functions" ? cm : undefined);
  }
}

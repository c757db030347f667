/**
 * Per-master convergence of the project's objects for many masters at once, seen from the
 * benchmark's side through three list+watches in the namespace (pods, the functions'
 * EndpointSlices, the functions' ConfigMaps), evaluated incrementally on every event: no copy of
 * the whole state per event (200 masters x 2 pods x many events would be quadratic).
 *
 * A master is right when, for its target (host, pod, minimum epoch):
 *   labels     its pods say redis-role=master on the target pod only, replica on every other;
 *   slice      the EndpointSlice(s) of its Service list exactly the target's address;
 *   configMap  its ConfigMap names the target's host and pod, with epoch >= the minimum
 * (the checks of test/support/kube-state.ts `convergedOn`, per master).
 */
import { CoreV1Api, DiscoveryV1Api, Watch } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject, V1ConfigMap, V1EndpointSlice, V1Pod } from "@kubernetes/client-node";

export const MASTER_LABEL = "redis.failover.io/master";
export const ROLE_LABEL = "redis-role";

export interface MasterObjectNames {
  /** Sentinel master name, also the pods' redis.failover.io/master label value. */
  master: string;
  service: string;
  configMap: string;
}

export interface Target {
  host: string;
  pod: string;
  /** The ConfigMap's epoch must be at least this. */
  minEpoch: number;
}

export const PARTS = ["labels", "slice", "configMap"] as const;
export type Part = (typeof PARTS)[number];

export interface MasterProgress {
  target: Target | undefined;
  /** performance.now() when each part, and all of them together, were first right in this round. */
  first: Partial<Record<Part | "all", number>>;
  /** Times the master went from all right back to not right during the round. */
  regressions: number;
  /** All right now. */
  right: boolean;
  /** Which parts are right now. */
  parts: Record<Part, boolean>;
}

interface Watching {
  start(): Promise<void>;
  stop(): void;
  readonly restarts: number;
}

type ListFn<T> = () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;

/** One list, then a watch from its resourceVersion; relists and rewatches when the watch ends. */
class ListWatch<T extends KubernetesObject> implements Watching {
  readonly #kc: KubeConfig;
  readonly #path: string;
  readonly #labelSelector: string;
  readonly #list: ListFn<T>;
  readonly #onChange: (type: "ADDED" | "MODIFIED" | "DELETED", obj: T) => void;
  #abort: AbortController | undefined;
  #stopped = false;
  /** Watch restarts after the first list (a restart relists). */
  restarts = 0;

  constructor(
    kc: KubeConfig,
    path: string,
    labelSelector: string,
    list: ListFn<T>,
    onChange: (type: "ADDED" | "MODIFIED" | "DELETED", obj: T) => void,
  ) {
    this.#kc = kc;
    this.#path = path;
    this.#labelSelector = labelSelector;
    this.#list = list;
    this.#onChange = onChange;
  }

  async start(): Promise<void> {
    if (this.#stopped) return;
    const listed = await this.#list();
    for (const obj of listed.items) this.#onChange("ADDED", obj);
    const query: Record<string, string> = { labelSelector: this.#labelSelector, allowWatchBookmarks: "true" };
    if (listed.metadata?.resourceVersion) query.resourceVersion = listed.metadata.resourceVersion;
    this.#abort = await new Watch(this.#kc).watch(
      this.#path,
      query,
      (phase: string, obj: T) => {
        if (phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED") this.#onChange(phase, obj);
      },
      () => {
        if (this.#stopped) return;
        this.restarts++;
        setTimeout(() => void this.start().catch(() => undefined), 200);
      },
    );
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }
}

export class ConvergenceTracker {
  readonly #names = new Map<string, MasterObjectNames>();
  readonly #masterOfService = new Map<string, string>();
  readonly #masterOfConfigMap = new Map<string, string>();
  readonly #pods = new Map<string, Map<string, V1Pod>>();
  readonly #slices = new Map<string, Map<string, V1EndpointSlice>>();
  readonly #configMaps = new Map<string, V1ConfigMap>();
  readonly #watches: Watching[] = [];
  readonly #listeners = new Set<() => void>();
  #progress = new Map<string, MasterProgress>();
  /** Watch events received (all three kinds). */
  events = 0;

  constructor(kc: KubeConfig, namespace: string, masters: MasterObjectNames[], sliceManagedBy: string) {
    for (const m of masters) {
      this.#names.set(m.master, m);
      this.#masterOfService.set(m.service, m.master);
      this.#masterOfConfigMap.set(m.configMap, m.master);
      this.#pods.set(m.master, new Map());
      this.#slices.set(m.master, new Map());
    }
    const core = kc.makeApiClient(CoreV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const podSelector = "app.kubernetes.io/name=redis";
    const sliceSelector = `endpointslice.kubernetes.io/managed-by=${sliceManagedBy}`;
    const cmSelector = "app.kubernetes.io/managed-by=failover-functions";
    this.#watches.push(
      new ListWatch<V1Pod>(
        kc,
        `/api/v1/namespaces/${namespace}/pods`,
        podSelector,
        () => core.listNamespacedPod({ namespace, labelSelector: podSelector }),
        (t, o) => this.#onPod(t, o),
      ),
      new ListWatch<V1EndpointSlice>(
        kc,
        `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
        sliceSelector,
        () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector: sliceSelector }),
        (t, o) => this.#onSlice(t, o),
      ),
      new ListWatch<V1ConfigMap>(
        kc,
        `/api/v1/namespaces/${namespace}/configmaps`,
        cmSelector,
        () => core.listNamespacedConfigMap({ namespace, labelSelector: cmSelector }),
        (t, o) => this.#onConfigMap(t, o),
      ),
    );
  }

  async start(): Promise<void> {
    await Promise.all(this.#watches.map((w) => w.start()));
  }

  stop(): void {
    for (const w of this.#watches) w.stop();
  }

  get watchRestarts(): number {
    return this.#watches.reduce((n, w) => n + w.restarts, 0);
  }

  get masters(): string[] {
    return [...this.#names.keys()];
  }

  /** Starts a round: every master gets its target (or none yet: see setTarget), progress is reset. */
  begin(targets: Map<string, Target | undefined>): void {
    this.#progress = new Map(
      this.masters.map((m) => [
        m,
        { target: targets.get(m), first: {}, regressions: 0, right: false, parts: { labels: false, slice: false, configMap: false } },
      ]),
    );
    for (const m of this.masters) this.#evaluate(m);
  }

  setTarget(master: string, target: Target): void {
    const p = this.#progress.get(master);
    if (!p) return;
    const same = p.target?.host === target.host && p.target.pod === target.pod && p.target.minEpoch === target.minEpoch;
    if (same) return;
    p.target = target;
    p.first = {};
    p.right = false;
    this.#evaluate(master);
  }

  progress(master: string): MasterProgress | undefined {
    return this.#progress.get(master);
  }

  /** Masters of the round not (yet) all right at least once. */
  pending(): string[] {
    return [...this.#progress.entries()].filter(([, p]) => p.first.all === undefined).map(([m]) => m);
  }

  /** The ConfigMap of a master as last seen. */
  configMapOf(master: string): Record<string, string> | undefined {
    const names = this.#names.get(master);
    return names ? this.#configMaps.get(names.configMap)?.data : undefined;
  }

  /** What the objects of a master say right now, for a diagnostic line. */
  describe(master: string): string {
    const pods = [...(this.#pods.get(master)?.values() ?? [])].map(
      (p) => `${p.metadata?.name}=${p.metadata?.labels?.[ROLE_LABEL] ?? "-"}@${p.status?.podIP ?? "-"}`,
    );
    const slice = [...(this.#slices.get(master)?.values() ?? [])].flatMap((s) => s.endpoints ?? []).flatMap((e) => e.addresses);
    const cm = this.configMapOf(master);
    const t = this.#progress.get(master)?.target;
    return `target ${t ? `${t.pod}@${t.host} epoch>=${t.minEpoch}` : "unknown"}; pods ${pods.join(" ")}; slice [${slice.join(",")}]; configmap ${cm ? `${cm.pod}@${cm.host} epoch ${cm.epoch}` : "none"}`;
  }

  /** Resolves true once every master of the round was all right at least once; false after timeoutMs. */
  waitAll(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.pending().length === 0) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(ok);
      };
      this.#listeners.add(check);
      check();
    });
  }

  #onPod(type: string, pod: V1Pod): void {
    const master = pod.metadata?.labels?.[MASTER_LABEL];
    this.#put(master, master === undefined ? undefined : this.#pods.get(master), type, pod);
  }

  #onSlice(type: string, slice: V1EndpointSlice): void {
    const master = this.#masterOfService.get(slice.metadata?.labels?.["kubernetes.io/service-name"] ?? "");
    this.#put(master, master === undefined ? undefined : this.#slices.get(master), type, slice);
  }

  /** A watch event into one master's objects of a kind, then re-evaluate that master. */
  #put<T extends KubernetesObject>(master: string | undefined, objects: Map<string, T> | undefined, type: string, obj: T): void {
    this.events++;
    const name = obj.metadata?.name;
    if (!objects || !name || master === undefined) return;
    if (type === "DELETED") objects.delete(name);
    else objects.set(name, obj);
    this.#evaluate(master);
  }

  #onConfigMap(type: string, cm: V1ConfigMap): void {
    this.events++;
    const name = cm.metadata?.name ?? "";
    const master = this.#masterOfConfigMap.get(name);
    if (master === undefined) return;
    if (type === "DELETED") this.#configMaps.delete(name);
    else this.#configMaps.set(name, cm);
    this.#evaluate(master);
  }

  #evaluate(master: string): void {
    const p = this.#progress.get(master);
    const t = p?.target;
    if (!p || !t) return;
    const pods = [...(this.#pods.get(master)?.values() ?? [])];
    const labels =
      pods.some((pod) => pod.metadata?.name === t.pod) &&
      pods.every((pod) => pod.metadata?.labels?.[ROLE_LABEL] === (pod.metadata?.name === t.pod ? "master" : "replica"));
    const addresses = [...(this.#slices.get(master)?.values() ?? [])].flatMap((s) => s.endpoints ?? []).flatMap((e) => e.addresses);
    const slice = addresses.length === 1 && addresses[0] === t.host;
    const cm = this.configMapOf(master);
    const configMap = cm?.host === t.host && cm.pod === t.pod && Number(cm.epoch) >= t.minEpoch;
    const now = performance.now();
    p.parts = { labels, slice, configMap };
    for (const part of PARTS) if (p.parts[part]) p.first[part] ??= now;
    const all = labels && slice && configMap;
    if (all) p.first.all ??= now;
    else if (p.right) p.regressions++;
    p.right = all;
    if (all) for (const l of this.#listeners) l();
  }
}

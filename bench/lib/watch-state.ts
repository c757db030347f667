/**
 * Records when a condition over watched Kubernetes objects became true, from the benchmark's
 * side (a watch, as any observer of the cluster would see it).
 */
import { Watch } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";

export class ObjectWatch<T extends KubernetesObject> {
  readonly objects = new Map<string, T>();
  /** Every state the watch saw, with performance.now() of the event that produced it. */
  readonly history: { at: number; objects: Map<string, T> }[] = [];
  #abort: AbortController | undefined;
  #stopped = false;
  readonly #kc: KubeConfig;
  readonly #path: string;
  readonly #query: Record<string, string>;

  constructor(kc: KubeConfig, path: string, query: Record<string, string> = {}) {
    this.#kc = kc;
    this.#path = path;
    this.#query = query;
  }

  async start(): Promise<void> {
    const watch = new Watch(this.#kc);
    const begin = async () => {
      if (this.#stopped) return;
      this.#abort = await watch.watch(
        this.#path,
        this.#query,
        (phase: string, obj: T) => {
          const name = obj.metadata?.name ?? "";
          if (phase === "DELETED") this.objects.delete(name);
          else this.objects.set(name, obj);
          this.history.push({ at: performance.now(), objects: new Map(this.objects) });
        },
        () => {
          if (!this.#stopped) setTimeout(() => void begin().catch(() => undefined), 200);
        },
      );
    };
    await begin();
  }

  /** The time of the first state at or after `t` for which `predicate` holds (from the history). */
  firstAfter(t: number, predicate: (objects: Map<string, T>) => boolean): number | undefined {
    return this.history.find((h) => h.at >= t && predicate(h.objects))?.at;
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }
}

/**
 * What kube-proxy does for a client of a Service, emulated: watch the Service's EndpointSlices
 * and route new connections to their ready endpoints. A sentinel-unaware client in the sandbox
 * "connects to redis-master:6379" by asking this resolver for the address.
 */
import { Watch } from "@kubernetes/client-node";
import type { KubeConfig, V1EndpointSlice } from "@kubernetes/client-node";
import type { Address } from "./redis.ts";

export interface ResolverChange {
  at: number;
  addresses: string[];
}

export class ServiceResolver {
  readonly #slices = new Map<string, V1EndpointSlice>();
  readonly #kc: KubeConfig;
  readonly namespace: string;
  readonly service: string;
  readonly port: number;
  #abort: AbortController | undefined;
  #stopped = false;
  /** Every change of the ready address set, with performance.now() time. */
  readonly changes: ResolverChange[] = [];

  constructor(kc: KubeConfig, namespace: string, service: string, port = 6379) {
    this.#kc = kc;
    this.namespace = namespace;
    this.service = service;
    this.port = port;
  }

  /** Ready endpoint addresses of the Service right now (sorted). */
  get addresses(): string[] {
    const out = new Set<string>();
    for (const slice of this.#slices.values()) {
      for (const e of slice.endpoints ?? []) if (e.conditions?.ready !== false) for (const a of e.addresses) out.add(a);
    }
    return [...out].sort();
  }

  /** The one address to connect to; undefined when there is none (or, as kube-proxy would, the first of several). */
  get address(): Address | undefined {
    const first = this.addresses[0];
    return first === undefined ? undefined : { host: first, port: this.port };
  }

  async start(): Promise<void> {
    const path = `/apis/discovery.k8s.io/v1/namespaces/${this.namespace}/endpointslices`;
    const watch = new Watch(this.#kc);
    const begin = async () => {
      if (this.#stopped) return;
      this.#abort = await watch.watch(
        path,
        { labelSelector: `kubernetes.io/service-name=${this.service}`, allowWatchBookmarks: false },
        (phase: string, obj: V1EndpointSlice) => {
          const name = obj.metadata?.name ?? "";
          if (phase === "DELETED") this.#slices.delete(name);
          else this.#slices.set(name, obj);
          const addresses = this.addresses;
          const last = this.changes.at(-1)?.addresses;
          if (!last || last.join() !== addresses.join()) this.changes.push({ at: performance.now(), addresses });
        },
        () => {
          // The apiserver closed the watch (timeout, restart): watch again, as kube-proxy does.
          if (!this.#stopped) setTimeout(() => void begin().catch(() => undefined), 200);
        },
      );
    };
    await begin();
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }
}

/**
 * The one Kubernetes client of a functions process: in-cluster config in a pod, KUBECONFIG
 * outside; every API call over ONE shared keep-alive connection pool (@kubernetes/client-node 2.x
 * builds a new undici Agent, hence a new TCP+TLS connection, per call); writes by server-side
 * apply with the function's own field manager; 409/429/5xx and network errors retried briefly,
 * 403 reported as an RBAC problem naming the verb and resource.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ApiException, CoreV1Api, DiscoveryV1Api, EventsV1Api, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import type { EventsV1Event, KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { RbacError, RetryableError, TerminalError } from "../errors.ts";
import { loadKubeConfig } from "../kube-config.ts";
import type { KubeClient } from "./context.ts";

const RETRIES = [50, 100, 200, 400];

/** Maps API errors to the project's: 403 -> RbacError, 409/429/5xx/network -> RetryableError, other 4xx -> TerminalError. */
export function classify(err: unknown, verb: string, resource: string, namespace?: string): Error {
  if (err instanceof ApiException) {
    const code = err.code;
    if (code === 403) return new RbacError(verb, resource, namespace, { cause: err });
    if (code === 409 || code === 429 || code >= 500) return new RetryableError(`${verb} ${resource}: HTTP ${code}`, { cause: err });
    return new TerminalError(`${verb} ${resource}: HTTP ${code}`, { cause: err });
  }
  return new RetryableError(`${verb} ${resource}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export class Kube implements KubeClient {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly discovery: DiscoveryV1Api;
  readonly events: EventsV1Api;
  readonly #objects: KubernetesObjectApi;

  constructor(kc: KubeConfig = loadKubeConfig()) {
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.discovery = kc.makeApiClient(DiscoveryV1Api);
    this.events = kc.makeApiClient(EventsV1Api);
    this.#objects = KubernetesObjectApi.makeApiClient(kc);
  }

  /** Calls `fn`, retrying retryable failures a few times (50..400 ms), classifying the last error. */
  async call<T>(verb: string, resource: string, namespace: string | undefined, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const e = classify(err, verb, resource, namespace);
        if (!(e instanceof RetryableError) || attempt >= RETRIES.length) throw e;
        await sleep(RETRIES[attempt]);
      }
    }
  }

  /** Server-side apply of `object` as `fieldManager` (force: this function owns these fields). */
  apply<T extends KubernetesObject>(object: T, fieldManager: string): Promise<T> {
    const resource = `${object.kind?.toLowerCase() ?? "object"}s/${object.metadata?.name ?? ""}`;
    return this.call("patch", resource, object.metadata?.namespace, () =>
      this.#objects.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply),
    );
  }

  /** Creates an Event once; a 409 (that name exists: another replica, or before a restart) is "exists", not an error. */
  async createEvent(event: EventsV1Event): Promise<"created" | "exists"> {
    const namespace = event.metadata?.namespace ?? "default";
    try {
      await this.events.createNamespacedEvent({ namespace, body: event });
      return "created";
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) return "exists";
      throw classify(err, "create", "events.events.k8s.io", namespace);
    }
  }
}

/** Now as a Kubernetes MicroTime (RFC 3339 with exactly 6 fractional digits, as the apiserver parses it). */
export function microTime(at = new Date()): Date {
  // The generated client passes strings through unchanged; MicroTime is a string on the wire.
  return at.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
}

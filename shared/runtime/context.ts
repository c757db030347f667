/**
 * What `reconcile` is given: the verified master and a context of interfaces, so a function can be
 * unit-tested with fakes (`fakeContext()` in the `/testing` entry) and run for real by the runtime
 * (Kube, Caches, SentinelPool and redisAccess() implement these).
 */
import type { EventsV1Event, KubernetesObject, V1ConfigMap, V1EndpointSlice, V1Pod } from "@kubernetes/client-node";
import type { SentinelCloudEvent } from "../events.ts";
import type { Logger } from "../logger.ts";
import type { ProbeTimeouts } from "../redis-probe.ts";
import type { HostPort, MasterTruth } from "../sentinel-quorum.ts";
import type { MasterMapping } from "./config.ts";

/** The master as a quorum of Sentinels reports it, and the objects that belong to it. */
export interface VerifiedMaster extends MasterTruth {
  mapping: MasterMapping;
}

/** Kubernetes writes. */
export interface KubeClient {
  /**
   * Server-side apply of `object` as `fieldManager`; errors are the project's (RbacError,
   * RetryableError, TerminalError). Resolves once the apiserver accepted it; its answer is not
   * parsed (a function reads from the caches, which the write reaches through their watch).
   */
  apply<T extends KubernetesObject>(object: T, fieldManager: string): Promise<void>;
  /** Creates an events.k8s.io/v1 Event in its metadata.namespace; "exists" when that name was created before (409). */
  createEvent(event: EventsV1Event): Promise<"created" | "exists">;
}

/** Kubernetes reads, from warm watch caches. The objects come without `metadata.managedFields` (the caches drop it). */
export interface KubeCaches {
  /** Pods of `namespace` matching the label `selector`. */
  pods(namespace: string, selector: string): Promise<readonly V1Pod[]>;
  /** EndpointSlices of one Service. */
  endpointSlices(namespace: string, service: string): Promise<readonly V1EndpointSlice[]>;
  /**
   * Waits, on the same watch, until `done` holds for the EndpointSlices of one Service: true at
   * once if it does now, true on the first change after which it does, false after `timeoutMs` or
   * when `signal` fires. A bounded wait that costs no request.
   */
  untilEndpointSlices(
    namespace: string,
    service: string,
    done: (slices: readonly V1EndpointSlice[]) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean>;
  /** A ConfigMap labelled `app.kubernetes.io/managed-by=failover-functions`, or undefined. */
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
}

/** The Sentinels the truth was read through. */
export interface SentinelClient {
  /** How many Sentinels there are (indexes 0..size-1). */
  readonly size: number;
  /** `SENTINEL <args>` on Sentinel `index`; undefined if it does not answer. */
  sentinel(index: number, ...args: string[]): Promise<unknown>;
  /** The quorum's master of `name`; throws NoQuorumError. */
  master(name: string): Promise<MasterTruth>;
}

/** One connection's commands. */
export interface RedisCommands {
  call(command: string, ...args: string[]): Promise<unknown>;
}

/** Short-lived connections to Redis servers (with REDIS_PASSWORD, deadlines on connect and every command). */
export interface RedisAccess {
  /** Connects to `addr`, runs `fn`, disconnects; rejects when the server cannot be reached or `fn` fails. */
  session<T>(addr: HostPort, fn: (r: RedisCommands) => Promise<T>, timeouts?: ProbeTimeouts): Promise<T>;
}

export interface EventTarget {
  kind: "Pod" | "StatefulSet";
  name: string;
  namespace: string;
  uid?: string | undefined;
}

export interface ReconcileContext<C extends object = object> {
  /** Child logger with fn and master fields. */
  log: Logger;
  kube: KubeClient;
  caches: KubeCaches;
  sentinels: SentinelClient;
  redis: RedisAccess;
  /** This function's own settings (its `config` schema over the environment), validated at start. */
  config: C;
  /** The field manager of this function's server-side applies. */
  fieldManager: string;
  /** The event that woke the function, validated; undefined on resync. */
  event: SentinelCloudEvent | undefined;
  /** Records a Kubernetes Warning/Normal Event on an object (best effort, never throws). */
  recordEvent(target: EventTarget, type: "Normal" | "Warning", reason: string, note: string): Promise<void>;
  /** Fires when the process shuts down (SIGTERM): a reconcile that waits stops waiting; its event is redelivered. */
  signal: AbortSignal;
}

/**
 * What a reconcile may return instead of nothing: run it again for the same master after
 * `requeueAfterMs` (controller-runtime's `Result{RequeueAfter}`). The event that woke it is
 * acknowledged; the next run is keyed by master, like the resync, so `ctx.event` is undefined then.
 */
export interface ReconcileResult {
  requeueAfterMs: number;
}

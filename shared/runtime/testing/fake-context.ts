/**
 * fakeContext(): a ReconcileContext of in-memory fakes, so `reconcile` is unit-tested in
 * milliseconds with no apiserver, Sentinel or Redis:
 *
 *   const ctx = fakeContext({ objects: [fakePod({ name: "redis-0", ip: "198.18.100.1" })] });
 *   await myHook.reconcile(ctx, verifiedMaster({ host: "198.18.100.1", epoch: 3 }));
 *   expect(ctx.kube.applied).toHaveLength(1);
 */
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import { pino } from "pino";
import type { SentinelCloudEvent } from "../../events.ts";
import type { Logger } from "../../logger.ts";
import type { MasterTruth } from "../../sentinel-quorum.ts";
import { functionConfig, masterMappingSchema } from "../config.ts";
import type { MasterMapping } from "../config.ts";
import type { EventTarget, ReconcileContext, VerifiedMaster } from "../context.ts";
import type { FunctionDefinition } from "../define-function.ts";
import { FakeCaches, FakeCluster, FakeKube } from "./fake-kube.ts";
import { FakeRedis } from "./fake-redis.ts";
import type { RedisHandler } from "./fake-redis.ts";
import { FakeSentinels } from "./fake-sentinels.ts";
import type { SentinelReplies } from "./fake-sentinels.ts";

export interface RecordedEvent {
  target: EventTarget;
  type: "Normal" | "Warning";
  reason: string;
  note: string;
}

export interface FakeContextOptions<C extends object> {
  /** Kubernetes objects the caches start with (Pods, EndpointSlices, ConfigMaps, ...). */
  objects?: readonly KubernetesObject[];
  /** The function's settings (see configOf()); default {}. */
  config?: C;
  /** The event that woke the function; default undefined (a resync). */
  event?: SentinelCloudEvent | undefined;
  /** Replies of the Sentinels to `SENTINEL <args>` (default: none answers), and how many there are (default 3). */
  sentinels?: { size?: number; replies?: SentinelReplies; truth?: MasterTruth };
  /** Redis servers by `host:port`; any other address refuses connections. */
  redis?: Record<string, RedisHandler>;
  fieldManager?: string;
  /** Default: a silent logger. */
  log?: Logger;
  /** ctx.signal (shutdown); default a signal that never fires. */
  signal?: AbortSignal;
}

export interface FakeContext<C extends object> extends ReconcileContext<C> {
  kube: FakeKube;
  caches: FakeCaches;
  sentinels: FakeSentinels;
  redis: FakeRedis;
  /** The store the fakes share: what reconcile wrote, as the next reconcile will read it. */
  cluster: FakeCluster;
  /** Every ctx.recordEvent(), in order. */
  recorded: RecordedEvent[];
}

export function fakeContext<C extends object = object>(options: FakeContextOptions<C> = {}): FakeContext<C> {
  const cluster = new FakeCluster(options.objects);
  const recorded: RecordedEvent[] = [];
  return {
    log: options.log ?? pino({ level: "silent" }),
    kube: new FakeKube(cluster),
    caches: new FakeCaches(cluster),
    sentinels: new FakeSentinels(options.sentinels),
    redis: new FakeRedis(options.redis),
    cluster,
    config: options.config ?? ({} as C), // {} is the settings of a function without a config schema
    fieldManager: options.fieldManager ?? "failover-functions.io/test",
    event: options.event,
    recorded,
    signal: options.signal ?? new AbortController().signal,
    recordEvent(target, type, reason, note) {
      recorded.push({ target, type, reason, note });
      return Promise.resolve();
    },
  };
}

/** A function's settings from `env`, validated by its own schema (throws ConfigError naming the variable). */
export function configOf<C extends object>(fn: FunctionDefinition<C>, env: NodeJS.ProcessEnv): C {
  return functionConfig(fn, env) as C; // functionConfig parses with fn.config, whose output is C
}

/** The mapping a master gets with the runtime's defaults (namespace "default", Service and ConfigMap "redis-master", StatefulSet "redis"). */
export function defaultMapping(master = "mymaster"): MasterMapping {
  return masterMappingSchema.parse({
    namespace: "default",
    podSelector: `redis.failover.io/master=${master}`,
    service: "redis-master",
    configMap: "redis-master",
    statefulSet: "redis",
  });
}

/** The quorum's truth as the runtime hands it to reconcile. */
export function verifiedMaster({
  name = "mymaster",
  host,
  port = 6379,
  epoch = 1,
  votes = 3,
  asked = 3,
  mapping,
}: {
  name?: string;
  host: string;
  port?: number;
  epoch?: number;
  votes?: number;
  asked?: number;
  mapping?: Partial<MasterMapping>;
}): VerifiedMaster {
  return { name, host, port, epoch, votes, asked, mapping: { ...defaultMapping(name), ...mapping } };
}

/** A running redis Pod of master `master`'s set (labelled for the default pod selector). */
export function fakePod({
  name,
  ip,
  master = "mymaster",
  namespace = "default",
  labels,
  annotations,
}: {
  name: string;
  ip: string;
  master?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      uid: `uid-${name}`,
      labels: { "redis.failover.io/master": master, ...labels },
      ...(annotations ? { annotations } : {}),
    },
    spec: { containers: [{ name: "redis" }], hostname: name, subdomain: "redis", nodeName: "node-1" },
    status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
  };
}

/** A +switch-master CloudEvent as the relay publishes it. */
export function switchMasterEvent({
  master = "mymaster",
  from,
  to,
  port = 6379,
  epoch,
  id = `test-${master}-${epoch}`,
}: {
  master?: string;
  from: string;
  to: string;
  port?: number;
  epoch: number;
  id?: string;
}): SentinelCloudEvent {
  const now = new Date().toISOString();
  return {
    attributes: {
      specversion: "1.0",
      id,
      source: "test",
      type: "io.redis.sentinel.switch-master",
      subject: master,
      time: now,
      datacontenttype: "application/json",
      configepoch: String(epoch),
    },
    data: {
      event: "+switch-master",
      master,
      epoch,
      sentinel: { host: "127.0.0.1", port: 26379 },
      oldMaster: { host: from, port },
      newMaster: { host: to, port },
      masterAddress: { host: to, port },
      raw: `+switch-master ${master} ${from} ${port} ${to} ${port}`,
      announcedAt: now,
    },
  };
}

/**
 * The one way to write a function:
 *
 *   export default defineFunction({
 *     name: "label-master",
 *     on: ["switch-master"],            // which events wake it (the periodic resync wakes it too)
 *     async reconcile(ctx, master) {    // master = the Sentinels' quorum truth, with its epoch
 *       ...                             // converge Kubernetes to it, idempotently
 *     },
 *   });
 *
 * A function never decides from the event what happened: it gets the verified truth and
 * converges. `ctx.event` (undefined on resync) is there for functions whose job is to forward
 * events (webhook) or to name the previous master (kube-events, fence-old-master).
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { SentinelCloudEvent } from "../events.ts";
import type { Logger } from "../logger.ts";
import type { MasterTruth, SentinelPool } from "../sentinel-quorum.ts";
import type { MasterMapping, RuntimeConfig } from "./config.ts";
import type { Kube } from "./kube.ts";
import type { Caches } from "./caches.ts";

/** The master as a quorum of Sentinels reports it, and the objects that belong to it. */
export interface VerifiedMaster extends MasterTruth {
  mapping: MasterMapping;
}

export interface ReconcileContext {
  /** Child logger with fn and master fields. */
  log: Logger;
  kube: Kube;
  caches: Caches;
  config: RuntimeConfig;
  /** Connections to every Sentinel (the truth was read through them). */
  sentinels: SentinelPool;
  /** The field manager of this function's server-side applies. */
  fieldManager: string;
  /** The event that woke the function, validated; undefined on resync. */
  event: SentinelCloudEvent | undefined;
  /** Records a Kubernetes Warning/Normal Event on an object (best effort, never throws). */
  recordEvent(target: { kind: "Pod" | "StatefulSet"; name: string; namespace: string; uid?: string }, type: "Normal" | "Warning", reason: string, note: string): Promise<void>;
}

export interface FunctionDefinition {
  /** Lowercase, DNS-label-like: also the consumer name and the field manager. */
  name: string;
  /** Short event names (see shared/subjects.ts): "switch-master", "sdown", "minus-odown", ... */
  on: string[];
  reconcile(ctx: ReconcileContext, master: VerifiedMaster): Promise<void>;
}

export function defineFunction(def: FunctionDefinition): FunctionDefinition {
  if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(def.name)) throw new TypeError(`function name ${JSON.stringify(def.name)} must be a lowercase DNS label`);
  if (def.on.length === 0) throw new TypeError(`function ${def.name}: "on" needs at least one event (resync alone is not a trigger list)`);
  for (const e of def.on) if (!/^(minus-)?[a-z0-9-]+$/.test(e)) throw new TypeError(`function ${def.name}: bad event name ${JSON.stringify(e)} (use short names like "switch-master")`);
  return def;
}

/** Epoch annotation on every object a function writes: writes for an older epoch never overwrite it. */
export const EPOCH_ANNOTATION = "failover.io/epoch";

/** The epoch recorded on an object, or -1. */
export function recordedEpoch(obj: { metadata?: { annotations?: Record<string, string> } } | undefined): number {
  const v = Number(obj?.metadata?.annotations?.[EPOCH_ANNOTATION]);
  return Number.isFinite(v) ? v : -1;
}

/** The pod of the set whose address is `host`: by podIP, or by its StatefulSet DNS name. */
export function podAt(pods: readonly V1Pod[], host: string): V1Pod | undefined {
  const byIp = pods.find((p) => p.status?.podIP === host || p.status?.podIPs?.some((i) => i.ip === host));
  if (byIp) return byIp;
  const [first, second] = host.split(".");
  return pods.find((p) => {
    const name = p.spec?.hostname ?? p.metadata?.name;
    return name === first && (second === undefined || second === p.spec?.subdomain);
  });
}

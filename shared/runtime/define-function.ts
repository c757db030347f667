/**
 * The one way to write a function:
 *
 *   export default defineFunction({
 *     name: "label-master",
 *     on: ["switch-master"],            // which events wake it (the periodic resync wakes it too)
 *     async reconcile(ctx, master) {    // master = the Sentinels' quorum truth, with its epoch
 *       ...                             // converge Kubernetes to it, idempotently
 *       // return { requeueAfterMs: 1000 } to look again later (an ordinary wait, not a failure)
 *     },
 *   });
 *
 * A function never decides from the event what happened: it gets the verified truth and
 * converges. `ctx.event` (undefined on resync) is there for functions whose job is to forward
 * events (webhook) or to name the previous master (kube-events, fence-old-master).
 * `ctx` is made of interfaces (shared/runtime/context.ts): unit tests pass fakeContext().
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { z } from "zod";
import { isSentinelEventName } from "../sentinel-events.ts";
import type { SentinelEventName } from "../sentinel-events.ts";
import type { ReconcileContext, ReconcileResult, VerifiedMaster } from "./context.ts";

export type { ReconcileContext, ReconcileResult, SentinelEventName, VerifiedMaster };

/** A function's settings schema: environment variables in, its `ctx.config` out. */
export type ConfigSchema = z.ZodObject;

/** Kubernetes resources a function may declare (namespaced, in the masters' namespace), with their API group. */
export const KUBE_RESOURCES = { pods: "", configmaps: "", services: "", endpointslices: "discovery.k8s.io" } as const;
export type KubeResource = keyof typeof KUBE_RESOURCES;

/** One rule of a function's Role: what it does to one resource, and why (the Role's comment). */
export interface KubeRule {
  readonly resource: KubeResource;
  readonly verbs: readonly ("get" | "list" | "watch" | "create" | "patch" | "update" | "delete")[];
  /** Only these objects (resourceNames). */
  readonly names?: readonly string[];
  readonly why?: string;
}

/**
 * What a function reads and writes beyond the Sentinels, declared with it: `failover manifests`
 * writes its Role (these rules, plus creating Events, which every function does through
 * ctx.recordEvent) and its Deployment's environment from it.
 */
export interface FunctionAccess {
  /** Kubernetes rules; reads through ctx.caches need list + watch. */
  readonly kube?: readonly KubeRule[];
  /** Connects to Redis servers (ctx.redis): its pod gets REDIS_PASSWORD. */
  readonly redis?: boolean;
}

export interface FunctionDefinition<C extends object = object> {
  /** Lowercase, DNS-label-like: also the consumer name and the field manager. */
  readonly name: string;
  /** Which Sentinel events wake it, as short names ("switch-master", "sdown", "minus-odown"); the resync wakes it too. */
  readonly on: readonly SentinelEventName[];
  /**
   * Also wake it when a pod of a master's set is added, changes or is deleted (the shared pod watch
   * of ctx.caches), with no event, in the master's lane: for a function whose converged state
   * depends on what Kubernetes sees of the pods (pod-loss-failover). Needs pods list + watch.
   */
  readonly wakeOnPods?: boolean | undefined;
  /** Its own settings from the environment (a zod object, keys = variable names), validated at start; `ctx.config` is the result. */
  readonly config?: ConfigSchema | undefined;
  /** One line on what it does (the comment on its generated Deployment). */
  readonly description?: string | undefined;
  /** What it reads and writes: its generated Role and environment. None declared: Events only. */
  readonly access?: FunctionAccess | undefined;
  /**
   * Converge to `master`. Return nothing when done, `{ requeueAfterMs }` to be run again for this
   * master after that long (waiting for something that is on its way is not a failure: no backoff,
   * no delivery counted against MAX_DELIVER); throw RetryableError / TerminalError when it failed.
   * `ctx.signal` fires when the process shuts down: stop waiting and return or throw.
   */
  reconcile(ctx: ReconcileContext<C>, master: VerifiedMaster): Promise<ReconcileResult | void>;
}

/** Marks what defineFunction returned, so `failover run <module>` can tell a function from any other default export. */
export const FUNCTION_BRAND = Symbol.for("failover-functions.function");

/** A function with its own settings: `ctx.config` is what its `config` schema parses from the environment. */
export function defineFunction<S extends ConfigSchema>(
  def: FunctionDefinition<z.output<S>> & { config: S },
): FunctionDefinition<z.output<S>>;
/** A function with no settings of its own. */
export function defineFunction(def: FunctionDefinition & { config?: undefined }): FunctionDefinition;
export function defineFunction(def: FunctionDefinition): FunctionDefinition {
  if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(def.name))
    throw new TypeError(`function name ${JSON.stringify(def.name)} must be a lowercase DNS label`);
  if (def.on.length === 0) throw new TypeError(`function ${def.name}: "on" needs at least one event (resync alone is not a trigger list)`);
  for (const e of def.on)
    if (!isSentinelEventName(e))
      throw new TypeError(
        `function ${def.name}: unknown Sentinel event ${JSON.stringify(e)} (use short names like "switch-master", "minus-sdown")`,
      );
  return Object.defineProperty({ ...def }, FUNCTION_BRAND, { value: true });
}

/** Whether `value` came from defineFunction (of any copy of this package). */
export function isFunctionDefinition(value: unknown): value is FunctionDefinition {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[FUNCTION_BRAND] === true;
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

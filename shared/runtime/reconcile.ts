/**
 * Verify, then converge: ask the Sentinels who is master of a master name and run the function on
 * that truth. A switch-master the Sentinels contradict changes nothing:
 *  - same or newer epoch than the quorum's: the Sentinels may not have converged yet (they learn a
 *    new configuration from each other's hellos; under load a majority was seen naming the dead
 *    old master at the event's epoch): re-asked for QUORUM_WAIT_MS, retried, and after
 *    AHEAD_DELIVERIES deliveries reported as forged (Warning Event, metric), converging to the truth;
 *  - older epoch: stale (a replay), converge to the truth.
 */
import { NoQuorumError, RetryableError } from "../errors.ts";
import type { SentinelCloudEvent } from "../events.ts";
import type { Logger } from "../logger.ts";
import type { Caches } from "./caches.ts";
import { mappingFor } from "./config.ts";
import type { RuntimeConfig } from "./config.ts";
import type { EventTarget, ReconcileContext, RedisAccess } from "./context.ts";
import type { FunctionDefinition } from "./define-function.ts";
import type { ReconcileOutcome } from "./handle-message.ts";
import type { Kube } from "./kube.ts";
import { REPORTING_CONTROLLER } from "./kube-event.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import type { RuntimeSentinels } from "./sentinels.ts";
import type { InFlightTruths } from "./shared-truth.ts";
import { AHEAD_DELIVERIES, against, settledTruth } from "./verdict.ts";

/** What a reconcile is run with: the runtime's clients, and the function's own settings. */
export interface Reconciler {
  config: RuntimeConfig;
  log: Logger;
  metrics: RuntimeMetrics;
  /** `fn`'s Kubernetes client: the process's own, or one acting as `fn`'s ServiceAccount (FUNCTION_IDENTITY). */
  kubeOf(fn: FunctionDefinition): Kube;
  caches: Caches;
  sentinels: RuntimeSentinels;
  /** Verifications in flight, joined by every function of the process that received the same event. */
  truths: InFlightTruths;
  redis: RedisAccess;
  /** `fn`'s own settings, parsed at construction. */
  configOf(fn: FunctionDefinition): object;
  recordEvent(fn: string, target: EventTarget, type: "Normal" | "Warning", reason: string, note: string): Promise<void>;
  /** Fires on shutdown. */
  signal: AbortSignal;
}

export async function verifyAndReconcile(
  r: Reconciler,
  fn: FunctionDefinition,
  masterName: string,
  event: SentinelCloudEvent | undefined,
  delivery = 1,
): Promise<ReconcileOutcome> {
  const t0 = performance.now();
  const log = r.log.child({ fn: fn.name, master: masterName });
  const mapping = mappingFor(r.config, masterName);
  const ctx: ReconcileContext = {
    log,
    kube: r.kubeOf(fn),
    caches: r.caches,
    config: r.configOf(fn),
    sentinels: r.sentinels,
    redis: r.redis,
    fieldManager: `${REPORTING_CONTROLLER}/${fn.name}`,
    event,
    recordEvent: (target, type, reason, note) => r.recordEvent(fn.name, target, type, reason, note),
    signal: r.signal,
  };
  let truth;
  try {
    const settle = () => settledTruth(r.sentinels, masterName, event, r.config.QUORUM_WAIT_MS, r.signal);
    truth = await (event ? r.truths.for(masterName, event.attributes.id, settle) : settle());
  } catch (err) {
    if (err instanceof NoQuorumError) {
      r.metrics.noQuorum.inc({ fn: fn.name });
      await ctx.recordEvent(
        { kind: "StatefulSet", name: mapping.statefulSet, namespace: mapping.namespace },
        "Warning",
        "NoSentinelQuorum",
        err.message.slice(0, 900),
      );
      throw new RetryableError(err.message, { cause: err });
    }
    throw err;
  }
  const tVerified = performance.now();
  if (event) r.metrics.phase.observe({ fn: fn.name, phase: "verify" }, (tVerified - t0) / 1000);
  const claimed = event?.data.newMaster;
  const verdict = against(event, truth);
  if (event && claimed && verdict !== "agrees") {
    const epoch = event.data.epoch ?? truth.epoch;
    if (verdict === "ahead" && delivery < AHEAD_DELIVERIES) {
      r.metrics.suspicious.inc({ fn: fn.name, kind: "ahead" });
      throw new RetryableError(
        `Sentinels say ${truth.host}:${truth.port} at epoch ${truth.epoch}, event ${event.attributes.id} says ${claimed.host}:${claimed.port} at epoch ${epoch}: waiting for them to converge`,
      );
    }
    const kind = verdict === "ahead" ? "forged" : "stale";
    r.metrics.suspicious.inc({ fn: fn.name, kind });
    log.warn(
      {
        eventId: event.attributes.id,
        claimed,
        truth: { host: truth.host, port: truth.port, epoch: truth.epoch },
        eventEpoch: event.data.epoch,
        kind,
      },
      "event contradicts the Sentinels, converging to their truth",
    );
    if (kind === "forged") {
      await ctx.recordEvent(
        { kind: "StatefulSet", name: mapping.statefulSet, namespace: mapping.namespace },
        "Warning",
        "ForgedFailoverEvent",
        `event ${event.attributes.id} names ${claimed.host}:${claimed.port} at epoch ${event.data.epoch}; the Sentinels say ${truth.host}:${truth.port} at epoch ${truth.epoch}`,
      );
    }
  }
  const tConverge = performance.now();
  const result = await fn.reconcile(ctx, { ...truth, mapping });
  if (event) r.metrics.phase.observe({ fn: fn.name, phase: "converge" }, (performance.now() - tConverge) / 1000);
  r.metrics.reconcileDuration.observe({ fn: fn.name, trigger: event ? "event" : "resync" }, (performance.now() - t0) / 1000);
  if (event && event.data.event === "+switch-master" && claimed?.host === truth.host) {
    r.metrics.propagation.observe({ fn: fn.name }, Math.max(0, Date.now() - Date.parse(event.data.announcedAt)) / 1000);
  }
  return { requeueAfterMs: result?.requeueAfterMs, contradicted: verdict !== "agrees" };
}

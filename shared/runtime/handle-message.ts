/**
 * What becomes of one delivered event: ack (handled, or names no master; a reconcile that asked to
 * be requeued is acked too and run again for its master later), nak with backoff (anything
 * retryable: the Sentinels not agreeing yet, the apiserver busy), nak at once when the process is
 * shutting down (another replica takes it), or term + dead letter (invalid, or a TerminalError:
 * trying again will not help). JetStream itself gives up after MAX_DELIVER naks; the runtime
 * dead-letters those from its advisory.
 */
import { doubling } from "../backoff.ts";
import { TerminalError } from "../errors.ts";
import type { SentinelCloudEvent } from "../events.ts";
import type { Logger } from "../logger.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { parseEvent } from "./validate.ts";

/** A delivered JetStream message, as much of it as these decisions need (JsMsg is one). */
export interface DeliveredMessage {
  readonly subject: string;
  readonly seq: number;
  readonly data: Uint8Array;
  readonly headers?: { get(name: string): string } | undefined;
  readonly info: { readonly deliveryCount: number };
  ack(): void;
  nak(delayMs?: number): void;
  term(reason?: string): void;
}

/** nak delay for the n-th delivery: 100 ms doubling, at most 10 s. */
export function backoffMs(deliveryCount: number): number {
  return doubling(100, deliveryCount - 1, 10_000);
}

export type FailureDecision = { action: "term"; reason: string } | { action: "nak"; delayMs: number };

/** After a failed reconcile: a TerminalError (RbacError, InvalidEventError, `terminal(...)`) ends the event, anything else is retried. */
export function afterFailure(err: unknown, deliveryCount: number): FailureDecision {
  if (err instanceof TerminalError) return { action: "term", reason: err.message };
  return { action: "nak", delayMs: backoffMs(deliveryCount) };
}

/** What the runtime's verify-then-reconcile reports back. */
export interface ReconcileOutcome {
  /** The function asked to run again for this master after this long. */
  requeueAfterMs?: number | undefined;
  /** The event named another master than the Sentinels (stale or forged): the function converged to theirs. */
  contradicted?: boolean | undefined;
}

export interface MessageHandler {
  /** The function's name (metrics label). */
  fn: string;
  log: Logger;
  metrics: Pick<RuntimeMetrics, "handled" | "failures" | "retries" | "phase">;
  /** Runs `work` in the serial lane of `key` (one master of one function at a time). */
  inLane(key: string, work: () => Promise<void>): Promise<void>;
  /** Verify against the Sentinels, then the function's reconcile. */
  reconcile(master: string, event: SentinelCloudEvent, delivery: number): Promise<ReconcileOutcome | void>;
  /** Runs the function again for `master` in `delayMs` (no event: keyed by master, like the resync). */
  requeue(master: string, delayMs: number): void;
  /** Copies the message to the dead-letter stream. */
  deadLetter(why: "invalid" | "terminal"): void;
  /** Fires on shutdown: a reconcile that fails then is handed back at once, not counted as a failure. */
  signal?: AbortSignal | undefined;
}

export async function handleMessage(msg: DeliveredMessage, h: MessageHandler): Promise<void> {
  let event: SentinelCloudEvent;
  try {
    event = parseEvent((name) => msg.headers?.get(name) || undefined, msg.data);
  } catch (err) {
    h.metrics.handled.inc({ fn: h.fn, result: "invalid" });
    h.log.warn({ err, subject: msg.subject, seq: msg.seq }, "invalid event, dead-lettered");
    h.deadLetter("invalid");
    msg.term(err instanceof Error ? err.message : "invalid");
    return;
  }
  const receivedAt = performance.now();
  const master = event.data.master;
  if (msg.info.deliveryCount === 1) {
    // Both clocks are this machine's or the cluster's (the relay stamps announcedAt): a skew shows as 0.
    const announced = Date.parse(event.data.announcedAt);
    if (Number.isFinite(announced)) h.metrics.phase.observe({ fn: h.fn, phase: "delivery" }, Math.max(0, Date.now() - announced) / 1000);
  }
  if (master === null) {
    msg.ack(); // Sentinel-wide events (+new-epoch, +tilt) name no master to reconcile
    return;
  }
  const delivery = msg.info.deliveryCount;
  await h.inLane(`${h.fn}/${master}`, async () => {
    h.metrics.phase.observe({ fn: h.fn, phase: "lane" }, (performance.now() - receivedAt) / 1000);
    try {
      const outcome = await h.reconcile(master, event, delivery);
      msg.ack();
      // an event the Sentinels contradict was handled (converged to their truth), but is not "ok"
      h.metrics.handled.inc({ fn: h.fn, result: outcome?.contradicted ? "contradicted" : "ok" });
      if (outcome?.requeueAfterMs !== undefined) h.requeue(master, outcome.requeueAfterMs);
    } catch (err) {
      if (h.signal?.aborted) {
        h.log.info({ err, master, eventId: event.attributes.id, delivery }, "reconcile stopped by shutdown, event handed back");
        msg.nak(0);
        return;
      }
      h.metrics.failures.inc({ fn: h.fn, error: err instanceof Error ? err.name : "unknown" });
      const decision = afterFailure(err, delivery);
      if (decision.action === "term") {
        h.log.error({ err, master, eventId: event.attributes.id, delivery }, "reconcile failed, not retrying");
        h.metrics.handled.inc({ fn: h.fn, result: "terminal" });
        h.deadLetter("terminal");
        msg.term(decision.reason);
      } else {
        h.log.warn({ err, master, eventId: event.attributes.id, delivery, retryInMs: decision.delayMs }, "reconcile failed, will retry");
        h.metrics.handled.inc({ fn: h.fn, result: "retry" });
        h.metrics.retries.inc({ fn: h.fn });
        msg.nak(decision.delayMs);
      }
    }
  });
}

/**
 * Reconciles with no event: the periodic resync of every master (a missed event heals by itself),
 * a failed one retried with backoff, and a reconcile that asked to run again (`{ requeueAfterMs }`).
 * Each runs in the master's lane, like an event.
 */
import { doubling } from "../backoff.ts";
import { TerminalError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { RuntimeConfig } from "./config.ts";
import type { FunctionDefinition } from "./define-function.ts";
import type { ReconcileOutcome } from "./handle-message.ts";
import type { Lanes } from "./lanes.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { Requeue } from "./requeue.ts";
import type { RuntimeSentinels } from "./sentinels.ts";

export interface ResyncOptions {
  config: Pick<RuntimeConfig, "MASTERS" | "RESYNC_INTERVAL_MS">;
  functions: FunctionDefinition[];
  sentinels: Pick<RuntimeSentinels, "masterNames">;
  lanes: Lanes;
  metrics: Pick<RuntimeMetrics, "resyncs" | "requeues" | "failures">;
  log: Logger;
  /** Verify, then the function's reconcile, with no event. */
  reconcile(fn: FunctionDefinition, master: string): Promise<ReconcileOutcome>;
  /** Fires on shutdown: no new pass, nothing retried. */
  signal: AbortSignal;
}

export class Resync {
  readonly #o: ResyncOptions;
  /** Reconciles to run again: a failed resync retried with backoff, a reconcile that returned `{ requeueAfterMs }`. */
  readonly #requeue = new Requeue();
  #timer: NodeJS.Timeout | undefined;
  #warnedMapping = false;

  constructor(o: ResyncOptions) {
    this.#o = o;
  }

  /** A pass now, then one every RESYNC_INTERVAL_MS. */
  start(): void {
    void this.all();
    this.#timer = setInterval(() => void this.all(), this.#o.config.RESYNC_INTERVAL_MS);
  }

  /** No more passes; drops every reconcile still waiting to run again. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#requeue.stop();
  }

  /** Reconciles every master of every function with no event. */
  async all(): Promise<void> {
    const o = this.#o;
    if (o.signal.aborted) return;
    let names = Object.keys(o.config.MASTERS);
    if (names.length === 0) {
      names = await o.sentinels.masterNames();
      if (names.length > 1) {
        if (!this.#warnedMapping)
          o.log.error(
            { masters: names },
            "Sentinels monitor several masters but MASTERS maps none: set MASTERS so each gets its own objects",
          );
        this.#warnedMapping = true;
        return;
      }
    }
    await Promise.all(
      o.functions.flatMap((fn) => names.map((name) => o.lanes.run(`${fn.name}/${name}`, () => this.#one(fn, name, 0, "resync")))),
    );
  }

  /** Runs `fn` for `master` again in `delayMs` (at most the resync interval: the resync comes then anyway), with no event. */
  requeueAfter(fn: FunctionDefinition, master: string, delayMs: number): void {
    const o = this.#o;
    const key = `${fn.name}/${master}`;
    const ms = Number.isFinite(delayMs) ? Math.min(Math.max(0, delayMs), o.config.RESYNC_INTERVAL_MS) : o.config.RESYNC_INTERVAL_MS;
    o.metrics.requeues.inc({ fn: fn.name });
    this.#requeue.after(key, ms, () => void o.lanes.run(key, () => this.#one(fn, master, 0, "requeue")));
  }

  /** Runs `fn` for `master` now, with no event (a pod of its set changed); coalesced with a run already due. */
  wake(fn: FunctionDefinition, master: string): void {
    const key = `${fn.name}/${master}`;
    this.#requeue.after(key, 0, () => void this.#o.lanes.run(key, () => this.#one(fn, master, 0, "pods")));
  }

  /** A reconcile with no event: the periodic resync, its retries, a requeue the function asked for, or a pod change. */
  async #one(fn: FunctionDefinition, name: string, attempt: number, trigger: "resync" | "requeue" | "pods"): Promise<void> {
    const o = this.#o;
    if (trigger === "resync") o.metrics.resyncs.inc({ fn: fn.name });
    await o.reconcile(fn, name).then(
      (outcome) => {
        if (outcome.requeueAfterMs !== undefined) this.requeueAfter(fn, name, outcome.requeueAfterMs);
      },
      (err: unknown) => {
        if (o.signal.aborted) return; // stopped while it waited: nothing to retry
        o.metrics.failures.inc({ fn: fn.name, error: err instanceof Error ? err.name : "unknown" });
        o.log.warn({ err, fn: fn.name, master: name, attempt, trigger }, "resync reconcile failed");
        // No quorum yet (Sentinels still starting or mid-failover), the apiserver busy: try this
        // master again soon (250 ms doubling, at most the resync interval) instead of leaving it
        // wrong until the next resync. Measured with 200 masters: the first resync at start found
        // no quorum for 199 of them, which then stayed unconverged for 30 s.
        if (!(err instanceof TerminalError)) this.#retry(fn, name, attempt + 1);
      },
    );
  }

  #retry(fn: FunctionDefinition, name: string, attempt: number): void {
    const key = `${fn.name}/${name}`;
    const delay = doubling(250, attempt - 1, this.#o.config.RESYNC_INTERVAL_MS);
    this.#requeue.after(key, delay, () => void this.#o.lanes.run(key, () => this.#one(fn, name, attempt, "resync")));
  }
}

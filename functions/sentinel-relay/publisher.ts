/**
 * Publishes CloudEvents to JetStream in arrival order through a bounded buffer: while NATS is
 * unreachable events wait (the oldest dropped beyond BUFFER_MAX, counted), and are published on
 * reconnect. Re-publishing is safe: Nats-Msg-Id makes JetStream keep one copy.
 * Up to `concurrency` publishes are in flight at once (sent in order on the one connection, so the
 * stream keeps arrival order; only a failed one, retried, can land after later ones): one at a time,
 * a storm of 200 masters failing over queued 4000+ events and took seconds to drain.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { doubling } from "../../shared/backoff.ts";
import { toHeaders } from "../../shared/events.ts";
import type { SentinelCloudEvent } from "../../shared/events.ts";
import type { Logger } from "../../shared/logger.ts";
import type { RelayMetrics } from "./metrics.ts";

export interface Outgoing {
  subject: string;
  event: SentinelCloudEvent;
  /** performance.now() when the Sentinel message arrived. */
  receivedAt: number;
}

export class Publisher {
  #queue: Outgoing[] = [];
  readonly #concurrency: number;
  readonly #js: JetStreamClient;
  readonly #max: number;
  readonly #metrics: RelayMetrics;
  readonly #log: Logger;
  #wake: (() => void) | undefined;
  #running = true;
  #loop: Promise<void>;
  /** False after a failed publish until the next success. */
  healthy = true;

  constructor(nc: NatsConnection, options: { max: number; concurrency?: number; metrics: RelayMetrics; log: Logger }) {
    this.#js = jetstream(nc, { timeout: 2000 });
    this.#max = options.max;
    this.#concurrency = options.concurrency ?? 64;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#loop = this.#run();
  }

  get size(): number {
    return this.#queue.length;
  }

  push(out: Outgoing): void {
    if (this.#queue.length >= this.#max) {
      const dropped = this.#queue.shift();
      this.#metrics.bufferDropped.inc();
      this.#log.error({ eventId: dropped?.event.attributes.id, max: this.#max }, "buffer full, dropped the oldest event");
    }
    this.#queue.push(out);
    this.#metrics.buffered.set(this.#queue.length);
    this.#wake?.();
  }

  async #publish(out: Outgoing): Promise<void> {
    const h = headers();
    for (const [k, v] of Object.entries(toHeaders(out.event.attributes))) h.set(k, v);
    const ack = await this.#js.publish(out.subject, JSON.stringify(out.event.data), { msgID: out.event.attributes.id, headers: h });
    const event = out.event.data.event;
    if (ack.duplicate) this.#metrics.duplicates.inc({ event });
    else this.#metrics.published.inc({ event });
    this.#metrics.publishLatency.observe((performance.now() - out.receivedAt) / 1000);
  }

  async #run(): Promise<void> {
    let failures = 0; // in a row: the wait after each is 50 ms doubling, at most 2 s
    while (this.#running || this.#queue.length > 0) {
      if (this.#queue.length === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      const batch = this.#queue.slice(0, this.#concurrency);
      const results = await Promise.allSettled(batch.map((out) => this.#publish(out)));
      // Remove what was stored (by identity: push() may have dropped the oldest meanwhile).
      const stored = new Set(batch.filter((_, i) => results[i]!.status === "fulfilled"));
      this.#queue = this.#queue.filter((out) => !stored.has(out));
      this.#metrics.buffered.set(this.#queue.length);
      const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (!failure) {
        if (!this.healthy) this.#log.info({ buffered: this.#queue.length }, "publishing again");
        this.healthy = true;
        failures = 0;
      } else {
        const err: unknown = failure.reason;
        if (this.healthy) this.#log.warn({ err, buffered: this.#queue.length }, "publish failed, buffering");
        this.healthy = false;
        if (!this.#running) return; // stopping: give up on what is left (counted in the log)
        await sleep(doubling(50, failures++, 2000));
      }
    }
  }

  /** Publishes what is buffered within `deadlineMs`, then stops. */
  async stop(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (this.#queue.length > 0 && this.healthy && Date.now() < deadline) await sleep(20);
    this.#running = false;
    this.#wake?.();
    if (this.#queue.length > 0) this.#log.error({ lost: this.#queue.length }, "stopping with unpublished events");
    this.#queue.length = 0;
    await this.#loop;
  }
}

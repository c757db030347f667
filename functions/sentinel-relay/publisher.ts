/**
 * Publishes CloudEvents to JetStream in arrival order through a bounded buffer: while NATS is
 * unreachable events wait (the oldest dropped beyond BUFFER_MAX, counted), and are published on
 * reconnect. Re-publishing is safe: Nats-Msg-Id makes JetStream keep one copy.
 *
 * A sliding window: up to `concurrency` publishes are in flight at all times, each ack making room
 * for the next event at once (sent in order on the one connection, so the stream keeps arrival
 * order; only a failed one, retried, can land after later ones). One at a time, a storm of 200
 * masters failing over queued 4000+ events and took seconds to drain; in batches of `concurrency`,
 * each batch waited for its slowest ack before the next was sent.
 *
 * After a failed publish the window closes to one publish, the failed event first, retried after
 * 50 ms doubling to 2 s, until one succeeds.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import type { PubAck } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
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

/** One JetStream publish, resolving with its ack. */
export type PublishFn = (
  subject: string,
  payload: string,
  options: { msgID: string; headers: MsgHdrs },
) => Promise<Pick<PubAck, "duplicate">>;

/** JetStream's publish on `nc`, an ack awaited at most 2 s. */
export function jetStreamPublish(nc: NatsConnection): PublishFn {
  const js = jetstream(nc, { timeout: 2000 });
  return (subject, payload, options) => js.publish(subject, payload, options);
}

interface Entry {
  out: Outgoing;
  /** Arrival order, to put a failed event back where it was. */
  seq: number;
  /** The failure count when it was last sent: only a success sent after the last failure means healthy again. */
  sentAfter?: number;
}

export class Publisher {
  /** Not yet sent (or failed and waiting for a retry), oldest first. */
  #queue: Entry[] = [];
  #inFlight = 0;
  #seq = 0;
  readonly #concurrency: number;
  readonly #publishFn: PublishFn;
  readonly #max: number;
  readonly #metrics: RelayMetrics;
  readonly #log: Logger;
  #wake: (() => void) | undefined;
  #running = true;
  /** Failed publishes in a row (0 when healthy). */
  #failures = 0;
  /** Failures counted since start (one per send generation): what `Entry.sentAfter` records. */
  #failed = 0;
  /** performance.now() before which nothing is sent (after a failure). */
  #retryAt = 0;
  #loop: Promise<void>;
  /** False after a failed publish until the next success. */
  healthy = true;

  constructor(publish: PublishFn, options: { max: number; concurrency?: number; metrics: RelayMetrics; log: Logger }) {
    this.#publishFn = publish;
    this.#max = options.max;
    this.#concurrency = options.concurrency ?? 64;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#loop = this.#run();
  }

  /** Events not yet stored: waiting and in flight. */
  get size(): number {
    return this.#queue.length + this.#inFlight;
  }

  push(out: Outgoing): void {
    if (this.size >= this.#max) {
      // The oldest that is not in flight (an in-flight one may be stored already).
      const dropped = this.#queue.length > 0 ? this.#queue.shift()!.out : out;
      this.#metrics.bufferDropped.inc();
      this.#log.error({ eventId: dropped.event.attributes.id, max: this.#max }, "buffer full, dropped the oldest event");
      if (dropped === out) return;
    }
    this.#queue.push({ out, seq: this.#seq++ });
    this.#metrics.buffered.set(this.size);
    this.#wake?.();
  }

  async #publish(out: Outgoing): Promise<void> {
    const h = headers();
    for (const [k, v] of Object.entries(toHeaders(out.event.attributes))) h.set(k, v);
    const ack = await this.#publishFn(out.subject, JSON.stringify(out.event.data), { msgID: out.event.attributes.id, headers: h });
    const event = out.event.data.event;
    if (ack.duplicate) this.#metrics.duplicates.inc({ event });
    else this.#metrics.published.inc({ event });
    this.#metrics.publishLatency.observe((performance.now() - out.receivedAt) / 1000);
  }

  #send(entry: Entry): void {
    this.#inFlight++;
    entry.sentAfter = this.#failed;
    this.#publish(entry.out).then(
      () => this.#settled(entry, undefined),
      (err: unknown) => this.#settled(entry, err ?? new Error("publish failed")),
    );
  }

  #settled(entry: Entry, err: unknown): void {
    this.#inFlight--;
    // Only what was sent after the last failure tells whether NATS takes publishes now.
    const current = entry.sentAfter === this.#failed;
    if (err === undefined) {
      if (current && !this.healthy) this.#log.info({ buffered: this.size }, "publishing again");
      if (current) {
        this.healthy = true;
        this.#failures = 0;
      }
    } else if (this.#running) {
      if (this.healthy) this.#log.warn({ err, buffered: this.size + 1 }, "publish failed, buffering");
      this.healthy = false;
      if (current) {
        this.#failed++;
        this.#retryAt = performance.now() + doubling(50, this.#failures++, 2000);
      }
      // Back where it was: before every later event still waiting.
      const at = this.#queue.findIndex((e) => e.seq > entry.seq);
      this.#queue.splice(at < 0 ? this.#queue.length : at, 0, entry);
    }
    this.#metrics.buffered.set(this.size);
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (this.#running || this.#inFlight > 0) {
      // Healthy: fill the window. Not: one publish at a time, once the backoff has passed.
      const window = this.healthy ? this.#concurrency : 1;
      const wait = this.#retryAt - performance.now();
      if (wait <= 0) while (this.#running && this.#inFlight < window && this.#queue.length > 0) this.#send(this.#queue.shift()!);
      const woken = new Promise<void>((resolve) => (this.#wake = resolve));
      if (wait > 0 && this.#inFlight === 0) {
        const backoff = new AbortController();
        await Promise.race([woken, sleep(wait, undefined, { signal: backoff.signal }).catch(() => undefined)]);
        backoff.abort();
      } else await woken;
      this.#wake = undefined;
    }
  }

  /** Publishes what is buffered within `deadlineMs`, then stops. */
  async stop(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (this.size > 0 && this.healthy && Date.now() < deadline) await sleep(20);
    this.#running = false;
    if (this.#queue.length > 0) this.#log.error({ lost: this.#queue.length }, "stopping with unpublished events");
    this.#queue.length = 0;
    this.#wake?.();
    await this.#loop;
  }
}

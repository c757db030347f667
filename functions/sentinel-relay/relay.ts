/**
 * The relay: Sentinel messages in, CloudEvents out. Parses each message, asks the announcing
 * Sentinel for the master's config epoch when the message lacks it, and hands the event to the
 * publisher; what does not parse goes to the dead-letter subject, and the relay keeps going.
 */
import { connectNats, untilNatsAnswers } from "../../shared/nats-connection.ts";
import type { NatsConnection } from "@nats-io/transport-node";
import { startProbeServer } from "../../shared/http-server.ts";
import type { ProbeServer } from "../../shared/http-server.ts";
import { logger } from "../../shared/logger.ts";
import { ensureStreams, streamSettingsOf } from "../../shared/streams.ts";
import { DEADLETTER_SUBJECT_PREFIX, eventSubject } from "../../shared/subjects.ts";
import { majority } from "../../shared/sentinel-quorum.ts";
import type { HostPort } from "../../shared/sentinel-quorum.ts";
import type { RelayConfig } from "./config.ts";
import { toCloudEvent } from "./cloudevent.ts";
import { relayMetrics } from "./metrics.ts";
import { parseSentinelMessage } from "./parse.ts";
import { jetStreamPublish, Publisher } from "./publisher.ts";
import { SentinelSubscribers } from "./sentinel-subscribers.ts";

const RAW_LOG_LIMIT = 200;

export class Relay {
  readonly config: RelayConfig;
  readonly metrics = relayMetrics();
  readonly log = logger.child({ fn: "sentinel-relay" });
  #nc: NatsConnection | undefined;
  /** Aborts a start-up still waiting for NATS when stop() comes first. */
  readonly #startAbort = new AbortController();
  #publisher: Publisher | undefined;
  #sentinels: SentinelSubscribers | undefined;
  #http: ProbeServer | undefined;
  #seenParseFailures = new Set<string>();

  constructor(config: RelayConfig) {
    this.config = config;
  }

  /** Ready: a quorum of the known Sentinels subscribed, NATS connected and publishing. */
  ready(): { ok: boolean; detail: Record<string, unknown> } {
    const known = this.#sentinels?.known ?? 0;
    const subscribed = this.#sentinels?.subscribed ?? 0;
    const natsOk = this.#nc !== undefined && !this.#nc.isClosed() && this.#publisher?.healthy === true;
    const quorum = majority(known);
    return {
      ok: known > 0 && subscribed >= quorum && natsOk,
      detail: { sentinelsSubscribed: subscribed, sentinelsKnown: known, nats: natsOk, buffered: this.#publisher?.size ?? 0 },
    };
  }

  get httpPort(): number | undefined {
    return this.#http?.port;
  }

  async start(): Promise<void> {
    const c = this.config;
    this.#http = await startProbeServer({
      host: c.HTTP_HOST,
      port: c.HTTP_PORT,
      registry: this.metrics.registry,
      ready: () => this.ready(),
    });
    this.#nc = await connectNats(c, "sentinel-relay", { log: this.log, signal: this.#startAbort.signal });
    void (async () => {
      for await (const s of this.#nc!.status()) this.log.info({ status: s.type }, "nats status");
    })().catch(() => undefined);
    const nc = this.#nc;
    await untilNatsAnswers("streams", () => ensureStreams(nc, streamSettingsOf(c)), { log: this.log, signal: this.#startAbort.signal });
    this.#publisher = new Publisher(jetStreamPublish(this.#nc), {
      max: c.BUFFER_MAX,
      concurrency: c.PUBLISH_CONCURRENCY,
      metrics: this.metrics,
      log: this.log,
    });
    this.#sentinels = new SentinelSubscribers({
      sentinels: c.SENTINELS,
      password: c.SENTINEL_PASSWORD,
      log: this.log,
      resolveIntervalMs: c.SENTINEL_RESOLVE_INTERVAL_MS,
      onMessage: (sentinel, channel, message, receivedAt) => void this.#handle(sentinel, channel, message, receivedAt, performance.now()),
    });
    this.#sentinels.onChange = (subscribed) => this.metrics.sentinelsSubscribed.set(subscribed);
    await this.#sentinels.start();
    this.log.info({ sentinels: c.SENTINELS, stream: c.STREAM }, "relay started");
  }

  async #handle(sentinel: HostPort, channel: string, message: string, receivedAt: Date, t0: number): Promise<void> {
    const sentinelKey = `${sentinel.host}:${sentinel.port}`;
    if (!channel.startsWith("+") && !channel.startsWith("-")) return; // not an event channel (e.g. __sentinel__:hello)
    this.metrics.received.inc({ sentinel: sentinelKey, event: channel.slice(0, 40) });
    const parsed = parseSentinelMessage(channel, message);
    if (!parsed.ok) {
      this.metrics.parseFailures.inc({ sentinel: sentinelKey });
      const raw = `${channel} ${message}`;
      if (!this.#seenParseFailures.has(channel)) {
        this.#seenParseFailures.add(channel);
        this.log.warn({ sentinel: sentinelKey, reason: parsed.reason, raw: raw.slice(0, RAW_LOG_LIMIT) }, "sentinel message did not parse");
      }
      this.#nc?.publish(
        `${DEADLETTER_SUBJECT_PREFIX}.relay.parse`,
        JSON.stringify({ sentinel, channel, message: message.slice(0, 4096), reason: parsed.reason, receivedAt: receivedAt.toISOString() }),
      );
      return;
    }
    const ev = parsed.event;
    const epoch = ev.epoch ?? (ev.master === null ? null : await this.#sentinels!.epochOf(sentinel, ev.master));
    const event = toCloudEvent(ev, { epoch, sentinel, channel, message, source: this.config.EVENT_SOURCE, receivedAt });
    this.log.debug({ master: ev.master, sentinel: sentinelKey, eventId: event.attributes.id, event: ev.event }, "sentinel event");
    this.#publisher!.push({ subject: eventSubject(this.config.SUBJECT_PREFIX, ev.master, ev.event), event, receivedAt: t0 });
  }

  /** SIGTERM: stop listening, publish what is buffered (up to 5 s), drain NATS. */
  async stop(): Promise<void> {
    this.#startAbort.abort();
    this.#sentinels?.stop();
    await this.#publisher?.stop(5000);
    await this.#nc?.drain().catch(() => undefined);
    await this.#http?.close();
    this.log.info("relay stopped");
  }
}

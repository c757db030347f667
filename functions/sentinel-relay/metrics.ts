/** The relay's Prometheus metrics. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function relayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    received: new Counter({
      name: "relay_messages_received_total",
      help: "Sentinel pub/sub messages received",
      labelNames: ["sentinel", "event"],
      registers: [registry],
    }),
    published: new Counter({
      name: "relay_events_published_total",
      help: "CloudEvents stored by JetStream (not duplicates)",
      labelNames: ["event"],
      registers: [registry],
    }),
    duplicates: new Counter({
      name: "relay_duplicates_dropped_total",
      help: "Publishes JetStream dropped as duplicates (another Sentinel or relay was first)",
      labelNames: ["event"],
      registers: [registry],
    }),
    parseFailures: new Counter({
      name: "relay_parse_failures_total",
      help: "Messages that did not parse (sent to the dead-letter subject)",
      labelNames: ["sentinel"],
      registers: [registry],
    }),
    publishLatency: new Histogram({
      name: "relay_publish_latency_seconds",
      help: "Sentinel message received to JetStream ack",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    buffered: new Gauge({
      name: "relay_buffer_events",
      help: "Events waiting to be published (NATS unreachable or slow)",
      registers: [registry],
    }),
    bufferDropped: new Counter({
      name: "relay_buffer_dropped_total",
      help: "Events dropped because the buffer was full",
      registers: [registry],
    }),
    sentinelsSubscribed: new Gauge({ name: "relay_sentinels_subscribed", help: "Sentinels currently subscribed", registers: [registry] }),
  };
}
export type RelayMetrics = ReturnType<typeof relayMetrics>;

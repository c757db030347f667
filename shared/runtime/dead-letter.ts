/**
 * The dead-letter stream: an event that is invalid, that a function gave up on (TerminalError), or
 * that JetStream stopped delivering after MAX_DELIVER naks is copied to
 * `deadletter.<prefix>.<function>` with why and where it came from.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "../logger.ts";
import { DEADLETTER_SUBJECT_PREFIX } from "../subjects.ts";
import type { RuntimeMetrics } from "./metrics.ts";

export type DeadLetterReason = "invalid" | "terminal" | "max-deliveries";

/** Publishes a copy of the message (its headers, less the dedupe id) to `fn`'s dead-letter subject. */
export function deadLetter(
  nc: NatsConnection | undefined,
  metrics: Pick<RuntimeMetrics, "deadLettered">,
  fn: string,
  subject: string,
  data: Uint8Array,
  hdrs: MsgHdrs | undefined,
  why: DeadLetterReason,
): void {
  const h = headers();
  for (const [k, v] of hdrs ?? []) for (const value of v) h.append(k, value);
  h.set("failover-dead-letter-reason", why);
  h.set("failover-original-subject", subject);
  h.delete("Nats-Msg-Id");
  nc?.publish(`${DEADLETTER_SUBJECT_PREFIX}.${fn}`, data, { headers: h });
  metrics.deadLettered.inc({ fn, why });
}

/** JetStream gives up after MAX_DELIVER; its advisory names the message, which is copied to the dead-letter stream. Unsubscribe to stop. */
export function deadLetterOnMaxDeliveries(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  fn: string,
  metrics: Pick<RuntimeMetrics, "deadLettered">,
  log: Logger,
): Subscription {
  const sub = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`);
  void (async () => {
    const jsm = await jetstreamManager(nc);
    for await (const m of sub) {
      try {
        const advisory = m.json<{ stream_seq: number }>();
        const stored = await jsm.streams.getMessage(stream, { seq: advisory.stream_seq });
        if (stored) deadLetter(nc, metrics, fn, stored.subject, stored.data, stored.header, "max-deliveries");
        log.error({ fn, seq: advisory.stream_seq }, "event dead-lettered after max deliveries");
      } catch (err) {
        log.warn({ err, fn }, "could not dead-letter after max deliveries");
      }
    }
  })();
  return sub;
}

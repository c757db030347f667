/** Reading what the relay stored in JetStream, for tests. */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { cloudEventAttributesSchema, fromHeaders, sentinelEventDataSchema } from "../../shared/events.ts";
import type { SentinelCloudEvent } from "../../shared/events.ts";

/** Message count per subject in a stream (subjects matching `filter`). */
export async function subjectCounts(nc: NatsConnection, stream: string, filter = ">"): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  return info.state.subjects ?? {};
}

/** Every message stored under `subject`, validated with the shared CloudEvent schemas. */
export async function storedEvents(nc: NatsConnection, stream: string, subject: string): Promise<SentinelCloudEvent[]> {
  const jsm = await jetstreamManager(nc);
  const out: SentinelCloudEvent[] = [];
  const info = await jsm.streams.info(stream);
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m || m.subject !== subject) continue;
    const attributes = cloudEventAttributesSchema.parse(fromHeaders((n) => m.header.get(n) || undefined));
    out.push({ attributes, data: sentinelEventDataSchema.parse(m.json()) });
  }
  return out;
}

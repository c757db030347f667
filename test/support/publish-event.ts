/** Publishes a hand-made CloudEvent to the stream, exactly as the relay would (for forged/replayed/duplicate tests). */
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { toHeaders } from "../../shared/events.ts";
import type { SentinelCloudEvent } from "../../shared/events.ts";
import { eventSubject } from "../../shared/subjects.ts";

export function switchEvent(master: string, from: string, to: string, epoch: number, id: string): SentinelCloudEvent {
  const now = new Date().toISOString();
  return {
    attributes: { specversion: "1.0", id, source: "test", type: "io.redis.sentinel.switch-master", subject: master, time: now, datacontenttype: "application/json", configepoch: String(epoch) },
    data: {
      event: "+switch-master",
      master,
      epoch,
      sentinel: { host: "198.18.0.10", port: 26379 },
      oldMaster: { host: from, port: 6379 },
      newMaster: { host: to, port: 6379 },
      masterAddress: { host: to, port: 6379 },
      raw: `+switch-master ${master} ${from} 6379 ${to} 6379`,
      announcedAt: now,
    },
  };
}

export async function publishEvent(nc: NatsConnection, event: SentinelCloudEvent, rawPayload?: string): Promise<{ duplicate: boolean }> {
  const h = headers();
  for (const [k, v] of Object.entries(toHeaders(event.attributes))) h.set(k, v);
  const ack = await jetstream(nc).publish(eventSubject("redis.sentinel", event.data.master, event.data.event), rawPayload ?? JSON.stringify(event.data), { headers: h, msgID: event.attributes.id });
  return { duplicate: ack.duplicate };
}

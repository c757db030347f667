/** Publishes a hand-made CloudEvent to the stream, exactly as the relay would (for forged/replayed/duplicate tests). */
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { toHeaders } from "../../shared/events.ts";
import type { SentinelCloudEvent } from "../../shared/events.ts";
import { eventSubject } from "../../shared/subjects.ts";
import { switchMasterEvent } from "../../shared/runtime/testing/index.ts";

/** A +switch-master CloudEvent as the relay publishes it (the test kit's, positional). */
export function switchEvent(master: string, from: string, to: string, epoch: number, id: string): SentinelCloudEvent {
  return switchMasterEvent({ master, from, to, epoch, id });
}

export async function publishEvent(nc: NatsConnection, event: SentinelCloudEvent, rawPayload?: string): Promise<{ duplicate: boolean }> {
  const h = headers();
  for (const [k, v] of Object.entries(toHeaders(event.attributes))) h.set(k, v);
  const ack = await jetstream(nc).publish(
    eventSubject("redis.sentinel", event.data.master, event.data.event),
    rawPayload ?? JSON.stringify(event.data),
    { headers: h, msgID: event.attributes.id },
  );
  return { duplicate: ack.duplicate };
}

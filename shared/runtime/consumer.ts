/**
 * Each function's durable JetStream pull consumer: explicit acks, new events only, the function's
 * event subjects, MAX_DELIVER deliveries of ACK_WAIT_MS each. Created at start, or updated to these
 * settings when it exists (its name and deliver policy cannot change).
 */
import { AckPolicy, DeliverPolicy, JetStreamApiCodes } from "@nats-io/jetstream";
import type { ConsumerConfig, JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { createOrUpdate } from "../jetstream-upsert.ts";
import type { RuntimeConfig } from "./config.ts";
import type { FunctionDefinition } from "./define-function.ts";

/** The durable name of `fn`'s consumer. */
export function consumerName(c: RuntimeConfig, fn: FunctionDefinition): string {
  return `${c.CONSUMER_PREFIX}${fn.name}`;
}

export function consumerConfig(c: RuntimeConfig, fn: FunctionDefinition): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: consumerName(c, fn),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    filter_subjects: fn.on.map((e) => `${c.SUBJECT_PREFIX}.*.${e}`),
    max_deliver: c.MAX_DELIVER,
    ack_wait: nanos(c.ACK_WAIT_MS),
    max_ack_pending: 1000,
  };
}

/** Updates the consumer `cfg` names on `stream`, or adds it when JetStream has none by that name. */
export function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  cfg: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  const { durable_name: name, deliver_policy: _p, ...update } = cfg;
  return createOrUpdate({
    notFound: JetStreamApiCodes.ConsumerNotFound,
    info: () => jsm.consumers.info(stream, name),
    update: () => jsm.consumers.update(stream, name, update),
    add: () => jsm.consumers.add(stream, cfg),
  });
}

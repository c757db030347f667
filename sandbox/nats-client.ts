/** A NATS client of the sandbox's nats-server, as its user, reconnecting for good (tests and benches). */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Sandbox } from "./sandbox.ts";

export function natsOf(sb: Sandbox): Promise<NatsConnection> {
  return connect({ servers: sb.nats!.url, user: sb.natsUser, pass: sb.natsPassword, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
}

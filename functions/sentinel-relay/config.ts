/** The relay's configuration, from the environment, parsed once at start. */
import { z } from "zod";
import { hostPortList, millis, parseEnv } from "../../shared/config.ts";
import { natsEnvSchema } from "../../shared/nats-connection.ts";
import { streamEnvShape } from "../../shared/streams.ts";

export const relayEnvSchema = natsEnvSchema.extend({
  /** Sentinels: host[:port] list; a name with several addresses (a headless Service) counts as all of them. */
  SENTINELS: hostPortList(26379),
  SENTINEL_PASSWORD: z.string().min(1).optional(),
  /** Re-resolve SENTINELS names this often, to follow pods that come and go. */
  SENTINEL_RESOLVE_INTERVAL_MS: millis(100).default(30_000),
  ...streamEnvShape,
  /** CloudEvent `source`: which Redis deployment this is. */
  EVENT_SOURCE: z.string().min(1).default("failover-functions/sentinel-relay"),
  /** Events kept while NATS is unreachable; the oldest are dropped beyond it (and counted). */
  BUFFER_MAX: z.coerce.number().int().min(1).default(10_000),
  /** JetStream publishes in flight at once (a failover storm of many masters queues thousands). */
  PUBLISH_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(64),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HTTP_HOST: z.string().default("0.0.0.0"),
});
export type RelayConfig = z.infer<typeof relayEnvSchema>;

export function relayConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  return parseEnv(relayEnvSchema, env);
}

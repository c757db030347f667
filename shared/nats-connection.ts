/**
 * NATS connection settings shared by the relay and the functions runtime: parsed from the
 * environment once (NATS_URL, NATS_USER/NATS_PASSWORD or NATS_TOKEN, mounted from a Secret in a
 * pod), reconnecting forever with jittered waits.
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { parseEnv } from "./config.ts";

export const natsEnvSchema = z.object({
  NATS_URL: z
    .string()
    .default("nats://nats:4222")
    .refine((v) => v.split(",").every((u) => /^(nats|tls|wss?):\/\/[^\s]+$/.test(u.trim())), "expected nats://host:port[,nats://...]"),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  NATS_TOKEN: z.string().min(1).optional(),
});
export type NatsEnv = z.infer<typeof natsEnvSchema>;

export function natsEnv(env: NodeJS.ProcessEnv = process.env): NatsEnv {
  const parsed = parseEnv(natsEnvSchema, env);
  return parsed;
}

/** Connects (retrying the first connection too) with the project's reconnect policy. */
export function connectNats(cfg: NatsEnv, name: string): Promise<NatsConnection> {
  return connect({
    servers: cfg.NATS_URL.split(",").map((s) => s.trim()),
    name,
    user: cfg.NATS_USER,
    pass: cfg.NATS_PASSWORD,
    token: cfg.NATS_TOKEN,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 5_000,
  });
}

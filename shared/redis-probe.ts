/**
 * Short-lived Redis connections for probes and one-off commands (functions, init, sandbox): no
 * retries, no offline queue, deadlines on connect and on every command, errors surfaced as
 * rejected commands rather than printed.
 */
import { Redis, ReplyError } from "ioredis";
import type { HostPort } from "./sentinel-quorum.ts";

export interface ProbeTimeouts {
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

export function probeClient(
  addr: HostPort,
  password: string | undefined,
  { connectTimeoutMs = 1000, commandTimeoutMs = 2000 }: ProbeTimeouts = {},
): Redis {
  const client = new Redis({
    host: addr.host,
    port: addr.port,
    password,
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  client.on("error", () => undefined);
  return client;
}

/** Connects, runs `fn`, disconnects; rejects when the server cannot be reached or `fn` fails. */
export async function withRedis<T>(
  addr: HostPort,
  password: string | undefined,
  fn: (r: Redis) => Promise<T>,
  timeouts?: ProbeTimeouts,
): Promise<T> {
  const client = probeClient(addr, password, timeouts);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** Whether a failed command failed with the server's own error reply (NOAUTH, LOADING, ...): the server answered. */
export function isServerReply(err: unknown): boolean {
  // ioredis types ReplyError as `any`; at run time it is the class of every error reply.
  return err instanceof ReplyError;
}

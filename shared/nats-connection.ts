/**
 * NATS connection settings shared by the relay and the functions runtime: parsed from the
 * environment once (NATS_URL, NATS_USER/NATS_PASSWORD or NATS_TOKEN, mounted from a Secret in a
 * pod), reconnecting forever with jittered waits; JetStream set-up steps retried through a NATS
 * that is starting or rolling.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { JetStreamApiError } from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal"; // JetStreamNotEnabled is exported only here
import { connect, ConnectionError, NoRespondersError, RequestError, TimeoutError } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { doubling } from "./backoff.ts";
import { parseEnv } from "./config.ts";
import type { Logger } from "./logger.ts";

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

/**
 * Connects with the project's reconnect policy (forever, once connected). The first connection is
 * retried by untilNatsAnswers, not by the client's silent waitOnFirstConnect: "connecting to nats"
 * names the servers at start and every failed attempt is logged ("nats not answering yet"), so a
 * NATS that is away or misnamed shows in the log at once instead of after 20 s of nothing; a
 * refusal (bad credentials) fails the start.
 */
export async function connectNats(cfg: NatsEnv, name: string, retry: StartupRetryOptions): Promise<NatsConnection> {
  const servers = cfg.NATS_URL.split(",").map((s) => s.trim());
  retry.log.info({ servers, name }, "connecting to nats");
  const nc = await untilNatsAnswers(
    "connect",
    () =>
      connect({
        servers,
        name,
        user: cfg.NATS_USER,
        pass: cfg.NATS_PASSWORD,
        token: cfg.NATS_TOKEN,
        waitOnFirstConnect: false,
        timeout: 5_000,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 5_000,
        // Without it, every request (a JetStream publish's ack, a consumer's API call) builds a
        // RequestError and a TimeoutError with stack traces up front, in case it fails: in the
        // relay's profile under a burst they, and the garbage they leave, were the largest share of
        // its CPU (npm run bench:relay; docs/design.md, "Decisions"). Errors keep their classes.
        noAsyncTraces: true,
      }),
    retry,
  );
  if (retry.signal?.aborted) {
    // Stopped while this attempt was connecting: nobody will drain this connection.
    await nc.close();
    retry.signal.throwIfAborted();
  }
  retry.log.info({ server: nc.getServer() }, "connected to nats");
  return nc;
}

/**
 * Errors a NATS server gives while it starts, stops or elects a JetStream leader (a pod rolled
 * beside ours): a request that timed out, no responders on `$JS.API`, JetStream not (yet)
 * enabled, a connection that dropped mid-request, a JetStream API answer with status 503.
 * Anything else (authorization, permissions, a stream config the server refuses) is not.
 */
export function isTransientNatsError(err: unknown): boolean {
  if (
    err instanceof TimeoutError ||
    err instanceof NoRespondersError ||
    err instanceof ConnectionError ||
    err instanceof jserrors.JetStreamNotEnabled
  )
    return true;
  if (err instanceof RequestError) return err.isNoResponders() || isTransientNatsError(err.cause);
  if (err instanceof JetStreamApiError) return err.status === 503;
  return false;
}

export interface StartupRetryOptions {
  log: Logger;
  /** Stops the waiting (shutdown while NATS is still away): the last error is thrown. */
  signal?: AbortSignal;
  /** First wait, doubled each attempt up to maxDelayMs. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs one JetStream set-up step (streams, consumers) until it succeeds, waiting through
 * transient NATS errors instead of exiting: a process that exits while NATS rolls beside it is
 * a terminated container that `skaffold` and `kubectl rollout status` report as failed, and its
 * restart back-off outlasts NATS' own restart. Non-transient errors are thrown at once.
 */
export async function untilNatsAnswers<T>(step: string, fn: () => Promise<T>, o: StartupRetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted(); // stopped before this step began: no new attempt
    try {
      return await fn();
    } catch (err) {
      if (!isTransientNatsError(err) || o.signal?.aborted) throw err;
      const delay = doubling(o.firstDelayMs ?? 250, attempt - 1, o.maxDelayMs ?? 5_000);
      o.log.warn({ err, step, attempt, retryInMs: delay }, "nats not answering yet, retrying");
      await sleep(delay, undefined, o.signal ? { signal: o.signal } : undefined).catch(() => undefined);
      if (o.signal?.aborted) throw err;
    }
  }
}

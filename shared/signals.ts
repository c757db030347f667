/** Signals that stop the project's processes: Kubernetes sends SIGTERM, Ctrl-C sends SIGINT. */
import type { Logger } from "./logger.ts";

/** Resolves at the first SIGTERM or SIGINT. */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
}

export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `service` and stops it at the first SIGTERM/SIGINT, also when the signal comes while it
 * is still starting (waiting for NATS that is away): the pod is then stopped at once, not after
 * the kubelet's grace period. A start that fails before any signal rejects (exit code 1).
 */
export async function runUntilSignal(service: Service, log: Logger): Promise<void> {
  const signalled = waitForSignal();
  const started = service.start();
  const early = await Promise.race([started.then(() => undefined), signalled]);
  const signal = early ?? (await signalled);
  log.info({ signal, started: early === undefined }, "stopping");
  await service.stop();
  // A start cut short by stop() ends at its next step (its waits for NATS are aborted).
  if (early !== undefined) await started.catch(() => undefined);
}

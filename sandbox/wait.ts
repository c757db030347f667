/** Polling with a deadline, for the sandbox and the tests. */
import { setTimeout as sleep } from "node:timers/promises";
import { TimeoutError } from "../shared/errors.ts";

export interface WaitOptions {
  /** Give up after this many ms (default 10 000). */
  timeoutMs?: number;
  /** Poll every this many ms (default 50). */
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns a value other than undefined/false, and returns that value.
 * Errors thrown by `probe` count as "not yet"; the last one becomes the TimeoutError's cause.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 50 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw new TimeoutError(what, timeoutMs, { cause: lastError });
    await sleep(intervalMs);
  }
}

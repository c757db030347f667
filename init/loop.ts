/**
 * The init commands' loop: gather, decide, and either act or ask again until INIT_TIMEOUT_MS.
 * Exit codes: 0 decided (config written), 1 no safe decision (one line on stderr says which and
 * why; the kubelet restarts the init container, which asks again).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { InitError } from "../shared/errors.ts";
import { logger } from "../shared/logger.ts";
import type { Decision, Undecided } from "./decide.ts";

/** Calls `decide(waitedMs)` until it is not `wait`; throws InitError on `fail` or after `timeoutMs`. */
export async function decideWithin<D extends Decision>(
  what: string,
  timeoutMs: number,
  pollMs: number,
  decide: (waitedMs: number) => Promise<D>,
): Promise<Exclude<D, Undecided>> {
  const log = logger.child({ init: what });
  const started = Date.now();
  let lastWait = "";
  for (;;) {
    const waited = Date.now() - started;
    const d = await decide(waited);
    if (d.kind === "fail") throw new InitError(d.because);
    if (d.kind !== "wait") return d as Exclude<D, Undecided>;
    if (d.because !== lastWait) log.info({ because: d.because, waitedMs: waited }, "waiting for a safe decision");
    lastWait = d.because;
    if (waited + pollMs > timeoutMs) throw new InitError(`no safe decision after ${waited} ms: ${d.because}`);
    await sleep(pollMs);
  }
}

/** Runs an init command: one log line with the decision, or one stderr line with why not. */
export async function runInit(command: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (err) {
    process.stderr.write(`failover ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

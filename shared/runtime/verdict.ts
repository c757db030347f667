/**
 * Verify before acting: the Sentinels' quorum, not the event, says who is master. How the master
 * an event names stands against the quorum's, and the quorum's answer waited for while they have
 * not converged yet.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { NoQuorumError } from "../errors.ts";
import type { SentinelCloudEvent } from "../events.ts";
import type { MasterTruth } from "../sentinel-quorum.ts";
import type { SentinelClient } from "./context.ts";

/** Deliveries (each waiting up to QUORUM_WAIT_MS, then 100 ms doubling) an event may be ahead of the Sentinels' quorum before it counts as forged. */
export const AHEAD_DELIVERIES = 3;

/**
 * How often a reconcile re-asks the Sentinels while they converge. 10 ms took ~8 ms off the verify
 * phase in the bench, but a forged event is waited on for QUORUM_WAIT_MS by every function: at
 * 10 ms that is ~1,800 Sentinel queries a second, and the on-node forged-event test on Valkey ran
 * out of time in CI. Back to 50 ms until the wait is shared or shortened after the first rounds.
 */
export const QUORUM_POLL_MS = 50;

export type Verdict = "agrees" | "ahead" | "stale";

/**
 * How the master an event names stands against the quorum's: agrees (or names none), ahead (same
 * or newer epoch, another address: the Sentinels may not have converged yet; under load a majority
 * was seen naming the dead old master at the event's own epoch for a while), or stale (older epoch).
 */
export function against(event: SentinelCloudEvent | undefined, truth: MasterTruth): Verdict {
  const claimed = event?.data.newMaster;
  if (!event || !claimed || (claimed.host === truth.host && claimed.port === truth.port)) return "agrees";
  return (event.data.epoch ?? truth.epoch) >= truth.epoch ? "ahead" : "stale";
}

/**
 * The quorum's master, asked again every QUORUM_POLL_MS for up to `waitMs` while the Sentinels have not
 * converged (no quorum, or the event names a newer epoch than they agree on): right after a
 * failover they learn it from each other's hellos within milliseconds to seconds, and a nak with
 * backoff would wait 100 ms, 200 ms, ... 3 s for it. Throws NoQuorumError, or returns the last
 * answer, after the deadline or once `signal` fires (shutdown).
 */
export async function settledTruth(
  sentinels: SentinelClient,
  masterName: string,
  event: SentinelCloudEvent | undefined,
  waitMs: number,
  signal: AbortSignal,
): Promise<MasterTruth> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    try {
      const truth = await sentinels.master(masterName);
      if (against(event, truth) !== "ahead" || performance.now() >= deadline || signal.aborted) return truth;
    } catch (err) {
      if (!(err instanceof NoQuorumError) || performance.now() >= deadline || signal.aborted) throw err;
    }
    await sleep(QUORUM_POLL_MS);
  }
}

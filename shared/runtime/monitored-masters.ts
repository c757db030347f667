/**
 * The start-up check of MASTERS against the Sentinels: a master named there that no Sentinel
 * monitors is a typo or a wrong cluster, and would otherwise log "no Sentinel quorum" forever.
 * Judged only once enough Sentinels answer (the quorum's count): one Sentinel that answers
 * alone may be starting up with a partial configuration.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { doubling } from "../backoff.ts";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { HostPort } from "../sentinel-quorum.ts";

export type MonitoredVerdict =
  | { kind: "ok" }
  /** Fewer than `needed` Sentinels answered: nothing can be judged yet. */
  | { kind: "unanswered"; answered: number; needed: number }
  /** `missing` are named by MASTERS and monitored by none of the Sentinels that answered, which monitor `monitored`. */
  | { kind: "unmonitored"; missing: string[]; monitored: string[] };

/** `answers`: each Sentinel's SENTINEL MASTERS names, undefined where one did not answer. */
export function judgeMonitored(
  mapped: readonly string[],
  answers: readonly (readonly string[] | undefined)[],
  needed: number,
): MonitoredVerdict {
  const answered = answers.filter((a) => a !== undefined);
  if (answered.length < needed) return { kind: "unanswered", answered: answered.length, needed };
  const monitored = [...new Set(answered.flat())].sort();
  const missing = mapped.filter((m) => !monitored.includes(m));
  return missing.length === 0 ? { kind: "ok" } : { kind: "unmonitored", missing, monitored };
}

/** The one line `failover run` prints for an unmonitored master. */
export function unmonitoredError(missing: readonly string[], monitored: readonly string[]): ConfigError {
  const names = missing.map((m) => JSON.stringify(m)).join(", ");
  const they = monitored.length > 0 ? monitored.map((m) => JSON.stringify(m)).join(", ") : "nothing";
  return new ConfigError(
    "MASTERS",
    `${missing.length > 1 ? "masters" : "master"} ${names} not monitored by any Sentinel; the Sentinels monitor ${they}`,
  );
}

export interface UntilMonitoredOptions {
  mapped: readonly string[];
  sentinels: readonly HostPort[];
  needed: number;
  ask: () => Promise<(string[] | undefined)[]>;
  log: Logger;
  signal: AbortSignal;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Asks the Sentinels until enough answer, logging each unanswered attempt; throws ConfigError
 * (MASTERS) for a master none monitors, or the abort reason when shut down while waiting.
 */
export async function untilMastersMonitored(o: UntilMonitoredOptions): Promise<void> {
  const sentinels = o.sentinels.map((s) => `${s.host}:${s.port}`);
  o.log.info({ sentinels, masters: o.mapped }, "asking the sentinels which masters they monitor");
  for (let attempt = 1; ; attempt++) {
    o.signal.throwIfAborted();
    const verdict = judgeMonitored(o.mapped, await o.ask(), o.needed);
    if (verdict.kind === "ok") return;
    if (verdict.kind === "unmonitored") throw unmonitoredError(verdict.missing, verdict.monitored);
    const delay = doubling(o.firstDelayMs ?? 250, attempt - 1, o.maxDelayMs ?? 5_000);
    o.log.warn(
      { sentinels, answered: verdict.answered, needed: verdict.needed, attempt, retryInMs: delay },
      "sentinels not answering yet, retrying",
    );
    await sleep(delay, undefined, { signal: o.signal }).catch(() => undefined);
  }
}

/** The Sentinels as the runtime uses them: the functions' SentinelClient, plus what start-up, resync and shutdown need. */
import { SentinelPool } from "../sentinel-quorum.ts";
import type { RuntimeConfig } from "./config.ts";
import type { SentinelClient } from "./context.ts";

/** SentinelPool is one; tests hand in FakeSentinels. */
export interface RuntimeSentinels extends SentinelClient {
  /** Names of every master any Sentinel monitors. */
  masterNames(): Promise<string[]>;
  /** Each Sentinel's monitored master names; undefined where one does not answer. */
  monitored(): Promise<(string[] | undefined)[]>;
  close(): void;
}

/** Persistent connections to the SENTINELS of the configuration. */
export function runtimeSentinels(c: RuntimeConfig): RuntimeSentinels {
  return new SentinelPool({ sentinels: c.SENTINELS, password: c.SENTINEL_PASSWORD, quorum: c.SENTINEL_QUORUM });
}

/** `failover relay`: runs the sentinel-relay until SIGTERM/SIGINT, then drains. */
import { ConfigError } from "../../shared/errors.ts";
import { logger } from "../../shared/logger.ts";
import { runUntilSignal } from "../../shared/signals.ts";
import { relayConfig } from "./config.ts";
import { Relay } from "./relay.ts";

export async function main(_args: string[]): Promise<number | void> {
  let config;
  try {
    config = relayConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`sentinel-relay: bad configuration: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const relay = new Relay(config);
  await runUntilSignal(relay, logger.child({ fn: "sentinel-relay" }));
  return 0;
}

/** `failover run <function>...`: runs one or several functions in this process until SIGTERM. */
import { functions } from "../../functions/index.ts";
import { ConfigError } from "../errors.ts";
import { logger } from "../logger.ts";
import { runUntilSignal } from "../signals.ts";
import { runtimeConfig } from "./config.ts";
import { Runtime } from "./runtime.ts";

export async function main(args: string[]): Promise<number | void> {
  const names = args.length > 0 ? args : (process.env.FUNCTIONS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(n in functions));
  if (names.length === 0 || unknown.length > 0) {
    console.error(`${unknown.length ? `unknown function(s): ${unknown.join(", ")}\n` : ""}usage: failover run <function>... (or FUNCTIONS=a,b)\nfunctions: ${Object.keys(functions).join(", ")}`);
    return 2;
  }
  let config;
  try {
    config = runtimeConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`failover run: bad configuration: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const runtime = new Runtime(config, names.map((n) => functions[n]!));
  await runUntilSignal(runtime, logger.child({ functions: names }));
  return 0;
}

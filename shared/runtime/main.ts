/**
 * `failover run <function>...`: runs one or several functions in this process until SIGTERM. The
 * entry point hands in the built-in registry (bin/run.ts); anything else is loaded by path or
 * package name (load-functions.ts), so a hook needs no change to this repository.
 */
import { ConfigError, FunctionLoadError } from "../errors.ts";
import { logger } from "../logger.ts";
import { runUntilSignal } from "../signals.ts";
import { runtimeConfig } from "./config.ts";
import { loadFunctions } from "./load-functions.ts";
import type { FunctionRegistry } from "./load-functions.ts";
import { Runtime } from "./runtime.ts";

export async function runFunctions(args: string[], builtins: FunctionRegistry, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const specs =
    args.length > 0
      ? args
      : (env.FUNCTIONS ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
  if (specs.length === 0) {
    console.error(
      `usage: failover run <function | ./module.js | package>... (or FUNCTIONS=a,b)\nbuilt-in functions: ${Object.keys(builtins).join(", ")}`,
    );
    return 2;
  }
  let runtime: Runtime;
  try {
    const functions = await loadFunctions(specs, builtins);
    runtime = new Runtime(runtimeConfig(env), functions, { env });
  } catch (err) {
    if (err instanceof FunctionLoadError) {
      console.error(`failover run: ${err.message}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(`failover run: bad configuration: ${err.message}`);
      return 2;
    }
    throw err;
  }
  try {
    await runUntilSignal(runtime, logger.child({ functions: runtime.functions.map((f) => f.name) }));
  } catch (err) {
    // Found at start against the live system (MASTERS naming a master no Sentinel monitors): one line, exit 2.
    if (!(err instanceof ConfigError)) throw err;
    await runtime.stop();
    console.error(`failover run: bad configuration: ${err.message}`);
    return 2;
  }
  return 0;
}

/** `failover init redis|sentinel`: the init containers of the redis and sentinel pods. */
import { runInit } from "./loop.ts";
import { InitError } from "../shared/errors.ts";

export async function main(args: string[]): Promise<number> {
  const which = args[0];
  if (which === "redis") return (await import("./redis.ts")).main();
  if (which === "sentinel") return (await import("./sentinel.ts")).main();
  return runInit("init", () =>
    Promise.reject(new InitError(`usage: failover init redis|sentinel (got ${JSON.stringify(args.join(" "))})`)),
  );
}

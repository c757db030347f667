/** The runtime's RedisAccess: short-lived probe connections with the Redis password. */
import { withRedis } from "../redis-probe.ts";
import type { RedisAccess } from "./context.ts";

export function redisAccess(password: string | undefined): RedisAccess {
  return {
    session: (addr, fn, timeouts) =>
      withRedis(addr, password, (r) => fn({ call: (command, ...args) => r.call(command, ...args) }), timeouts),
  };
}

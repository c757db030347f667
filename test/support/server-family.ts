/**
 * The server family a test file runs on: the integration layer runs its failover core twice,
 * once per family (test/integration/vitest.config.ts sets FAILOVER_SERVER per project).
 */
import { z } from "zod";
import { SERVER_FAMILIES } from "../../sandbox/paths.ts";
import type { ServerFamily } from "../../sandbox/paths.ts";

const env = z.object({ FAILOVER_SERVER: z.enum(SERVER_FAMILIES).default("redis") }).safeParse(process.env);
if (!env.success) {
  throw new Error(`FAILOVER_SERVER must be one of ${SERVER_FAMILIES.join(", ")}, got ${JSON.stringify(process.env.FAILOVER_SERVER)}`);
}

/** `redis` unless FAILOVER_SERVER says `valkey`. */
export const SERVER: ServerFamily = env.data.FAILOVER_SERVER;

/**
 * The server family a test file runs on: the integration layer runs its failover core twice,
 * once per family (test/integration/vitest.config.ts sets FAILOVER_SERVER per project).
 */
import { serverFamily } from "../../sandbox/paths.ts";
import type { ServerFamily } from "../../sandbox/paths.ts";

/** `redis` unless FAILOVER_SERVER says `valkey`. */
export const SERVER: ServerFamily = serverFamily(process.env.FAILOVER_SERVER, "FAILOVER_SERVER");

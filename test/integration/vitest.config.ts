import { defineConfig } from "vitest/config";
import type { TestProjectInlineConfiguration } from "vitest/config";

// Real servers (the sandbox): one test file at a time on a 2-core machine (one sandbox at a time:
// its addresses are fixed), generous deadlines.
const common = {
  root: new URL("../..", import.meta.url).pathname,
  pool: "forks" as const,
  testTimeout: 120_000,
  hookTimeout: 180_000,
  globalSetup: ["test/integration/global-setup.ts"],
};

// The failover core: relay one event per failover, every function converging, init containers
// rejoining, the redis container's probe and preStop, clients through redis-master and through
// Sentinel, the e2e failover on real pods. It runs on both server families; everything else does
// not depend on the server (test/integration/valkey-migration-on-node.test.ts moves Redis to Valkey).
const FAILOVER_CORE = [
  "functions/sentinel-relay/relay.integration.test.ts",
  "test/integration/functions.test.ts",
  "test/integration/init.test.ts",
  "test/integration/sandbox.test.ts",
  "test/integration/chaos-short.test.ts",
  // the same e2e failover on the real node, with components/valkey for Valkey
  "test/integration/failover-on-node.test.ts",
];

const project = (name: string, include: string[], env: Record<string, string>): TestProjectInlineConfiguration => ({
  test: { ...common, name, include, env },
});

export default defineConfig({
  test: {
    maxWorkers: 1,
    fileParallelism: false,
    projects: [
      project("integration", ["test/integration/**/*.test.ts", "functions/**/*.integration.test.ts"], { FAILOVER_SERVER: "redis" }),
      project("integration-valkey", FAILOVER_CORE, { FAILOVER_SERVER: "valkey" }),
    ],
  },
});

import { defineConfig } from "vitest/config";

// The shipped stack on the sandbox's real node, the long scenarios (`npm run test:e2e`): one file
// at a time (one node per machine), generous deadlines. The same global setup as the integration
// layer: it checks the binaries, and fails the run if a sandbox process or node cgroup is left.
export default defineConfig({
  test: {
    name: "e2e",
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/e2e/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 900_000,
    globalSetup: ["test/integration/global-setup.ts"],
  },
});

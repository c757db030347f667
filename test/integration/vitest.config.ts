import { defineConfig } from "vitest/config";

// Real servers (the sandbox): one test file at a time on a 2-core machine, generous deadlines.
export default defineConfig({
  test: {
    name: "integration",
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/integration/**/*.test.ts", "functions/**/*.integration.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    globalSetup: ["test/integration/global-setup.ts"],
  },
});

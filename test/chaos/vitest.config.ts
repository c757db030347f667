import { defineConfig } from "vitest/config";

// The full chaos suite (npm run test:chaos): long scenarios on the real sandbox, one file at a time.
export default defineConfig({
  test: {
    name: "chaos",
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/chaos/**/*.chaos.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 300_000,
    globalSetup: ["test/integration/global-setup.ts"],
  },
});

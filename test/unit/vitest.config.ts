import { defineConfig } from "vitest/config";

// Fast tests of pure logic: no servers, run in parallel.
export default defineConfig({
  test: {
    name: "unit",
    root: new URL("../..", import.meta.url).pathname,
    include: [
      "test/unit/**/*.test.ts",
      "bin/**/*.test.ts",
      "functions/**/*.test.ts",
      "shared/**/*.test.ts",
      "sandbox/**/*.test.ts",
      "bench/**/*.test.ts",
      "init/**/*.test.ts",
    ],
    exclude: ["**/*.integration.test.ts", "node_modules/**"],
  },
});

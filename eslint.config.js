// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The image ships bin, shared, functions and init; none of it may reach dev code. (Repeated in
// shared/'s own rule below: a later flat-config block replaces the rule, it does not merge it.)
const shipsOnly = {
  regex: "(^|/)(sandbox|demo|bench|test)/",
  message: "the image ships bin, shared, functions and init only: this import breaks the production build",
};

/**
 * A block refusing imports that match `patterns` in `files` (tests excepted).
 * @param {string[]} files
 * @param {{ regex: string, message: string }[]} patterns
 */
const restrictImports = (files, patterns) => ({
  files,
  ignores: ["**/*.test.ts"],
  rules: { "no-restricted-imports": ["error", { patterns }] },
});

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "sandbox/tools/", "coverage/", ".scaffold-test-*/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js", "manifests/components/*/*.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { prefer: "type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  {
    // Plain Node scripts shipped in manifests (components/master-forward/relay.mjs).
    files: ["manifests/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  // What the image ships (the Dockerfile copies bin, shared, functions, init) never reaches dev code.
  restrictImports(["bin/**/*.ts", "shared/**/*.ts", "functions/**/*.ts", "init/**/*.ts"], [shipsOnly]),
  // The framework never imports what runs on it: the entry point (bin/) hands it the registry.
  restrictImports(
    ["shared/**/*.ts"],
    [
      shipsOnly,
      {
        regex: "(^|/)(functions|bin)/",
        message: "shared/ is the framework: functions are handed to it by the entry point (bin/run.ts), never imported",
      },
    ],
  ),
  // A function process never loads @kubernetes/client-node's index (every generated client, the
  // KubeConfig and its auth providers: about 90 MB of RSS). Types are free; the two modules that
  // hand a kubeconfig to client-node when only it can serve one load it on their own.
  {
    files: ["bin/**/*.ts", "shared/**/*.ts", "functions/**/*.ts"],
    ignores: ["**/*.test.ts", "**/testing/**", "shared/kube-config.ts", "shared/kube-access-client-node.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: [
            {
              name: "@kubernetes/client-node",
              allowTypeImports: true,
              message:
                "a function process must not load client-node's index (about 90 MB of RSS): use shared/runtime/kube.ts, or import type",
            },
          ],
        },
      ],
    },
  },
  // The init containers decide alone, before any function runs: none of the functions runtime.
  restrictImports(
    ["init/**/*.ts"],
    [
      shipsOnly,
      {
        regex: "(^|/)shared/runtime/",
        message: "init/ runs in the init containers: it may use shared/, never the functions runtime (shared/runtime/)",
      },
    ],
  ),
  // Benchmarks run on the sandbox, not on the demo or the test suites' helpers (what both need lives in sandbox/).
  restrictImports(
    ["bench/**/*.ts"],
    [{ regex: "(^|/)(demo|test)/", message: "bench/ may use sandbox/ and shared/, not demo/ or test/: move what both need to sandbox/" }],
  ),
  // The demo shows the project on the sandbox; the tests' helpers are not part of it.
  restrictImports(
    ["demo/**/*.ts"],
    [{ regex: "(^|/)test/", message: "demo/ may use sandbox/ and shared/, not test/: move what both need to sandbox/" }],
  ),
);

/**
 * `failover new hook`: the folder it writes, and its unit test run as written (vitest in a child
 * process, "failover-functions" resolving to this checkout's SDK and test kit through a shim package).
 */
import { PROJECT_IMAGE_LABEL } from "../shared/runtime/manifests.ts";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderFunctionFiles } from "../shared/runtime/manifests.ts";
import { writeHook } from "./new.ts";
import { moduleInImage, PRODUCTION_IMAGE, scaffoldAccess } from "./scaffold-hook.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const versions = { runtime: "9.8.7", zod: "4.6.7", typescript: "6.0.3", vitest: "5.1.1", typesNode: "26.6.6" };

let parent: string;
let dir: string;
const read = (path: string) => readFileSync(join(dir, path), "utf8");

beforeAll(() => {
  // inside the checkout, so zod and vitest resolve from its node_modules as from the hook's own
  parent = mkdtempSync(join(ROOT, ".scaffold-test-"));
  dir = writeHook(parent, "slack-notify", versions);
});

afterAll(() => {
  rmSync(parent, { recursive: true, force: true });
});

describe("failover new hook", () => {
  it("writes the module, its test, a Dockerfile, a kustomize component and the project files", () => {
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((f) => !f.endsWith("deploy") && !f.endsWith("rbac") && !f.endsWith("deployments"))
      .sort();
    expect(files).toEqual(
      [
        ".dockerignore",
        ".gitignore",
        "Dockerfile",
        "README.md",
        "deploy/deployments/slack-notify.yaml",
        "deploy/kustomization.yaml",
        "deploy/rbac/slack-notify.yaml",
        "index.test.ts",
        "index.ts",
        "package.json",
        "tsconfig.json",
      ].sort(),
    );
    expect(read("index.ts")).toContain('import { defineFunction, EPOCH_ANNOTATION } from "failover-functions";');
    expect(read("index.test.ts")).toContain('from "failover-functions/testing"');
    expect(JSON.parse(read("package.json"))).toMatchObject({
      name: "slack-notify",
      type: "module",
      dependencies: { "failover-functions": "^9.8.7", zod: "4.6.7" },
    });
  });

  it("builds its image FROM the production image of this version, plus the compiled module where the Deployment runs it", () => {
    const dockerfile = read("Dockerfile");
    expect(dockerfile).toMatch(new RegExp(`^FROM ${PRODUCTION_IMAGE}:9\\.8\\.7$`, "m"));
    expect(dockerfile).toMatch(/^COPY dist\/ \/app\/hooks\/slack-notify\/$/m);
    expect(read("deploy/deployments/slack-notify.yaml")).toContain(`args: ["run", "${moduleInImage("slack-notify")}"]`);
    expect(read("deploy/deployments/slack-notify.yaml")).toContain("image: slack-notify\n");
    // Not marked as running this project's image: overlays/dev's `node --watch` patch (for the dev
    // target) selects that label, and would break a hook added to that overlay.
    expect(read("deploy/deployments/slack-notify.yaml")).not.toContain(PROJECT_IMAGE_LABEL);
  });

  it("deploys through a Component whose Role is generated from the access index.ts declares, nothing more", () => {
    expect(read("deploy/kustomization.yaml")).toMatch(
      /kind: Component\nresources:\n {2}- rbac\/slack-notify.yaml\n {2}- deployments\/slack-notify.yaml\n/,
    );
    const generated = renderFunctionFiles(
      [{ name: "slack-notify", on: ["switch-master"], access: scaffoldAccess("slack-notify"), reconcile: () => Promise.resolve() }],
      {},
    );
    expect(read("deploy/rbac/slack-notify.yaml")).toBe(generated["rbac/slack-notify.yaml"]);
    // the declaration in index.ts is the same rules
    for (const rule of scaffoldAccess("slack-notify").kube ?? [])
      expect(read("index.ts")).toContain(`verbs: ${JSON.stringify(rule.verbs).replaceAll(",", ", ")}`);
    expect(read("index.ts")).toContain('names: ["slack-notify"]');
  });

  it("refuses a folder that exists", () => {
    expect(() => writeHook(parent, "slack-notify", versions)).toThrow(/exists already/);
  });

  it("its own unit test passes as written, on the test kit", async () => {
    const shim = join(dir, "node_modules", "failover-functions");
    mkdirSync(shim, { recursive: true });
    writeFileSync(
      join(shim, "package.json"),
      JSON.stringify({ name: "failover-functions", type: "module", exports: { ".": "./sdk.js", "./testing": "./testing.js" } }),
    );
    writeFileSync(join(shim, "sdk.js"), `export * from ${JSON.stringify(join(ROOT, "shared/runtime/sdk.ts"))};\n`);
    writeFileSync(join(shim, "testing.js"), `export * from ${JSON.stringify(join(ROOT, "shared/runtime/testing/index.ts"))};\n`);
    const res = await run(process.execPath, [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--root", dir], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1" },
    });
    expect(res.stdout).toMatch(/Tests\s+1 passed \(1\)/);
  }, 60_000);
});

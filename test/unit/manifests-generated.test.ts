/** manifests/base/functions, components/functions-host and components/pod-loss-failover are the generator's output: a declaration changed without `npm run manifests` fails here. */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { baseFunctions, functions } from "../../functions/index.ts";
import { renderFunctionFiles, renderHostFiles } from "../../shared/runtime/manifests.ts";

const DIR = fileURLToPath(new URL("../../manifests/base/functions/", import.meta.url));
const HOST_DIR = fileURLToPath(new URL("../../manifests/components/functions-host/", import.meta.url));
const POD_LOSS_DIR = fileURLToPath(new URL("../../manifests/components/pod-loss-failover/", import.meta.url));

describe("manifests/base/functions", () => {
  const files = renderFunctionFiles(baseFunctions);

  it.each(Object.keys(files))("%s is what `npm run manifests` writes", (path) => {
    expect(readFileSync(`${DIR}${path}`, "utf8"), "run `npm run manifests` after changing a function's declaration").toBe(files[path]);
  });

  it("holds no other function's RBAC file, and the kustomization lists every generated file", () => {
    expect(readdirSync(`${DIR}rbac`).sort()).toEqual(baseFunctions.map((f) => `${f.name}.yaml`).sort());
    const kustomization = readFileSync(`${DIR}kustomization.yaml`, "utf8");
    for (const path of Object.keys(files)) expect(kustomization).toContain(`- ${path}`);
  });
});

describe("manifests/components/functions-host", () => {
  const files = renderHostFiles(baseFunctions);

  it.each(Object.keys(files))("%s is what `npm run manifests` writes", (path) => {
    expect(readFileSync(`${HOST_DIR}${path}`, "utf8"), "run `npm run manifests` after changing a function's declaration").toBe(files[path]);
  });

  it("holds nothing else", () => {
    expect(readdirSync(HOST_DIR).sort()).toEqual(Object.keys(files).sort());
  });
});

describe("manifests/components/pod-loss-failover", () => {
  const files = renderFunctionFiles([functions["pod-loss-failover"]!]);

  it.each(Object.keys(files))("%s is what `npm run manifests` writes", (path) => {
    expect(readFileSync(`${POD_LOSS_DIR}${path}`, "utf8"), "run `npm run manifests` after changing a function's declaration").toBe(
      files[path],
    );
  });

  it("the component lists every generated file", () => {
    const kustomization = readFileSync(`${POD_LOSS_DIR}kustomization.yaml`, "utf8");
    for (const path of Object.keys(files)) expect(kustomization).toContain(`- ${path}`);
  });
});

import { describe, expect, it } from "vitest";
import { baseFunctionNames, baseFunctions, functions } from "./index.ts";

describe("the built-in functions", () => {
  it("names each base function once, in the registry's order, and every one is in the registry", () => {
    expect(baseFunctionNames).toEqual([
      "label-master",
      "master-endpoints",
      "master-configmap",
      "kube-events",
      "fence-old-master",
      "sentinel-reset",
    ]);
    expect(baseFunctions.every((f) => functions[f.name] === f)).toBe(true);
    expect(Object.keys(functions)).toEqual([...baseFunctionNames, "webhook", "pod-loss-failover"]);
  });
});

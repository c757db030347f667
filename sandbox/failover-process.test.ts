import { describe, expect, it } from "vitest";
import { deploymentOf, imageNodeOptionsFor, manifestMemoryLimitMiB, nodeOptionsUnderLimit } from "./failover-process.ts";

describe("a process beside the sandbox gets the heap its pod would", () => {
  it("turns the old generation's percentage into MiB of the Deployment's memory limit, keeping every other flag", () => {
    expect(nodeOptionsUnderLimit("--max-semi-space-size=2 --max-old-space-size-percentage=33", 192)).toBe(
      "--max-semi-space-size=2 --max-old-space-size=63",
    );
    expect(nodeOptionsUnderLimit("--max-old-space-size-percentage=12.5 --trace-gc", 256)).toBe("--max-old-space-size=32 --trace-gc");
    expect(nodeOptionsUnderLimit("--max-semi-space-size=2", 192)).toBe("--max-semi-space-size=2");
  });

  it("reads each process's limit from the manifest that deploys it", () => {
    expect(deploymentOf(["relay"])).toMatch(/base\/functions\/deployments\/sentinel-relay\.yaml$/);
    expect(deploymentOf(["run", "label-master"])).toMatch(/base\/functions\/deployments\/label-master\.yaml$/);
    expect(deploymentOf(["run", "label-master", "master-endpoints"])).toMatch(/components\/functions-host\/host\.yaml$/);
    expect(deploymentOf(["run", "webhook"])).toMatch(/components\/webhook\/deployment\.yaml$/);
    expect(manifestMemoryLimitMiB(deploymentOf(["run", "webhook"])!)).toBe(192);
    expect(deploymentOf(["run", "pod-loss-failover"])).toMatch(/components\/pod-loss-failover\/deployments\/pod-loss-failover\.yaml$/);
    expect(manifestMemoryLimitMiB(deploymentOf(["run", "pod-loss-failover"])!)).toBe(192);
    expect(deploymentOf(["run", "./dist/my-hook.js"])).toBeUndefined();
    expect(deploymentOf(["init", "redis"])).toBeUndefined();
    expect(manifestMemoryLimitMiB(deploymentOf(["relay"])!)).toBe(192);
    expect(manifestMemoryLimitMiB(deploymentOf(["run", "a", "b"])!)).toBe(256);
    expect(() => manifestMemoryLimitMiB(new URL("../package.json", import.meta.url).pathname)).toThrow(/no container memory limit/);
  });

  it("starts the relay and the functions host with the image's options at their limits", () => {
    expect(imageNodeOptionsFor(["relay"])).toBe("--max-semi-space-size=2 --max-old-space-size=63");
    expect(imageNodeOptionsFor(["run", "label-master", "master-endpoints"])).toBe("--max-semi-space-size=2 --max-old-space-size=84");
  });
});

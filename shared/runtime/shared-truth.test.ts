import { describe, expect, it } from "vitest";
import type { MasterTruth } from "../sentinel-quorum.ts";
import { InFlightTruths } from "./shared-truth.ts";

const truth: MasterTruth = { name: "mymaster", host: "198.18.100.11", port: 6379, epoch: 4, votes: 3, asked: 3 };

describe("InFlightTruths", () => {
  it("joins a verification of the same event in flight instead of asking the Sentinels again", async () => {
    const truths = new InFlightTruths();
    let asked = 0;
    const ask = async () => {
      asked++;
      await new Promise((r) => setTimeout(r, 20));
      return truth;
    };
    const answers = await Promise.all([
      truths.for("mymaster", "e1", ask),
      truths.for("mymaster", "e1", ask),
      truths.for("mymaster", "e1", ask),
    ]);
    expect(answers).toEqual([truth, truth, truth]);
    expect(asked).toBe(1);
    expect(truths.size).toBe(0);
  });

  it("asks again for another event, another master, and once the first verification settled", async () => {
    const truths = new InFlightTruths();
    let asked = 0;
    const ask = () => {
      asked++;
      return Promise.resolve(truth);
    };
    await Promise.all([truths.for("mymaster", "e1", ask), truths.for("mymaster", "e2", ask), truths.for("other", "e1", ask)]);
    expect(asked).toBe(3);
    await truths.for("mymaster", "e1", ask);
    expect(asked).toBe(4);
  });

  it("hands a failed verification to every joiner, and forgets it", async () => {
    const truths = new InFlightTruths();
    const failing = () => Promise.reject(new Error("no quorum"));
    const both = await Promise.allSettled([truths.for("m", "e", failing), truths.for("m", "e", () => Promise.resolve(truth))]);
    expect(both.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await truths.for("m", "e", () => Promise.resolve(truth))).toEqual(truth);
  });
});

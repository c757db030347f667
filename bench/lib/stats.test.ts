import { describe, expect, it } from "vitest";
import { percentile, summarize, table } from "./stats.ts";

describe("stats", () => {
  it("takes nearest-rank percentiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(summarize([3, 1, 2, Number.NaN])).toMatchObject({ n: 3, p50: 2, min: 1, max: 3, mean: 2 });
  });

  it("renders a markdown table", () => {
    expect(table(["a", "bb"], [[1, 2]])).toBe("| a | bb |\n| - | -- |\n| 1 | 2  |");
  });
});

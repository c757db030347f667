import { describe, expect, it } from "vitest";
import { figure, percentile, summarize, table } from "./stats.ts";

describe("stats", () => {
  it("takes nearest-rank percentiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(summarize([3, 1, 2, Number.NaN])).toMatchObject({ n: 3, p50: 2, min: 1, max: 3, mean: 2 });
  });

  it("gives a p99 only from at least 100 samples, otherwise the max", () => {
    expect(figure(Array.from({ length: 99 }, (_, i) => i + 1))).toEqual({ n: 99, p50: 50, max: 99 });
    expect(figure(Array.from({ length: 200 }, (_, i) => i + 1))).toEqual({ n: 200, p50: 100, p99: 198, max: 200 });
  });

  it("renders a markdown table", () => {
    expect(table(["a", "bb"], [[1, 2]])).toBe("| a | bb |\n| - | -- |\n| 1 | 2  |");
  });
});

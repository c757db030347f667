import { describe, expect, it } from "vitest";
import { doubling } from "./backoff.ts";

describe("doubling", () => {
  it("starts at the first wait, doubles, and stops at the ceiling", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 100].map((n) => doubling(50, n, 2000))).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it("treats a negative count as none", () => {
    expect(doubling(100, -1, 10_000)).toBe(100);
  });
});

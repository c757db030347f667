import { describe, expect, it } from "vitest";
import { Writer } from "./writer.ts";

describe("Writer.firstAckAfter", () => {
  const w = new Writer({ target: () => undefined, password: undefined, keyPrefix: "t" });
  w.acks.push(
    { id: 0, sentAt: 10, at: 11, host: "a" },
    { id: 1, sentAt: 20, at: 21, host: "b" },
    { id: 2, sentAt: 30, at: 31, host: "a" },
    { id: 3, sentAt: 40, at: 41, host: "b" },
  );

  it("finds the first write sent at or after t, on a host if one is given", () => {
    expect(w.firstAckAfter(0)?.id).toBe(0);
    expect(w.firstAckAfter(20)?.id).toBe(1);
    expect(w.firstAckAfter(21)?.id).toBe(2);
    expect(w.firstAckAfter(21, "b")?.id).toBe(3);
    expect(w.firstAckAfter(41)).toBeUndefined();
    expect(w.firstAckAfter(0, "c")).toBeUndefined();
  });
});

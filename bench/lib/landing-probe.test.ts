import { describe, expect, it } from "vitest";
import { laddrHost } from "./landing-probe.ts";

describe("laddrHost", () => {
  it("reads the server's own address from a CLIENT INFO line", () => {
    const line = "id=7 addr=198.19.0.1:41234 laddr=198.19.0.12:6379 fd=9 name= age=0 idle=0 flags=N db=0\n";
    expect(laddrHost(`$${line.length}\r\n${line}\r\n`)).toBe("198.19.0.12");
  });
  it("gives nothing for a reply without laddr", () => {
    expect(laddrHost("id=7 addr=198.19.0.1:41234 fd=9")).toBeUndefined();
    expect(laddrHost("-NOAUTH Authentication required.")).toBeUndefined();
  });
});

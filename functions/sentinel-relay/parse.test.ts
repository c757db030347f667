import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseSentinelMessage } from "./parse.ts";
import captured from "./fixtures/sentinel-messages.json" with { type: "json" };

const reasonOf = (channel: string, message: string) => {
  const r = parseSentinelMessage(channel, message);
  return r.ok ? "parsed" : r.reason;
};

describe("parseSentinelMessage on captured real Sentinel output", () => {
  it.each(captured)("parses $channel: $message", ({ channel, message }) => {
    const r = parseSentinelMessage(channel, message);
    expect(r).toMatchObject({ ok: true });
    if (!r.ok) return;
    expect(r.event.event).toBe(channel);
    if (["+new-epoch", "+vote-for-leader", "+tilt", "-tilt"].includes(channel)) expect(r.event.master).toBeNull();
    else expect(r.event.master).toBe("mymaster");
  });

  it("reads +switch-master's old and new address", () => {
    const r = parseSentinelMessage("+switch-master", "mymaster 198.18.1.10 6379 198.18.1.12 6379");
    expect(r).toEqual({
      ok: true,
      event: {
        event: "+switch-master",
        master: "mymaster",
        oldMaster: { host: "198.18.1.10", port: 6379 },
        newMaster: { host: "198.18.1.12", port: 6379 },
        masterAddress: { host: "198.18.1.12", port: 6379 },
      },
    });
  });

  it("reads instance details with @ master and a trailing detail", () => {
    const r = parseSentinelMessage(
      "-role-change",
      "slave 198.18.1.12:6379 198.18.1.12 6379 @ mymaster 198.18.1.10 6379 new reported role is master",
    );
    expect(r).toEqual({
      ok: true,
      event: {
        event: "-role-change",
        master: "mymaster",
        instance: { type: "slave", name: "198.18.1.12:6379", host: "198.18.1.12", port: 6379 },
        masterAddress: { host: "198.18.1.10", port: 6379 },
        detail: "new reported role is master",
      },
    });
    expect(parseSentinelMessage("+odown", "master mymaster 198.18.1.10 6379 #quorum 2/2")).toMatchObject({
      ok: true,
      event: { detail: "#quorum 2/2", master: "mymaster" },
    });
    expect(parseSentinelMessage("+new-epoch", "7")).toMatchObject({ ok: true, event: { epoch: 7, master: null } });
  });

  it("accepts hostnames (resolve-hostnames / announce-hostnames) where IPs are", () => {
    const r = parseSentinelMessage(
      "+switch-master",
      "cache redis-0.redis.redis.svc.cluster.local 6379 redis-1.redis.redis.svc.cluster.local 6379",
    );
    expect(r).toMatchObject({
      ok: true,
      event: { master: "cache", newMaster: { host: "redis-1.redis.redis.svc.cluster.local", port: 6379 } },
    });
    const s = parseSentinelMessage("+sdown", "slave redis-2.redis:6379 redis-2.redis 6379 @ cache redis-0.redis 6379");
    expect(s).toMatchObject({ ok: true, event: { instance: { host: "redis-2.redis" }, masterAddress: { host: "redis-0.redis" } } });
    expect(parseSentinelMessage("+sdown", "master cache ::1 6379")).toMatchObject({ ok: true, event: { instance: { host: "::1" } } });
  });

  it("rejects malformed messages with a reason instead of throwing", () => {
    expect(parseSentinelMessage("+switch-master", "mymaster 1.2.3.4 6379")).toEqual({
      ok: false,
      reason: "+switch-master needs 5 fields, got 3",
    });
    expect(reasonOf("+sdown", "replica x 1.2.3.4 6379")).toMatch(/instance type/);
    expect(reasonOf("+sdown", "master m 1.2.3.4 99999")).toMatch(/bad port/);
    expect(reasonOf("+sdown", "slave a:1 1.2.3.4 1")).toMatch(/@ <master>/);
    expect(parseSentinelMessage("__sentinel__:hello", "x")).toMatchObject({ ok: false });
    expect(parseSentinelMessage("+new-epoch", "x")).toMatchObject({ ok: false });
  });
});

describe("parseSentinelMessage fuzzed", () => {
  it("never throws, and every success names its event and a master or none", () => {
    const word = fc.oneof(
      fc.constantFrom("master", "slave", "sentinel", "@", "mymaster", "6379", "1.2.3.4", "#quorum", "2/2"),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom("+switch-master", "+sdown", "-odown", "+new-epoch", "+tilt", "+vote-for-leader"),
          fc.string({ maxLength: 20 }),
        ),
        fc.array(word, { maxLength: 12 }),
        (channel, words) => {
          const r = parseSentinelMessage(channel, words.join(" "));
          if (r.ok) {
            expect(r.event.event).toBe(channel);
            expect(r.event.master === null || r.event.master.length > 0).toBe(true);
          } else expect(r.reason.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

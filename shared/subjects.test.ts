import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { cloudEventType, decodeToken, encodeToken, eventSubject, sentinelEventName, shortName } from "./subjects.ts";

describe("subjects", () => {
  it("names events without their sign", () => {
    expect(shortName("+switch-master")).toBe("switch-master");
    expect(shortName("-sdown")).toBe("minus-sdown");
    expect(sentinelEventName("minus-sdown")).toBe("-sdown");
    expect(sentinelEventName("sdown")).toBe("+sdown");
    expect(cloudEventType("+switch-master")).toBe("io.redis.sentinel.switch-master");
  });

  it("builds subjects with master names encoded as one token", () => {
    expect(eventSubject("redis.sentinel", "mymaster", "+switch-master")).toBe("redis.sentinel.mymaster.switch-master");
    expect(eventSubject("redis.sentinel", "shop.eu*>", "-odown")).toBe("redis.sentinel.shop%2Eeu%2A%3E.minus-odown");
  });

  it("round-trips any master name and never yields a subject separator or wildcard", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1 }), (name) => {
        const token = encodeToken(name);
        expect(token).toMatch(/^[A-Za-z0-9_%-]+$/);
        expect(decodeToken(token)).toBe(name);
      }),
    );
  });
});

import { describe, expect, it } from "vitest";
import { cloudEventAttributesSchema, fromHeaders, sentinelEventDataSchema, toHeaders } from "../../shared/events.ts";
import { parseSentinelMessage } from "./parse.ts";
import type { ParsedEvent } from "./parse.ts";
import { toCloudEvent } from "./cloudevent.ts";

const parsed = (channel: string, message: string): ParsedEvent => {
  const r = parseSentinelMessage(channel, message);
  if (!r.ok) throw new Error(r.reason);
  return r.event;
};
const at = new Date("2026-11-24T10:00:00.100Z");
const s = (i: number) => ({ host: `198.18.0.${10 + i}`, port: 26379 });
const build = (channel: string, message: string, sentinel = s(0), epoch: number | null = 3, receivedAt = at) =>
  toCloudEvent(parsed(channel, message), { epoch, sentinel, channel, message, source: "failover-functions/sentinel-relay", receivedAt });

describe("CloudEvent ids", () => {
  it("gives +switch-master the same id from every Sentinel and relay, whenever it is heard", () => {
    const msg = "mymaster 198.18.1.10 6379 198.18.1.12 6379";
    const ids = [
      build("+switch-master", msg, s(0)),
      build("+switch-master", msg, s(1), 3, new Date(at.getTime() + 4000)),
      build("+switch-master", msg, s(2)),
    ].map((e) => e.attributes.id);
    expect(new Set(ids).size).toBe(1);
    expect(build("+switch-master", msg, s(0), 4).attributes.id).not.toBe(ids[0]);
    expect(build("+switch-master", "mymaster 198.18.1.10 6379 198.18.1.11 6379").attributes.id).not.toBe(ids[0]);
  });

  it("keeps per-Sentinel events apart, and one Sentinel's repeat later apart too", () => {
    const msg = "master mymaster 198.18.1.10 6379";
    const a = build("+sdown", msg, s(0)).attributes.id;
    expect(build("+sdown", msg, s(1)).attributes.id).not.toBe(a);
    expect(build("+sdown", msg, s(0), 3, new Date(at.getTime() + 50)).attributes.id).toBe(a);
    expect(build("+sdown", msg, s(0), 3, new Date(at.getTime() + 10_000)).attributes.id).not.toBe(a);
  });

  it("builds binary-mode attributes and data that the runtime's schemas accept", () => {
    const e = build("+switch-master", "shop.eu 198.18.1.10 6379 198.18.1.12 6379");
    const headers = toHeaders(e.attributes);
    expect(headers["Nats-Msg-Id"]).toBe(e.attributes.id);
    expect(headers["ce-type"]).toBe("io.redis.sentinel.switch-master");
    expect(headers["ce-subject"]).toBe("shop.eu");
    expect(headers["ce-configepoch"]).toBe("3");
    expect(cloudEventAttributesSchema.parse(fromHeaders((n) => headers[n]))).toEqual(e.attributes);
    expect(sentinelEventDataSchema.parse(JSON.parse(JSON.stringify(e.data)))).toMatchObject({
      newMaster: { host: "198.18.1.12" },
      epoch: 3,
    });
    expect(build("+new-epoch", "4", s(0), 4).attributes.subject).toBe("");
  });
});

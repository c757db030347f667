import { describe, expect, it } from "vitest";
import { InvalidEventError } from "../errors.ts";
import { toHeaders } from "../events.ts";
import type { SentinelCloudEvent } from "../events.ts";
import { switchMasterEvent } from "./testing/index.ts";
import { parseEvent } from "./validate.ts";

const event = switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 3, id: "evt-3" });
const bytes = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

function binary(e: SentinelCloudEvent) {
  const h = toHeaders(e.attributes);
  return parseEvent((name) => h[name], bytes(e.data));
}

function structured(body: unknown, contentType = "application/cloudevents+json; charset=utf-8") {
  return parseEvent((name) => (name.toLowerCase() === "content-type" ? contentType : undefined), bytes(body));
}

const invalidField = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (err instanceof InvalidEventError) return err.field;
    throw err;
  }
  return "accepted";
};

describe("parseEvent", () => {
  it("accepts binary mode (ce-* headers, JSON data) and structured mode (one JSON object) alike", () => {
    expect(binary(event)).toEqual(event);
    expect(structured({ ...event.attributes, data: event.data })).toEqual(event);
    // the epoch extension as a JSON number, from a producer that types it
    expect(structured({ ...event.attributes, configepoch: 3, data: event.data }).attributes.configepoch).toBe("3");
  });

  it("names the bad field in either mode", () => {
    expect(invalidField(() => binary({ ...event, attributes: { ...event.attributes, specversion: "0.3" as "1.0" } }))).toBe(
      "ce-specversion",
    );
    expect(invalidField(() => structured({ ...event.attributes, specversion: "0.3", data: event.data }))).toBe("specversion");
    expect(invalidField(() => structured({ ...event.attributes, data: { ...event.data, newMaster: { host: "x", port: 0 } } }))).toBe(
      "data.newMaster.port",
    );
    expect(invalidField(() => structured({ ...event.attributes, subject: "other", data: event.data }))).toBe("subject");
    expect(invalidField(() => structured("{not json"))).toBe("payload");
    expect(invalidField(() => structured([1, 2]))).toBe("payload");
  });

  it("reads a structured body as binary data when the content type says JSON (a producer's data only)", () => {
    expect(invalidField(() => structured({ ...event.attributes, data: event.data }, "application/json"))).toBe("ce-specversion");
  });
});

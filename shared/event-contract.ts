/**
 * The event contract as a versioned public document: a JSON Schema of one event (a CloudEvent 1.0
 * in structured form: the attributes, which binary mode carries as `ce-*` headers, and `data`),
 * generated from the zod schemas the runtime validates with, so a consumer in any language reads
 * the stream with the same rules. Committed as docs/events/sentinel-cloudevent.<version>.schema.json
 * and checked against this by event-contract.test.ts. Additive changes (a new optional field, a new
 * event name) keep the version; removing, renaming or narrowing anything makes a new one.
 */
import { z } from "zod";
import { structuredCloudEventSchema } from "./events.ts";

export const EVENT_CONTRACT_VERSION = "v1";

export const EVENT_CONTRACT_FILE = `docs/events/sentinel-cloudevent.${EVENT_CONTRACT_VERSION}.schema.json`;

/** zod names its startsWith check as a `format` no JSON Schema validator knows; the `pattern` beside it says the same. */
function withoutZodFormats(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutZodFormats);
  if (typeof node !== "object" || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === "format" && v === "starts_with"))
      .map(([k, v]) => [k, withoutZodFormats(v)]),
  );
}

export function eventContractSchema(): Record<string, unknown> {
  const schema = withoutZodFormats(z.toJSONSchema(structuredCloudEventSchema, { target: "draft-2020-12" })) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: `urn:failover-functions:sentinel-cloudevent:${EVENT_CONTRACT_VERSION}`,
    title: `Redis Sentinel announcement as a CloudEvent (${EVENT_CONTRACT_VERSION})`,
    description:
      "One event of stream REDIS_SENTINEL, subject redis.sentinel.<master>.<event>. Binary mode: the attributes below as ce-<name> NATS headers, data as the JSON payload, Nats-Msg-Id = id. Structured mode (content-type application/cloudevents+json): this whole object as the payload.",
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$schema")),
  };
}

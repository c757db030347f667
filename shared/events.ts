/**
 * The contract between sentinel-relay (publisher) and the functions runtime (consumer): a
 * Sentinel announcement as a CloudEvent 1.0 in binary mode over NATS: attributes in `ce-*`
 * headers, JSON data in the payload, `Nats-Msg-Id` = the CloudEvent id (JetStream dedupe). The
 * runtime also accepts structured mode from other producers. Published as a JSON Schema in
 * docs/events/ (shared/event-contract.ts).
 */
import { z } from "zod";
import { CLOUDEVENT_TYPE_PREFIX } from "./subjects.ts";

export const hostPortSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

/** The `<instance-type> <name> <ip> <port>` part of a Sentinel message. */
export const instanceSchema = z.object({
  type: z.enum(["master", "slave", "sentinel"]),
  name: z.string().min(1),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

/** JSON data of every event. */
export const sentinelEventDataSchema = z.object({
  /** Sentinel's event name, sign included: `+switch-master`, `-sdown`. */
  event: z.string().regex(/^[+-][a-z0-9-]+$/),
  /** Master name the event is about; null for Sentinel-wide events (+new-epoch, +vote-for-leader, +tilt, -tilt). */
  master: z.string().min(1).nullable(),
  /** Config epoch of the master when the event was relayed (asked from the Sentinel if the message lacks it); null if unknown. */
  epoch: z.number().int().nonnegative().nullable(),
  /** The Sentinel that announced it. */
  sentinel: hostPortSchema,
  /** The instance the event is about (absent for +switch-master and for +tilt/-tilt-like events). */
  instance: instanceSchema.optional(),
  /** `@ <master-name> <master-ip> <master-port>` part, when present. */
  masterAddress: hostPortSchema.optional(),
  /** +switch-master only. */
  oldMaster: hostPortSchema.optional(),
  newMaster: hostPortSchema.optional(),
  /** Trailing free text, e.g. `#quorum 2/2` or `new reported role is master`. */
  detail: z.string().optional(),
  /** The message exactly as Sentinel sent it (channel name first). */
  raw: z.string(),
  /** When the relay received the announcement (ISO 8601, ms): the start of failover propagation. */
  announcedAt: z.iso.datetime(),
});
export type SentinelEventData = z.infer<typeof sentinelEventDataSchema>;

/** CloudEvent attributes carried as `ce-<name>` headers. */
export const cloudEventAttributesSchema = z.object({
  specversion: z.literal("1.0"),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().startsWith(CLOUDEVENT_TYPE_PREFIX),
  /** The master name ("" for Sentinel-wide events). */
  subject: z.string(),
  time: z.iso.datetime(),
  datacontenttype: z.literal("application/json"),
  /** Extension attribute: the master's config epoch, as a decimal string ("" if unknown). */
  configepoch: z.string().regex(/^\d*$/).optional(),
});
export type CloudEventAttributes = z.infer<typeof cloudEventAttributesSchema>;

/** Structured mode (`content-type: application/cloudevents+json`): the attributes and `data` in one JSON object. */
export const structuredCloudEventSchema = cloudEventAttributesSchema.extend({ data: sentinelEventDataSchema });

export interface SentinelCloudEvent {
  attributes: CloudEventAttributes;
  data: SentinelEventData;
}

const ATTRIBUTE_NAMES = ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "configepoch"] as const;

/** Headers for binary mode: `ce-*`, `content-type`, and `Nats-Msg-Id` = id. */
export function toHeaders(attributes: CloudEventAttributes): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json", "Nats-Msg-Id": attributes.id };
  for (const name of ATTRIBUTE_NAMES) {
    const value = attributes[name];
    if (value !== undefined) headers[`ce-${name}`] = value;
  }
  return headers;
}

/** Reads the `ce-*` headers (via a getter, e.g. `msg.headers.get`) into unvalidated attributes. */
export function fromHeaders(get: (name: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ATTRIBUTE_NAMES) {
    const value = get(`ce-${name}`);
    if (value !== undefined && value !== "") out[name] = value;
  }
  return out;
}

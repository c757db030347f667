/** A JetStream message (binary or structured CloudEvent) into a validated CloudEvent, or an InvalidEventError naming the bad field. */
import type { z } from "zod";
import { cloudEventAttributesSchema, fromHeaders, sentinelEventDataSchema } from "../events.ts";
import type { SentinelCloudEvent } from "../events.ts";
import { InvalidEventError } from "../errors.ts";

function firstIssue(prefix: string, error: z.ZodError): InvalidEventError {
  const issue = error.issues[0]!;
  return new InvalidEventError(`${prefix}${issue.path.map(String).join(".")}`, issue.message);
}

/** Structured mode: the attributes and data in one JSON object (the CloudEvents NATS binding allows both modes). */
function parseStructured(payload: Uint8Array): { attributes: unknown; data: unknown } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new InvalidEventError("payload", "not JSON (content-type application/cloudevents+json)");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new InvalidEventError("payload", "not a JSON object (content-type application/cloudevents+json)");
  const { data, ...attributes } = json as Record<string, unknown>;
  // JSON may carry the epoch extension as a number; binary mode has it as a string
  if (typeof attributes.configepoch === "number") attributes.configepoch = String(attributes.configepoch);
  return { attributes: { subject: "", ...attributes }, data };
}

/** Binary mode: attributes in `ce-*` headers, data as the JSON payload. */
function parseBinary(get: (header: string) => string | undefined, payload: Uint8Array): { attributes: unknown; data: unknown } {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new InvalidEventError("data", "not JSON");
  }
  // The relay sends `ce-subject: ""` for Sentinel-wide events (+new-epoch, +tilt), and NATS reads an
  // empty header as missing: absent means "", which the data.master check below then judges.
  return { attributes: { subject: "", ...fromHeaders(get) }, data };
}

export function parseEvent(get: (header: string) => string | undefined, payload: Uint8Array): SentinelCloudEvent {
  const contentType = get("content-type") ?? get("Content-Type") ?? "";
  const structured = /^application\/cloudevents\+json\b/i.test(contentType);
  const raw = structured ? parseStructured(payload) : parseBinary(get, payload);
  const attrs = cloudEventAttributesSchema.safeParse(raw.attributes);
  if (!attrs.success) throw firstIssue(structured ? "" : "ce-", attrs.error);
  const data = sentinelEventDataSchema.safeParse(raw.data);
  if (!data.success) throw firstIssue("data.", data.error);
  if ((data.data.master ?? "") !== attrs.data.subject)
    throw new InvalidEventError(structured ? "subject" : "ce-subject", `"${attrs.data.subject}" does not match data.master`);
  if (data.data.event === "+switch-master" && !data.data.newMaster)
    throw new InvalidEventError("data.newMaster", "required for +switch-master");
  return { attributes: attrs.data, data: data.data };
}

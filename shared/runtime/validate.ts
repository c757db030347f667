/** A JetStream message into a validated CloudEvent, or an InvalidEventError naming the bad field. */
import type { z } from "zod";
import { cloudEventAttributesSchema, fromHeaders, sentinelEventDataSchema } from "../events.ts";
import type { SentinelCloudEvent } from "../events.ts";
import { InvalidEventError } from "../errors.ts";

function firstIssue(prefix: string, error: z.ZodError): InvalidEventError {
  const issue = error.issues[0]!;
  return new InvalidEventError(`${prefix}${issue.path.map(String).join(".")}`, issue.message);
}

export function parseEvent(get: (header: string) => string | undefined, payload: Uint8Array): SentinelCloudEvent {
  // The relay sends `ce-subject: ""` for Sentinel-wide events (+new-epoch, +tilt), and NATS reads an
  // empty header as missing: absent means "", which the data.master check below then judges.
  const attrs = cloudEventAttributesSchema.safeParse({ subject: "", ...fromHeaders(get) });
  if (!attrs.success) throw firstIssue("ce-", attrs.error);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new InvalidEventError("data", "not JSON");
  }
  const data = sentinelEventDataSchema.safeParse(json);
  if (!data.success) throw firstIssue("data.", data.error);
  if ((data.data.master ?? "") !== attrs.data.subject) throw new InvalidEventError("ce-subject", `"${attrs.data.subject}" does not match data.master`);
  if (data.data.event === "+switch-master" && !data.data.newMaster) throw new InvalidEventError("data.newMaster", "required for +switch-master");
  return { attributes: attrs.data, data: data.data };
}

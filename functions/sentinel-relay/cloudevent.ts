/**
 * A parsed Sentinel announcement as a CloudEvent, with an id derived from what identifies the
 * announcement, so that every Sentinel and every relay replica produce the same id for the same
 * thing and JetStream (Nats-Msg-Id) keeps one copy:
 *   +switch-master: master, epoch, old and new address — the same on all Sentinels: ONE event per failover;
 *   any other event: also the Sentinel that saw it (+sdown by A and by B stay two events), its raw
 *   text, and a 2 s time bucket so that the same Sentinel repeating itself later is a new event
 *   while two relay replicas hearing it at the same moment are one.
 */
import { createHash } from "node:crypto";
import { cloudEventAttributesSchema, sentinelEventDataSchema } from "../../shared/events.ts";
import type { SentinelCloudEvent } from "../../shared/events.ts";
import { cloudEventType } from "../../shared/subjects.ts";
import type { HostPort } from "../../shared/sentinel-quorum.ts";
import type { ParsedEvent } from "./parse.ts";

/** Events that every Sentinel announces identically for one failover. */
const FAILOVER_WIDE = new Set(["+switch-master"]);
export const TIME_BUCKET_MS = 2000;

export function eventId(parsed: ParsedEvent, epoch: number | null, sentinel: HostPort, raw: string, receivedAt: Date): string {
  const key = FAILOVER_WIDE.has(parsed.event)
    ? [parsed.event, parsed.master, epoch, parsed.oldMaster?.host, parsed.oldMaster?.port, parsed.newMaster?.host, parsed.newMaster?.port]
    : [parsed.event, parsed.master, epoch, `${sentinel.host}:${sentinel.port}`, raw, Math.floor(receivedAt.getTime() / TIME_BUCKET_MS)];
  return createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 32);
}

export function toCloudEvent(
  parsed: ParsedEvent,
  options: { epoch: number | null; sentinel: HostPort; channel: string; message: string; source: string; receivedAt: Date },
): SentinelCloudEvent {
  const raw = `${options.channel} ${options.message}`;
  const data = sentinelEventDataSchema.parse({
    event: parsed.event,
    master: parsed.master,
    epoch: options.epoch,
    sentinel: options.sentinel,
    ...(parsed.instance ? { instance: parsed.instance } : {}),
    ...(parsed.masterAddress ? { masterAddress: parsed.masterAddress } : {}),
    ...(parsed.oldMaster ? { oldMaster: parsed.oldMaster } : {}),
    ...(parsed.newMaster ? { newMaster: parsed.newMaster } : {}),
    ...(parsed.detail ? { detail: parsed.detail } : {}),
    raw,
    announcedAt: options.receivedAt.toISOString(),
  });
  const attributes = cloudEventAttributesSchema.parse({
    specversion: "1.0",
    id: eventId(parsed, options.epoch, options.sentinel, raw, options.receivedAt),
    source: options.source,
    type: cloudEventType(parsed.event),
    subject: parsed.master ?? "",
    time: options.receivedAt.toISOString(),
    datacontenttype: "application/json",
    configepoch: options.epoch === null ? "" : String(options.epoch),
  });
  return { attributes, data };
}

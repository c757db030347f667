/**
 * webhook: POSTs each switch-master CloudEvent to WEBHOOK_URLS in the CloudEvents HTTP binding's
 * binary mode (every attribute but datacontenttype as a `ce-*` header, datacontenttype as
 * Content-Type, the data as the body), signed as Standard Webhooks define it, so a receiver verifies
 * with an off-the-shelf library: `webhook-id` (the event id, the same on every retry),
 * `webhook-timestamp` (seconds), `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * keyed by the base64 part of WEBHOOK_SECRET (`whsec_...`). Delivery is at least once: failures are
 * retried with backoff by the runtime; receivers dedupe on `webhook-id`.
 */
import { createHmac } from "node:crypto";
import { RetryableError, TerminalError } from "../../shared/errors.ts";
import type { CloudEventAttributes } from "../../shared/events.ts";
import { z } from "zod";
import { defineFunction } from "../../shared/runtime/define-function.ts";

const urlList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const urls = (text ?? "")
      .split(",")
      .map((u) => u.trim())
      .filter((u) => u !== "");
    for (const u of urls) {
      if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) {
        ctx.addIssue({ code: "custom", message: `not an http(s) URL: ${JSON.stringify(u)}` });
        return z.NEVER;
      }
    }
    return urls;
  });

/** A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes (the key). */
const whsecSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "expected whsec_<base64 key> (Standard Webhooks), e.g. whsec_$(openssl rand -base64 32)")
  .refine((s) => Buffer.from(s.slice("whsec_".length), "base64").length >= 24, "the key after whsec_ must decode to at least 24 bytes");

export const webhookConfigSchema = z
  .object({
    WEBHOOK_URLS: urlList,
    WEBHOOK_SECRET: whsecSecret.optional(),
  })
  .refine((c) => c.WEBHOOK_URLS.length === 0 || c.WEBHOOK_SECRET !== undefined, {
    path: ["WEBHOOK_SECRET"],
    message: "required when WEBHOOK_URLS is set (every POST is signed)",
  });

/** `webhook-signature` (Standard Webhooks, scheme v1) of `body` sent as message `id` at `timestamp` (seconds). */
export function signature(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/** The CloudEvents HTTP binary-mode headers: `ce-<attribute>` for each but datacontenttype, which is Content-Type. */
export function binaryModeHeaders(attributes: CloudEventAttributes): Record<string, string> {
  const { datacontenttype, ...rest } = attributes;
  const headers: Record<string, string> = { "content-type": datacontenttype ?? "application/json" };
  for (const [name, value] of Object.entries(rest)) if (typeof value === "string" && value !== "") headers[`ce-${name}`] = value;
  return headers;
}

export default defineFunction({
  name: "webhook",
  description: "POSTs every failover's CloudEvent to WEBHOOK_URLS.",
  access: {},
  on: ["switch-master"],
  config: webhookConfigSchema,
  async reconcile(ctx, master) {
    const event = ctx.event;
    const urls = ctx.config.WEBHOOK_URLS;
    if (!event || urls.length === 0 || event.data.newMaster?.host !== master.host) return; // resync, or an event the Sentinels contradict
    const body = JSON.stringify(event.data);
    const id = event.attributes.id;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = {
      ...binaryModeHeaders(event.attributes),
      "webhook-id": id,
      "webhook-timestamp": timestamp,
      "webhook-signature": signature(ctx.config.WEBHOOK_SECRET ?? "", id, timestamp, body),
    };
    for (const url of urls) {
      let res: Response;
      try {
        res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.any([AbortSignal.timeout(5000), ctx.signal]) });
      } catch (err) {
        throw new RetryableError(`POST ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (res.status >= 500 || res.status === 408 || res.status === 429) throw new RetryableError(`POST ${url}: HTTP ${res.status}`);
      if (res.status >= 400) throw new TerminalError(`POST ${url}: HTTP ${res.status} (not retried)`);
      ctx.log.info({ url, status: res.status, eventId: event.attributes.id }, "webhook delivered");
    }
  },
});

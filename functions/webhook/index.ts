/**
 * webhook: the custom-hook example. POSTs each switch-master CloudEvent in HTTP binary mode
 * (`ce-*` headers, JSON body) to WEBHOOK_URLS, signed with HMAC-SHA256 over `<timestamp>.<body>`
 * (`X-Failover-Signature: sha256=<hex>`, `X-Failover-Timestamp`). Delivery is at least once:
 * failures are retried with backoff by the runtime; receivers dedupe on `ce-id`.
 */
import { createHmac } from "node:crypto";
import { RetryableError, TerminalError } from "../../shared/errors.ts";
import { toHeaders } from "../../shared/events.ts";
import { z } from "zod";
import { defineFunction } from "../../shared/runtime/define-function.ts";

const urlList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const urls = (text ?? "").split(",").map((u) => u.trim()).filter((u) => u !== "");
    for (const u of urls) {
      if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) {
        ctx.addIssue({ code: "custom", message: `not an http(s) URL: ${JSON.stringify(u)}` });
        return z.NEVER;
      }
    }
    return urls;
  });

export const webhookConfigSchema = z
  .object({
    WEBHOOK_URLS: urlList,
    WEBHOOK_SECRET: z.string().min(16, "at least 16 characters").optional(),
  })
  .refine((c) => c.WEBHOOK_URLS.length === 0 || c.WEBHOOK_SECRET !== undefined, { path: ["WEBHOOK_SECRET"], message: "required when WEBHOOK_URLS is set (every POST is signed)" });

export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
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
    const timestamp = String(Math.floor(Date.now() / 1000));
    const { "Nats-Msg-Id": _id, ...ce } = toHeaders(event.attributes);
    const headers = { ...ce, "content-type": "application/json", "x-failover-timestamp": timestamp, "x-failover-signature": signature(ctx.config.WEBHOOK_SECRET ?? "", timestamp, body) };
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

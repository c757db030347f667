/**
 * A delivery verified by the maintained Standard Webhooks library (npm `standardwebhooks`, a
 * devDependency), as a receiver would, not by this project's own code: the signed request passes,
 * a changed body or a wrong secret does not.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { configOf, fakeContext, switchMasterEvent, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import { Webhook } from "standardwebhooks";
import webhook from "./index.ts";

const SECRET = `whsec_${Buffer.from("a receiver's 32-byte secret key!").toString("base64")}`;
const OTHER = `whsec_${Buffer.from("somebody else's 32-byte key.....").toString("base64")}`;

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("webhook delivery verified with the standardwebhooks library", () => {
  it("verifies, and refuses a changed body or another secret", async () => {
    const posts: { headers: Record<string, string>; body: string }[] = [];
    vi.stubGlobal("fetch", (_url: string, init: RequestInit) => {
      posts.push({ headers: init.headers as Record<string, string>, body: init.body as string }); // the webhook sends a string body and a plain header record
      return Promise.resolve(new Response(null, { status: 204 }));
    });
    const config = configOf(webhook, { WEBHOOK_URLS: "http://hooks.test/a", WEBHOOK_SECRET: SECRET });
    const event = switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 5, id: "evt-verify" });
    await webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.11", epoch: 5 }));
    const [post] = posts;
    expect(post).toBeDefined();
    const receiver = new Webhook(SECRET);
    expect(receiver.verify(post!.body, post!.headers)).toMatchObject({ event: "+switch-master", newMaster: { host: "198.18.100.11" } });
    expect(() => receiver.verify(post!.body.replace("198.18.100.11", "198.18.100.66"), post!.headers)).toThrow();
    expect(() => new Webhook(OTHER).verify(post!.body, post!.headers)).toThrow();
  });
});

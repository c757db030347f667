/**
 * A delivery verified by the maintained Standard Webhooks library (npm `standardwebhooks`, a
 * devDependency), as a receiver would, not by this project's own code: the signed request passes,
 * a changed body or a wrong secret does not. Skipped, saying so, where the library is not installed.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { configOf, fakeContext, switchMasterEvent, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import webhook from "./index.ts";

/** The part of the library's API this test uses (imported by a variable name, so a checkout without it still type-checks). */
interface StandardWebhooks {
  Webhook: new (secret: string) => { verify(payload: string, headers: Record<string, string>): unknown };
}
const LIBRARY = "standardwebhooks";
const lib = (await import(LIBRARY).catch(() => undefined)) as StandardWebhooks | undefined;

const SECRET = `whsec_${Buffer.from("a receiver's 32-byte secret key!").toString("base64")}`;
const OTHER = `whsec_${Buffer.from("somebody else's 32-byte key.....").toString("base64")}`;

afterEach(() => {
  vi.unstubAllGlobals();
});

describe.skipIf(lib === undefined)("webhook delivery verified with the standardwebhooks library", () => {
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
    const receiver = new lib!.Webhook(SECRET);
    expect(receiver.verify(post!.body, post!.headers)).toMatchObject({ event: "+switch-master", newMaster: { host: "198.18.100.11" } });
    expect(() => receiver.verify(post!.body.replace("198.18.100.11", "198.18.100.66"), post!.headers)).toThrow();
    expect(() => new lib!.Webhook(OTHER).verify(post!.body, post!.headers)).toThrow();
  });
});

it.runIf(lib === undefined)("standardwebhooks is not installed here: `npm ci` installs it (devDependency); the verification above is skipped until then", () => {
  expect(lib).toBeUndefined();
});

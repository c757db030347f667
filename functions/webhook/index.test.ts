import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError, RetryableError, TerminalError } from "../../shared/errors.ts";
import { configOf, fakeContext, switchMasterEvent, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import webhook, { signature } from "./index.ts";

const SECRET = "0123456789abcdef0123";
const config = configOf(webhook, { WEBHOOK_URLS: "http://hooks.test/a, http://hooks.test/b", WEBHOOK_SECRET: SECRET });
const event = switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 2, id: "evt-1" });

function stubFetch(status: number) {
  const posts: { url: string; headers: Record<string, string>; body: string }[] = [];
  vi.stubGlobal("fetch", (url: string, init: RequestInit) => {
    posts.push({ url, headers: init.headers as Record<string, string>, body: init.body as string }); // the webhook sends a string body
    return Promise.resolve(new Response(null, { status }));
  });
  return posts;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("webhook", () => {
  it("POSTs the CloudEvent to every URL, signed", async () => {
    const posts = stubFetch(204);
    await webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.11", epoch: 2 }));
    expect(posts.map((p) => p.url)).toEqual(["http://hooks.test/a", "http://hooks.test/b"]);
    const [post] = posts;
    expect(post?.headers["ce-id"]).toBe("evt-1");
    expect(JSON.parse(post?.body ?? "")).toMatchObject({ event: "+switch-master", newMaster: { host: "198.18.100.11" } });
    expect(post?.headers["x-failover-signature"]).toBe(signature(SECRET, post?.headers["x-failover-timestamp"] ?? "", post?.body ?? ""));
  });

  it("posts nothing on a resync or for an event the Sentinels contradict", async () => {
    const posts = stubFetch(204);
    await webhook.reconcile(fakeContext({ config }), verifiedMaster({ host: "198.18.100.11", epoch: 2 }));
    await webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.10", epoch: 2 }));
    expect(posts).toEqual([]);
  });

  it("retries a 5xx and gives up on a 4xx", async () => {
    stubFetch(503);
    await expect(webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.11", epoch: 2 }))).rejects.toBeInstanceOf(RetryableError);
    stubFetch(400);
    await expect(webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.11", epoch: 2 }))).rejects.toBeInstanceOf(TerminalError);
  });

  it("refuses at start URLs without a secret, naming the variable", () => {
    expect(() => configOf(webhook, { WEBHOOK_URLS: "http://hooks.test/a" })).toThrow(ConfigError);
    expect(() => configOf(webhook, { WEBHOOK_URLS: "http://hooks.test/a" })).toThrow(/^WEBHOOK_SECRET: required/);
    expect(() => configOf(webhook, { WEBHOOK_URLS: "ftp://x" })).toThrow(/^WEBHOOK_URLS: not an http/);
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError, RetryableError, TerminalError } from "../../shared/errors.ts";
import { configOf, fakeContext, switchMasterEvent, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import webhook, { signature } from "./index.ts";

const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
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
  it("POSTs the CloudEvent to every URL in HTTP binary mode, signed as Standard Webhooks define it", async () => {
    const posts = stubFetch(204);
    await webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.11", epoch: 2 }));
    expect(posts.map((p) => p.url)).toEqual(["http://hooks.test/a", "http://hooks.test/b"]);
    const [post] = posts;
    expect(JSON.parse(post?.body ?? "")).toMatchObject({ event: "+switch-master", newMaster: { host: "198.18.100.11" } });
    // binary mode: attributes as ce-*, datacontenttype as Content-Type (never a ce-datacontenttype header)
    expect(post?.headers).toMatchObject({
      "ce-id": "evt-1",
      "ce-specversion": "1.0",
      "ce-type": "io.redis.sentinel.switch-master",
      "ce-source": "test",
      "ce-subject": "mymaster",
      "ce-configepoch": "2",
      "content-type": "application/json",
    });
    expect(Object.keys(post?.headers ?? {}).filter((h) => h === "ce-datacontenttype" || h === "Nats-Msg-Id")).toEqual([]);
    // Standard Webhooks: the event id as webhook-id, seconds, v1 signature over id.timestamp.body
    expect(post?.headers["webhook-id"]).toBe("evt-1");
    expect(Math.abs(Number(post?.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(5);
    expect(post?.headers["webhook-signature"]).toBe(signature(SECRET, "evt-1", post?.headers["webhook-timestamp"] ?? "", post?.body ?? ""));
  });

  it("signs as the Standard Webhooks specification's own example", () => {
    // the example message, timestamp, secret and signature of the specification (standardwebhooks.com)
    expect(signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", '{"test": 2432232314}')).toBe(
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
  });

  it("posts nothing on a resync or for an event the Sentinels contradict", async () => {
    const posts = stubFetch(204);
    await webhook.reconcile(fakeContext({ config }), verifiedMaster({ host: "198.18.100.11", epoch: 2 }));
    await webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.10", epoch: 2 }));
    expect(posts).toEqual([]);
  });

  it("retries a 5xx and gives up on a 4xx", async () => {
    stubFetch(503);
    await expect(
      webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.11", epoch: 2 })),
    ).rejects.toBeInstanceOf(RetryableError);
    stubFetch(400);
    await expect(
      webhook.reconcile(fakeContext({ config, event }), verifiedMaster({ host: "198.18.100.11", epoch: 2 })),
    ).rejects.toBeInstanceOf(TerminalError);
  });

  it("refuses at start URLs without a secret, naming the variable", () => {
    expect(() => configOf(webhook, { WEBHOOK_URLS: "http://hooks.test/a" })).toThrow(ConfigError);
    expect(() => configOf(webhook, { WEBHOOK_URLS: "http://hooks.test/a" })).toThrow(/^WEBHOOK_SECRET: required/);
    expect(() => configOf(webhook, { WEBHOOK_URLS: "ftp://x" })).toThrow(/^WEBHOOK_URLS: not an http/);
    expect(() => configOf(webhook, { WEBHOOK_URLS: "http://hooks.test/a", WEBHOOK_SECRET: "0123456789abcdef0123" })).toThrow(
      /^WEBHOOK_SECRET: expected whsec_/,
    );
    expect(() => configOf(webhook, { WEBHOOK_URLS: "http://hooks.test/a", WEBHOOK_SECRET: "whsec_c2hvcnQ=" })).toThrow(
      /^WEBHOOK_SECRET: the key after whsec_ must decode to at least 24 bytes/,
    );
  });
});

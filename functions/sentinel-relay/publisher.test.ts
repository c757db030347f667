import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { SentinelCloudEvent } from "../../shared/events.ts";
import { waitFor } from "../../sandbox/wait.ts";
import { relayMetrics } from "./metrics.ts";
import { Publisher } from "./publisher.ts";
import type { PublishFn } from "./publisher.ts";

const log = pino({ level: "silent" });

/** A JetStream stand-in: every publish waits until the test settles it. */
class FakeJetStream {
  readonly sent: string[] = [];
  readonly pending = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  readonly publish: PublishFn = (_subject, _payload, { msgID }) => {
    this.sent.push(msgID);
    return new Promise((resolve, reject) => {
      this.pending.set(msgID, { resolve: () => resolve({ duplicate: false }), reject });
    });
  };

  ack(id: string): void {
    this.pending.get(id)!.resolve();
    this.pending.delete(id);
  }

  fail(id: string): void {
    this.pending.get(id)!.reject(new Error("timeout"));
    this.pending.delete(id);
  }
}

const event = (id: string): SentinelCloudEvent =>
  ({
    attributes: { specversion: "1.0", id, source: "test", type: "io.redis.sentinel.sdown", time: new Date().toISOString() },
    data: { event: "+sdown", master: "m", epoch: null, sentinel: { host: "198.18.0.1", port: 26379 } },
  }) as SentinelCloudEvent;

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("Publisher", () => {
  let publisher: Publisher | undefined;
  let fake: FakeJetStream | undefined;
  afterEach(async () => {
    const stopped = publisher?.stop(0);
    for (const id of [...(fake?.pending.keys() ?? [])]) fake!.fail(id);
    await stopped;
    publisher = undefined;
  });

  const start = (js: FakeJetStream, o: { max?: number; concurrency: number }) => {
    fake = js;
    return (publisher = new Publisher(js.publish, { max: o.max ?? 100, concurrency: o.concurrency, metrics: relayMetrics(), log }));
  };

  it("keeps `concurrency` publishes in flight, sending the next one as soon as any one is acked", async () => {
    const js = new FakeJetStream();
    const p = start(js, { concurrency: 3 });
    for (const id of ["a", "b", "c", "d", "e"]) p.push({ subject: "s", event: event(id), receivedAt: performance.now() });
    await tick();
    expect(js.sent).toEqual(["a", "b", "c"]);
    js.ack("b"); // not the oldest: a and c are still in flight
    await waitFor("d sent", () => js.sent.length === 4, { timeoutMs: 1000, intervalMs: 1 });
    expect(js.sent).toEqual(["a", "b", "c", "d"]);
    expect(p.size).toBe(4);
    for (const id of ["a", "c", "d"]) js.ack(id);
    await waitFor("e sent", () => js.sent.length === 5, { timeoutMs: 1000, intervalMs: 1 });
    js.ack("e");
    await waitFor("nothing left", () => p.size === 0, { timeoutMs: 1000, intervalMs: 1 });
  });

  it("after a failure retries the failed event first, one at a time, then opens the window again", async () => {
    const js = new FakeJetStream();
    const p = start(js, { concurrency: 2 });
    for (const id of ["a", "b", "c", "d"]) p.push({ subject: "s", event: event(id), receivedAt: performance.now() });
    await tick();
    js.fail("a");
    js.ack("b"); // sent before a failed: no sign that NATS is back
    await waitFor("a retried", () => js.sent.length === 3, { timeoutMs: 1000, intervalMs: 1 });
    expect(p.healthy).toBe(false);
    expect(js.sent).toEqual(["a", "b", "a"]); // a before c and d, and alone
    await tick();
    expect(js.pending.size).toBe(1);
    js.ack("a");
    await waitFor("c and d sent together", () => js.sent.length === 5, { timeoutMs: 1000, intervalMs: 1 });
    expect(js.sent.slice(3)).toEqual(["c", "d"]);
    expect(p.healthy).toBe(true);
    js.ack("c");
    js.ack("d");
    await waitFor("nothing left", () => p.size === 0, { timeoutMs: 1000, intervalMs: 1 });
  });

  it("when full drops the oldest event still waiting, never one in flight", async () => {
    const js = new FakeJetStream();
    const p = start(js, { concurrency: 1, max: 3 });
    p.push({ subject: "s", event: event("a"), receivedAt: performance.now() });
    await tick();
    for (const id of ["b", "c", "d"]) p.push({ subject: "s", event: event(id), receivedAt: performance.now() });
    expect(p.size).toBe(3);
    js.ack("a");
    await waitFor("c sent", () => js.sent.length === 2, { timeoutMs: 1000, intervalMs: 1 });
    expect(js.sent).toEqual(["a", "c"]); // b was dropped
    js.ack("c");
    await waitFor("d sent", () => js.sent.length === 3, { timeoutMs: 1000, intervalMs: 1 });
    js.ack("d");
  });

  it("stop() publishes what is buffered before it returns", async () => {
    const js = new FakeJetStream();
    const p = start(js, { concurrency: 1 });
    for (const id of ["a", "b"]) p.push({ subject: "s", event: event(id), receivedAt: performance.now() });
    const acker = setInterval(() => {
      for (const id of js.pending.keys()) js.ack(id);
    }, 5);
    await p.stop(2000);
    clearInterval(acker);
    expect(js.sent).toEqual(["a", "b"]);
    expect(p.size).toBe(0);
  });
});

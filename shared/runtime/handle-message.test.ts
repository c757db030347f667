import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { InvalidEventError, RbacError, RetryableError, TerminalError } from "../errors.ts";
import { toHeaders } from "../events.ts";
import type { SentinelCloudEvent } from "../events.ts";
import { afterFailure, backoffMs, handleMessage } from "./handle-message.ts";
import type { DeliveredMessage, ReconcileOutcome } from "./handle-message.ts";
import { Lanes } from "./lanes.ts";
import { runtimeMetrics } from "./metrics.ts";
import { switchMasterEvent } from "./testing/index.ts";

/** A delivered message that records what was done with it. */
function fakeMessage(event: SentinelCloudEvent, { deliveryCount = 1, payload }: { deliveryCount?: number; payload?: string } = {}) {
  const headers = toHeaders(event.attributes);
  const done: string[] = [];
  const msg: DeliveredMessage = {
    subject: "redis.sentinel.mymaster.switch-master",
    seq: 7,
    data: new TextEncoder().encode(payload ?? JSON.stringify(event.data)),
    headers: { get: (name) => headers[name] ?? "" },
    info: { deliveryCount },
    ack: () => done.push("ack"),
    nak: (ms) => done.push(`nak ${ms}`),
    term: (reason) => done.push(`term ${reason}`),
  };
  return { msg, done };
}

async function handle(msg: DeliveredMessage, reconcile: () => Promise<ReconcileOutcome | void>, { signal }: { signal?: AbortSignal } = {}) {
  const metrics = runtimeMetrics();
  const deadLetters: string[] = [];
  const reconciled: { master: string; delivery: number }[] = [];
  const requeued: { master: string; delayMs: number }[] = [];
  await handleMessage(msg, {
    fn: "label-master",
    log: pino({ level: "silent" }),
    metrics,
    inLane: (key, work) => new Lanes().run(key, work),
    reconcile: async (master, _event, delivery) => {
      reconciled.push({ master, delivery });
      return reconcile();
    },
    requeue: (master, delayMs) => requeued.push({ master, delayMs }),
    deadLetter: (why) => deadLetters.push(why),
    signal,
  });
  // prom-client's get() is typed loosely here: the values are { labels, value } records
  const values = async (c: { get(): Promise<unknown> }) =>
    ((await c.get()) as { values: { labels: Record<string, string | number>; value: number }[] }).values;
  const handled = Object.fromEntries((await values(metrics.handled)).map((v): [string, number] => [String(v.labels.result), v.value]));
  const failures = (await values(metrics.failures)).reduce((n, v) => n + v.value, 0);
  const phase = await values(metrics.phase);
  // per phase: [count, sum in s] of failover_event_phase_seconds
  const phases = Object.fromEntries(
    [...new Set(phase.map((v) => String(v.labels.phase)))].map((p): [string, [number, number]] => [
      p,
      [
        phase.find((v) => v.labels.phase === p && (v as { metricName?: string }).metricName?.endsWith("_count"))?.value ?? 0,
        phase.find((v) => v.labels.phase === p && (v as { metricName?: string }).metricName?.endsWith("_sum"))?.value ?? 0,
      ],
    ]),
  );
  return { deadLetters, reconciled, requeued, handled, failures, retries: (await values(metrics.retries))[0]?.value ?? 0, phases };
}

const event = switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 3 });

describe("handleMessage: ack, nak, term, dead letter", () => {
  it("acks an event whose reconcile succeeds, counted ok", async () => {
    const { msg, done } = fakeMessage(event, { deliveryCount: 2 });
    const r = await handle(msg, () => Promise.resolve());
    expect(done).toEqual(["ack"]);
    expect(r.reconciled).toEqual([{ master: "mymaster", delivery: 2 }]);
    expect(r.handled).toEqual({ ok: 1 });
    expect(r.deadLetters).toEqual([]);
  });

  it("acks an event whose reconcile asks to be requeued, and requeues its master (an ordinary wait, not a retry)", async () => {
    const { msg, done } = fakeMessage(event, { deliveryCount: 1 });
    const r = await handle(msg, () => Promise.resolve({ requeueAfterMs: 1500 }));
    expect(done).toEqual(["ack"]);
    expect(r.requeued).toEqual([{ master: "mymaster", delayMs: 1500 }]);
    expect(r.handled).toEqual({ ok: 1 });
    expect(r.retries).toBe(0);
    expect(r.failures).toBe(0);
  });

  it("counts an event the Sentinels contradicted under its own result, not ok (acked all the same)", async () => {
    const { msg, done } = fakeMessage(event);
    const r = await handle(msg, () => Promise.resolve({ contradicted: true }));
    expect(done).toEqual(["ack"]);
    expect(r.handled).toEqual({ contradicted: 1 });
  });

  it("requeues nothing when the reconcile returns nothing", async () => {
    const { msg } = fakeMessage(event);
    const r = await handle(msg, () => Promise.resolve({}));
    expect(r.requeued).toEqual([]);
  });

  it("hands an event back at once, uncounted, when its reconcile fails because the process shuts down", async () => {
    const ac = new AbortController();
    const { msg, done } = fakeMessage(event, { deliveryCount: 4 });
    const r = await handle(
      msg,
      () => {
        ac.abort();
        return Promise.reject(new DOMException("stopped", "AbortError"));
      },
      { signal: ac.signal },
    );
    expect(done).toEqual(["nak 0"]);
    expect(r.handled).toEqual({});
    expect(r.failures).toBe(0);
    expect(r.deadLetters).toEqual([]);
  });

  it("naks a retryable failure with the delivery's backoff, never dead-letters it", async () => {
    const { msg, done } = fakeMessage(event, { deliveryCount: 3 });
    const r = await handle(msg, () => Promise.reject(new RetryableError("apiserver busy")));
    expect(done).toEqual([`nak ${backoffMs(3)}`]);
    expect(backoffMs(3)).toBe(400);
    expect(r.handled).toEqual({ retry: 1 });
    expect(r.retries).toBe(1);
    expect(r.deadLetters).toEqual([]);
  });

  it("naks an error that is not the project's (a bug, a network error) too", async () => {
    const { msg, done } = fakeMessage(event);
    await handle(msg, () => Promise.reject(new Error("ECONNRESET")));
    expect(done).toEqual(["nak 100"]);
  });

  it("terms and dead-letters a TerminalError (an RBAC refusal), with its message", async () => {
    const { msg, done } = fakeMessage(event);
    const r = await handle(msg, () => Promise.reject(new RbacError("patch", "pods/redis-0", "default")));
    expect(done).toHaveLength(1);
    expect(done[0]).toMatch(/^term RBAC: not allowed to patch pods\/redis-0/);
    expect(r.deadLetters).toEqual(["terminal"]);
    expect(r.handled).toEqual({ terminal: 1 });
  });

  it("terms and dead-letters an invalid event without reconciling it", async () => {
    const { msg, done } = fakeMessage(event, { payload: "{not json" });
    const r = await handle(msg, () => Promise.resolve());
    expect(done).toEqual(["term invalid event: data: not JSON"]);
    expect(r.reconciled).toEqual([]);
    expect(r.deadLetters).toEqual(["invalid"]);
    expect(r.handled).toEqual({ invalid: 1 });
  });

  it("acks a Sentinel-wide event (no master) without reconciling", async () => {
    const wide: SentinelCloudEvent = {
      attributes: { ...event.attributes, type: "io.redis.sentinel.new-epoch", subject: "" },
      data: {
        event: "+new-epoch",
        master: null,
        epoch: 4,
        sentinel: { host: "127.0.0.1", port: 26379 },
        raw: "+new-epoch 4",
        announcedAt: event.data.announcedAt,
      },
    };
    const { msg, done } = fakeMessage(wide);
    const r = await handle(msg, () => Promise.reject(new Error("must not run")));
    expect(done).toEqual(["ack"]);
    expect(r.reconciled).toEqual([]);
  });
});

describe("handleMessage: where an event's time goes (failover_event_phase_seconds)", () => {
  it("observes delivery (from the relay's announcement) on a first delivery and the lane wait on every one", async () => {
    const late = switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 4 });
    late.data.announcedAt = new Date(Date.now() - 250).toISOString();
    const first = await handle(fakeMessage(late).msg, () => Promise.resolve());
    expect(first.phases.delivery?.[0]).toBe(1);
    expect(first.phases.delivery?.[1]).toBeGreaterThanOrEqual(0.25);
    expect(first.phases.lane?.[0]).toBe(1);
    // A redelivery's age is its backoff, not the path's: not counted as delivery.
    const again = await handle(fakeMessage(late, { deliveryCount: 2 }).msg, () => Promise.resolve());
    expect(again.phases.delivery).toBeUndefined();
    expect(again.phases.lane?.[0]).toBe(1);
  });
});

describe("afterFailure", () => {
  it("ends TerminalError and its subclasses, retries everything else with a backoff capped at 10 s", () => {
    expect(afterFailure(new TerminalError("x"), 1)).toEqual({ action: "term", reason: "x" });
    expect(afterFailure(new InvalidEventError("data", "bad"), 1).action).toBe("term");
    expect(afterFailure(new RetryableError("x"), 1)).toEqual({ action: "nak", delayMs: 100 });
    expect(afterFailure("a string", 50)).toEqual({ action: "nak", delayMs: 10_000 });
  });
});

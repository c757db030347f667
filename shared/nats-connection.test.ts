import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { JetStreamApiError } from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal";
import { AuthorizationError, NoRespondersError, RequestError, TimeoutError } from "@nats-io/transport-node";
import { connectNats, isTransientNatsError, untilNatsAnswers } from "./nats-connection.ts";

const log = pino({ level: "silent" });

describe("NATS start-up errors", () => {
  it("waits through a NATS that is starting or rolling, not through a refusal", () => {
    expect(isTransientNatsError(new TimeoutError())).toBe(true);
    expect(isTransientNatsError(new RequestError("no responders", { cause: new NoRespondersError("$JS.API.INFO") }))).toBe(true);
    expect(isTransientNatsError(new jserrors.JetStreamNotEnabled("jetstream is not enabled"))).toBe(true);
    expect(
      isTransientNatsError(new JetStreamApiError({ code: 503, err_code: 10008, description: "JetStream system temporarily unavailable" })),
    ).toBe(true);
    expect(
      isTransientNatsError(new JetStreamApiError({ code: 400, err_code: 10065, description: "subjects overlap with an existing stream" })),
    ).toBe(false);
    expect(isTransientNatsError(new AuthorizationError("Authorization Violation"))).toBe(false);
    expect(isTransientNatsError(new Error("anything else"))).toBe(false);
  });

  it("retries a step until it answers, doubling its waits", async () => {
    let calls = 0;
    const t0 = performance.now();
    const got = await untilNatsAnswers(
      "streams",
      () => {
        calls++;
        return calls < 3 ? Promise.reject(new TimeoutError()) : Promise.resolve("ok");
      },
      { log, firstDelayMs: 10 },
    );
    expect(got).toBe("ok");
    expect(calls).toBe(3);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(30 - 2); // 10 + 20 ms
  });

  it("throws a refusal at once", async () => {
    let calls = 0;
    const refused = new AuthorizationError("Authorization Violation");
    await expect(
      untilNatsAnswers(
        "streams",
        () => {
          calls++;
          return Promise.reject(refused);
        },
        { log, firstDelayMs: 10 },
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it("stops waiting when shut down, with the last error", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    let calls = 0;
    await expect(
      untilNatsAnswers(
        "streams",
        () => {
          calls++;
          return Promise.reject(new TimeoutError());
        },
        { log, signal: ac.signal, firstDelayMs: 1000 },
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(calls).toBe(1);
  });
});

describe("connectNats", () => {
  it("says whom it connects to at start and logs every failed first attempt, until shut down", async () => {
    const lines: Record<string, unknown>[] = [];
    const seen = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const ac = new AbortController();
    // port 1 on loopback: refused at once
    const connecting = connectNats({ NATS_URL: "nats://127.0.0.1:1" }, "test", {
      log: seen,
      signal: ac.signal,
      firstDelayMs: 10,
      maxDelayMs: 10,
    });
    const failed = connecting.catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 150));
    ac.abort();
    expect(await failed).toBeInstanceOf(Error);
    expect(lines[0]).toMatchObject({ msg: "connecting to nats", servers: ["nats://127.0.0.1:1"] });
    const retries = lines.filter((l) => l.msg === "nats not answering yet, retrying");
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toMatchObject({ step: "connect", attempt: 1 });
  });
});

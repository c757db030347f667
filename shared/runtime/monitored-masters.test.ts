import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { ConfigError } from "../errors.ts";
import { judgeMonitored, untilMastersMonitored } from "./monitored-masters.ts";

const sentinels = [
  { host: "127.0.0.1", port: 26379 },
  { host: "127.0.0.1", port: 26380 },
  { host: "127.0.0.1", port: 26381 },
];

/** A logger whose lines are kept, to assert what a user sees. */
function recordingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe("judgeMonitored", () => {
  it("judges once enough Sentinels answer, by what any of them monitors", () => {
    expect(judgeMonitored(["mymaster"], [["mymaster"], undefined, ["mymaster", "cache"]], 2)).toEqual({ kind: "ok" });
    expect(judgeMonitored(["nosuch", "mymaster"], [["mymaster"], ["cache", "mymaster"], undefined], 2)).toEqual({
      kind: "unmonitored",
      missing: ["nosuch"],
      monitored: ["cache", "mymaster"],
    });
    expect(judgeMonitored(["nosuch"], [["mymaster"], undefined, undefined], 2)).toEqual({ kind: "unanswered", answered: 1, needed: 2 });
  });
});

describe("untilMastersMonitored", () => {
  it("fails with one line naming the master and what the Sentinels monitor", async () => {
    const { log } = recordingLog();
    const err = await untilMastersMonitored({
      mapped: ["nosuch"],
      sentinels,
      needed: 2,
      ask: () => Promise.resolve([["mymaster"], ["mymaster"], ["mymaster"]]),
      log,
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe('MASTERS: master "nosuch" not monitored by any Sentinel; the Sentinels monitor "mymaster"');
    expect((err as ConfigError).message).not.toMatch(/\n/);
  });

  it("says what it waits for at start and on every retry while the Sentinels do not answer, then goes on", async () => {
    const { log, lines } = recordingLog();
    let asked = 0;
    await untilMastersMonitored({
      mapped: ["mymaster"],
      sentinels,
      needed: 2,
      ask: () => Promise.resolve(++asked < 3 ? [undefined, undefined, undefined] : [["mymaster"], ["mymaster"], undefined]),
      log,
      signal: new AbortController().signal,
      firstDelayMs: 5,
    });
    expect(asked).toBe(3);
    expect(lines.map((l) => l.msg)).toEqual([
      "asking the sentinels which masters they monitor",
      "sentinels not answering yet, retrying",
      "sentinels not answering yet, retrying",
    ]);
    expect(lines[1]).toMatchObject({
      sentinels: ["127.0.0.1:26379", "127.0.0.1:26380", "127.0.0.1:26381"],
      answered: 0,
      needed: 2,
      attempt: 1,
    });
  });

  it("stops waiting when shut down", async () => {
    const { log } = recordingLog();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    await expect(
      untilMastersMonitored({
        mapped: ["mymaster"],
        sentinels,
        needed: 2,
        ask: () => Promise.resolve([undefined, undefined, undefined]),
        log,
        signal: ac.signal,
        firstDelayMs: 1000,
      }),
    ).rejects.toBeDefined();
  });
});

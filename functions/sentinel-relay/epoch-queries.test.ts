import { describe, expect, it } from "vitest";
import { EpochQueries } from "./epoch-queries.ts";

/** A Sentinel answering by hand, each query with the epoch it held when the query was sent (listed in `sent`). */
function sentinel() {
  const pending: (() => void)[] = [];
  let epoch = 1;
  const sent: number[] = [];
  return {
    sent,
    set epoch(e: number) {
      epoch = e;
    },
    query: () => {
      const at = epoch;
      sent.push(at);
      return new Promise<number | null>((resolve) => pending.push(() => resolve(at)));
    },
    /** Answers the oldest query still open. */
    answer: async () => {
      pending.shift()!();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe("EpochQueries", () => {
  it("answers every event with a query sent after it arrived, and shares the next query between events that arrive meanwhile", async () => {
    const s = sentinel();
    const queries = new EpochQueries();
    const first = queries.epoch("s1 m", s.query);
    // the failover moves on while the first query is on the wire: later events need a later answer
    s.epoch = 2;
    const second = queries.epoch("s1 m", s.query);
    const third = queries.epoch("s1 m", s.query);
    expect(s.sent).toEqual([1]); // the shared follow-up waits for the first query
    await s.answer();
    expect(await first).toBe(1);
    expect(s.sent).toEqual([1, 2]); // sent after the first settled, so after the second and third arrived
    await s.answer();
    expect(await second).toBe(2);
    expect(await third).toBe(2);
    expect({ asked: queries.asked, sent: queries.sent }).toEqual({ asked: 3, sent: 2 });
  });

  it("starts afresh once a burst is answered, and keeps masters and Sentinels apart", async () => {
    const s = sentinel();
    const queries = new EpochQueries();
    const a = queries.epoch("s1 m", s.query);
    const b = queries.epoch("s1 other", s.query);
    const c = queries.epoch("s2 m", s.query);
    expect(s.sent).toHaveLength(3);
    await s.answer();
    await s.answer();
    await s.answer();
    await Promise.all([a, b, c]);
    s.epoch = 3;
    const d = queries.epoch("s1 m", s.query);
    expect(s.sent).toEqual([1, 1, 1, 3]); // no query left in flight: this one goes out at once
    await s.answer();
    expect(await d).toBe(3);
  });

  it("a failed query answers null, and the events waiting behind it still get a query of their own", async () => {
    const queries = new EpochQueries();
    let rejectFirst: (err: Error) => void = () => undefined;
    const first = queries.epoch("s1 m", () => new Promise<number | null>((_, reject) => (rejectFirst = reject)));
    const second = queries.epoch("s1 m", () => Promise.resolve(7));
    rejectFirst(new Error("Command timed out"));
    expect(await first).toBeNull();
    expect(await second).toBe(7);
    expect(queries.sent).toBe(2);
  });
});

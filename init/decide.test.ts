import { describe, expect, it } from "vitest";
import { decideRedis, decideSentinel } from "./decide.ts";
import type { MasterRecord, RedisInputs, SentinelAnswer } from "./decide.ts";

const S = ["s0:26379", "s1:26379", "s2:26379"];
const names = (host: string, epoch: number, knownReplicas = 2): SentinelAnswer => ({
  kind: "master",
  host,
  port: 6379,
  epoch,
  knownReplicas,
  downAfterMs: 5000,
  failoverTimeoutMs: 60_000,
});
const down: SentinelAnswer = { kind: "unreachable", reason: "ECONNREFUSED" };
const unknown: SentinelAnswer = { kind: "unknown" };
const record = (pod: string, host: string, epoch: number, master = "mymaster"): MasterRecord => ({
  kind: "record",
  master,
  host,
  port: 6379,
  pod,
  epoch,
});

function redis(over: Partial<RedisInputs>): RedisInputs {
  return {
    masterName: "mymaster",
    quorum: 2,
    sentinels: S,
    answers: [down, down, down],
    record: { kind: "absent" },
    recordAddress: undefined,
    firstPodAddress: { host: "10.0.0.10", port: 6379 },
    self: { pod: "redis-1", ordinal: 1, addresses: ["10.0.0.11", "redis-1.redis"] },
    hasData: true,
    waitedMs: 0,
    restartedMasterWaitMs: 0,
    ...over,
  };
}

describe("decideRedis: Sentinels first", () => {
  it("replicates from the master a quorum names", () => {
    const d = decideRedis(redis({ answers: [names("10.0.0.12", 4), names("10.0.0.12", 4), down] }));
    expect(d).toMatchObject({ kind: "replica", of: { host: "10.0.0.12", port: 6379 }, epoch: 4 });
  });

  it("follows the quorum over a stale record (the old master restarted after a failover)", () => {
    const d = decideRedis(
      redis({
        self: { pod: "redis-0", ordinal: 0, addresses: ["10.0.0.10"] },
        answers: [names("10.0.0.11", 2), names("10.0.0.11", 2), names("10.0.0.11", 2)],
        record: record("redis-0", "10.0.0.10", 1),
      }),
    );
    expect(d).toMatchObject({ kind: "replica", of: { host: "10.0.0.11" } });
  });

  it("waits when the quorum still names this restarted pod and knows replicas to promote", () => {
    const d = decideRedis(
      redis({
        self: { pod: "redis-1", ordinal: 1, addresses: ["10.0.0.11"] },
        answers: [names("10.0.0.11", 3), names("10.0.0.11", 3), names("10.0.0.11", 3)],
        waitedMs: 1000,
      }),
    );
    expect(d.kind).toBe("wait");
    expect(d.kind === "wait" && d.because).toContain("70000 ms");
  });

  it("starts as master after the wait only with data on disk, and never empty", () => {
    const base = {
      self: { pod: "redis-1", ordinal: 1, addresses: ["10.0.0.11"] },
      answers: [names("10.0.0.11", 3), names("10.0.0.11", 3), down],
      waitedMs: 80_000,
    };
    expect(decideRedis(redis({ ...base, hasData: true })).kind).toBe("master");
    const empty = decideRedis(redis({ ...base, hasData: false }));
    expect(empty.kind).toBe("fail");
    expect(empty.kind === "fail" && empty.because).toContain("empty master");
  });

  it("starts as master at once when the quorum names it and knows no replica (Sentinels rebuilt after a reboot)", () => {
    const d = decideRedis(
      redis({
        self: { pod: "redis-1", ordinal: 1, addresses: ["10.0.0.11"] },
        answers: [names("10.0.0.11", 3, 0), names("10.0.0.11", 3, 0), names("10.0.0.11", 3, 0)],
      }),
    );
    expect(d).toMatchObject({ kind: "master", epoch: 3 });
  });

  it("waits when Sentinels that know the name do not reach a quorum", () => {
    const d = decideRedis(
      redis({
        answers: [names("10.0.0.12", 4), names("10.0.0.10", 3), down],
        record: record("redis-2", "10.0.0.12", 4),
        recordAddress: { host: "10.0.0.12", port: 6379 },
      }),
    );
    expect(d.kind).toBe("wait");
    expect(d.kind === "wait" && d.because).toMatch(/no quorum.*s0:26379=10\.0\.0\.12:6379@4.*s2:26379=unreachable/);
  });

  it("goes on to the record when the one Sentinel that knows the name agrees with it", () => {
    const d = decideRedis(
      redis({
        answers: [names("10.0.0.12", 4, 0), unknown, down],
        record: record("redis-2", "10.0.0.12", 4),
        recordAddress: { host: "10.0.0.12", port: 6379 },
      }),
    );
    expect(d).toMatchObject({ kind: "replica", of: { host: "10.0.0.12" } });
  });
});

describe("decideRedis: the record, then a cold start", () => {
  it("the record's pod starts as master when no Sentinel knows the name (whole-cluster reboot)", () => {
    const d = decideRedis(
      redis({
        self: { pod: "redis-2", ordinal: 2, addresses: ["10.0.1.12"] },
        answers: [unknown, unknown, down],
        record: record("redis-2", "10.0.0.12", 5),
        recordAddress: { host: "10.0.1.12", port: 6379 },
      }),
    );
    expect(d).toMatchObject({ kind: "master", epoch: 5 });
  });

  it("the others replicate from the record's pod at its current address, not the recorded one", () => {
    const d = decideRedis(
      redis({
        self: { pod: "redis-0", ordinal: 0, addresses: ["10.0.1.10"] },
        answers: [down, down, down],
        record: record("redis-2", "10.0.0.12", 5),
        recordAddress: { host: "10.0.1.12", port: 6379 },
      }),
    );
    expect(d).toMatchObject({ kind: "replica", of: { host: "10.0.1.12" }, epoch: 5 });
  });

  it("waits while the record's pod has no address, and while the record cannot be read", () => {
    expect(decideRedis(redis({ record: record("redis-2", "10.0.0.12", 5), recordAddress: undefined })).kind).toBe("wait");
    const d = decideRedis(
      redis({
        self: { pod: "redis-0", ordinal: 0, addresses: ["10.0.0.10"] },
        record: { kind: "unreadable", reason: "RBAC: not allowed to get configmaps/redis-master in redis" },
      }),
    );
    expect(d.kind).toBe("wait"); // never a cold start on an unreadable record: ordinal 0 would become a second master
    expect(d.kind === "wait" && d.because).toContain("RBAC");
  });

  it("fails on a record of another master name", () => {
    const d = decideRedis(
      redis({
        masterName: "cache",
        record: record("redis-2", "10.0.0.12", 5, "mymaster"),
        recordAddress: { host: "10.0.0.12", port: 6379 },
      }),
    );
    expect(d.kind).toBe("fail");
    expect(d.kind === "fail" && d.because).toContain('"mymaster"');
  });

  it("cold start: ordinal 0 is master, the others replicate from it once it has an address", () => {
    expect(
      decideRedis(redis({ self: { pod: "redis-0", ordinal: 0, addresses: ["10.0.0.10"] }, answers: [unknown, unknown, unknown] })),
    ).toMatchObject({ kind: "master", epoch: 0 });
    expect(decideRedis(redis({ answers: [unknown, unknown, unknown] }))).toMatchObject({ kind: "replica", of: { host: "10.0.0.10" } });
    expect(decideRedis(redis({ firstPodAddress: undefined })).kind).toBe("wait");
  });

  it("never names two masters: over every combination of inputs, at most one pod of a set starts as master", () => {
    const pods = [0, 1, 2].map((o) => ({ pod: `redis-${o}`, ordinal: o, addresses: [`10.0.0.1${o}`] }));
    const answerSets: SentinelAnswer[][] = [
      [down, down, down],
      [unknown, unknown, unknown],
      [names("10.0.0.11", 2), names("10.0.0.11", 2), down],
      [names("10.0.0.11", 2, 0), unknown, unknown],
      [names("10.0.0.12", 3), names("10.0.0.11", 2), down],
    ];
    const records: MasterRecord[] = [
      { kind: "absent" },
      { kind: "unreadable", reason: "HTTP 500" },
      record("redis-1", "10.0.0.11", 2),
      record("redis-2", "10.0.0.12", 3),
    ];
    for (const answers of answerSets) {
      for (const rec of records) {
        for (const waitedMs of [0, 1_000_000]) {
          const recordAddress = rec.kind === "record" ? { host: rec.host, port: 6379 } : undefined;
          const masters = pods.filter(
            (self) => decideRedis(redis({ self, answers, record: rec, recordAddress, waitedMs })).kind === "master",
          );
          expect(masters.length, `${JSON.stringify(answers)} ${JSON.stringify(rec)} waited ${waitedMs}`).toBeLessThanOrEqual(1);
        }
      }
    }
  });
});

describe("decideSentinel", () => {
  const base = {
    masterName: "mymaster",
    sentinels: S.slice(1),
    record: { kind: "absent" } as MasterRecord,
    recordAddress: undefined,
    firstPodAddress: { host: "10.0.0.10", port: 6379 },
  };

  it("monitors what the other Sentinels name, with their epoch", () => {
    expect(decideSentinel({ ...base, answers: [names("10.0.0.12", 7), down] })).toMatchObject({
      kind: "monitor",
      master: { host: "10.0.0.12" },
      epoch: 7,
    });
  });

  it("monitors the highest epoch's master when the other Sentinels disagree (one may be stuck on an address no pod has)", () => {
    // Measured on the sandbox node: a rolling restart of redis and sentinel together left one
    // Sentinel on the old master's IP at epoch 0 and another on the new master at epoch 1; waiting
    // for them to agree never ended.
    expect(decideSentinel({ ...base, answers: [names("10.0.0.18", 0), names("10.0.0.27", 1)] })).toMatchObject({
      kind: "monitor",
      master: { host: "10.0.0.27" },
      epoch: 1,
    });
    expect(decideSentinel({ ...base, answers: [names("10.0.0.12", 7), names("10.0.0.11", 6)] })).toMatchObject({
      kind: "monitor",
      master: { host: "10.0.0.12" },
      epoch: 7,
    });
  });

  it("waits when two Sentinels name different masters at the same epoch, or the record is newer than both", () => {
    expect(decideSentinel({ ...base, answers: [names("10.0.0.12", 7), names("10.0.0.11", 7)] }).kind).toBe("wait");
    const d = decideSentinel({
      ...base,
      answers: [names("10.0.0.12", 3), names("10.0.0.11", 2)],
      record: record("redis-0", "10.0.0.10", 5),
      recordAddress: { host: "10.0.0.10", port: 6379 },
    });
    expect(d).toMatchObject({ kind: "monitor", master: { host: "10.0.0.10" }, epoch: 5 });
  });

  it("prefers the record when it is newer than what a rebuilt Sentinel names", () => {
    const d = decideSentinel({
      ...base,
      answers: [names("10.0.0.10", 0, 0), unknown],
      record: record("redis-2", "10.0.0.12", 5),
      recordAddress: { host: "10.0.1.12", port: 6379 },
    });
    expect(d).toMatchObject({ kind: "monitor", master: { host: "10.0.1.12" }, epoch: 5 });
  });

  it("monitors the record's pod when no other Sentinel knows the name, and ordinal 0 only on a cold cluster", () => {
    expect(
      decideSentinel({
        ...base,
        answers: [unknown, down],
        record: record("redis-2", "10.0.0.12", 5),
        recordAddress: { host: "10.0.0.12", port: 6379 },
      }),
    ).toMatchObject({ kind: "monitor", master: { host: "10.0.0.12" } });
    expect(decideSentinel({ ...base, answers: [unknown, down] })).toMatchObject({
      kind: "monitor",
      master: { host: "10.0.0.10" },
      epoch: 0,
    });
    expect(decideSentinel({ ...base, answers: [down, down], record: { kind: "unreadable", reason: "HTTP 503" } }).kind).toBe("wait");
  });
});

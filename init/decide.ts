/**
 * The init containers' start-up rules as pure functions: what a redis pod starts as, and which master
 * a sentinel pod monitors, from what the Sentinels say, what ConfigMap `redis-master` records and
 * who this pod is. No I/O here: `init/redis.ts` and `init/sentinel.ts` gather the inputs, loop on
 * `wait`, and write the config. The order is fixed: a Sentinel quorum first, then the record,
 * then (only with no record at all) ordinal 0 on a cold cluster. A pod never starts writable on a
 * guess (docs/design.md, "Start-up rules").
 */
import { countVotes } from "../shared/sentinel-quorum.ts";
import type { HostPort } from "../shared/sentinel-quorum.ts";

/** What one Sentinel said about the master name. */
export type SentinelAnswer =
  | { kind: "master"; host: string; port: number; epoch: number; knownReplicas: number; downAfterMs: number; failoverTimeoutMs: number }
  /** It answers but does not monitor this name (a Sentinel that lost its state, or a wrong name). */
  | { kind: "unknown" }
  | { kind: "unreachable"; reason: string };

/** ConfigMap `redis-master`: the last master the functions recorded. */
export type MasterRecord =
  | { kind: "record"; master: string; host: string; port: number; pod: string; epoch: number }
  /** The apiserver said 404: there has never been a master (or someone deleted the record). */
  | { kind: "absent" }
  /** Could not tell (apiserver down, RBAC): never treated as "absent". */
  | { kind: "unreadable"; reason: string };

export interface Self {
  pod: string;
  ordinal: number;
  /** Addresses this pod is known by (its pod IP, its stable DNS name). */
  addresses: string[];
}

export type Undecided =
  /** Ask again shortly; give up with `because` after the init timeout. */
  | { kind: "wait"; because: string }
  /** Will not get better by waiting: exit non-zero now with `because`. */
  | { kind: "fail"; because: string };

export type RedisStart =
  { kind: "master"; epoch: number; because: string } | { kind: "replica"; of: HostPort; epoch: number; because: string };
/** What a sentinel monitors. */
export type SentinelStart = { kind: "monitor"; master: HostPort; epoch: number; because: string };
export type Decision = RedisStart | SentinelStart | Undecided;

interface Tally {
  host: string;
  port: number;
  votes: number;
  epoch: number;
  knownReplicas: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
}

/** The address most Sentinels name, with how many name it (shared/sentinel-quorum.ts counts). */
export function tally(answers: readonly SentinelAnswer[]): { best: Tally | undefined; knowing: number; distinct: number } {
  const masters = answers.filter((a) => a.kind === "master");
  const counts = countVotes(masters);
  const top = counts[0];
  const best = top && {
    host: top.host,
    port: top.port,
    votes: top.votes,
    epoch: top.epoch,
    knownReplicas: Math.max(...top.answers.map((a) => a.knownReplicas)),
    downAfterMs: top.answers[0]!.downAfterMs,
    failoverTimeoutMs: top.answers[0]!.failoverTimeoutMs,
  };
  return { best, knowing: masters.length, distinct: counts.length };
}

export function describeAnswers(sentinels: readonly string[], answers: readonly SentinelAnswer[]): string {
  return answers
    .map(
      (a, i) =>
        `${sentinels[i] ?? `#${i}`}=${a.kind === "master" ? `${a.host}:${a.port}@${a.epoch}` : a.kind === "unknown" ? "does not monitor it" : `unreachable (${a.reason})`}`,
    )
    .join(", ");
}

export interface RedisInputs {
  masterName: string;
  quorum: number;
  sentinels: readonly string[];
  answers: readonly SentinelAnswer[];
  record: MasterRecord;
  /** The record's pod, resolved to its current address (pod IPs change on a reboot); undefined: unknown yet. */
  recordAddress: HostPort | undefined;
  /** Ordinal 0's address, for a cold start (undefined: not assigned yet). */
  firstPodAddress: HostPort | undefined;
  self: Self;
  /** This pod has data on disk (AOF or RDB). */
  hasData: boolean;
  /** How long this init has been waiting for the Sentinels to move the master away from this pod. */
  waitedMs: number;
  /** How long to wait for that before starting as master anyway (0: 2 x down-after + failover-timeout). */
  restartedMasterWaitMs: number;
}

const isSelf = (self: Self, host: string) => self.addresses.includes(host);

/** What a redis pod starts as. */
export function decideRedis(i: RedisInputs): RedisStart | Undecided {
  const { best, knowing, distinct } = tally(i.answers);
  const seen = describeAnswers(i.sentinels, i.answers);

  // 1. A quorum of Sentinels: the truth.
  if (best && best.votes >= i.quorum) {
    if (!isSelf(i.self, best.host))
      return {
        kind: "replica",
        of: { host: best.host, port: best.port },
        epoch: best.epoch,
        because: `${best.votes} Sentinels name ${best.host}:${best.port} master of ${i.masterName} (epoch ${best.epoch})`,
      };
    // The Sentinels name this pod, which has just (re)started: its data may be older than a
    // replica's. If they know replicas they will fail over to one once this pod is down for
    // down-after: wait for that. If they know none (they were rebuilt from the record after a
    // whole-cluster reboot, or this is the only pod), nobody else can be master.
    if (best.knownReplicas === 0)
      return {
        kind: "master",
        epoch: best.epoch,
        because: `${best.votes} Sentinels name this pod master of ${i.masterName} (epoch ${best.epoch}) and know no replica to promote`,
      };
    const limit = i.restartedMasterWaitMs > 0 ? i.restartedMasterWaitMs : 2 * best.downAfterMs + best.failoverTimeoutMs;
    if (i.waitedMs < limit)
      return {
        kind: "wait",
        because: `${best.votes} Sentinels still name this restarted pod master of ${i.masterName} (epoch ${best.epoch}); waiting up to ${limit} ms for them to promote one of its ${best.knownReplicas} replicas`,
      };
    if (!i.hasData)
      return {
        kind: "fail",
        because: `the Sentinels still name this pod master of ${i.masterName} after ${i.waitedMs} ms and it has no data on disk: refusing to start an empty master that its replicas would copy`,
      };
    return {
      kind: "master",
      epoch: best.epoch,
      because: `the Sentinels kept this pod master of ${i.masterName} for ${i.waitedMs} ms (no replica could be promoted); starting with the data on disk`,
    };
  }

  // 2. Some Sentinels know the name but no quorum agrees: they are mid-failover or split; wait.
  if (knowing > 0 && !(distinct === 1 && i.record.kind === "record" && sameMaster(best!, i.record, i.recordAddress))) {
    return { kind: "wait", because: `no quorum of Sentinels (${i.quorum} needed) for ${i.masterName}: ${seen}` };
  }

  // 3. The record of the last master.
  if (i.record.kind === "unreadable")
    return { kind: "wait", because: `no quorum of Sentinels for ${i.masterName} (${seen}) and ConfigMap unreadable: ${i.record.reason}` };
  if (i.record.kind === "record") {
    if (i.record.master !== i.masterName)
      return {
        kind: "fail",
        because: `ConfigMap records master "${i.record.master}", this pod is configured for "${i.masterName}" (MASTER_NAME)`,
      };
    if (i.record.pod === i.self.pod || isSelf(i.self, i.record.host))
      return {
        kind: "master",
        epoch: i.record.epoch,
        because: `no Sentinel quorum (${seen}); ConfigMap names this pod the last master of ${i.masterName} (epoch ${i.record.epoch})`,
      };
    if (!i.recordAddress)
      return { kind: "wait", because: `ConfigMap names pod ${i.record.pod} the last master of ${i.masterName}, which has no address yet` };
    return {
      kind: "replica",
      of: i.recordAddress,
      epoch: i.record.epoch,
      because: `no Sentinel quorum (${seen}); ConfigMap names pod ${i.record.pod} the last master (epoch ${i.record.epoch})`,
    };
  }

  // 4. No record at all and no Sentinel knows the name: a cold cluster. Ordinal 0 is master.
  if (i.self.ordinal === 0)
    return {
      kind: "master",
      epoch: 0,
      because: `cold start: no Sentinel knows ${i.masterName} and there is no ConfigMap; ordinal 0 starts as master`,
    };
  if (!i.firstPodAddress) return { kind: "wait", because: `cold start: waiting for ordinal 0 to get an address` };
  return {
    kind: "replica",
    of: i.firstPodAddress,
    epoch: 0,
    because: `cold start: no Sentinel knows ${i.masterName} and there is no ConfigMap; replicating from ordinal 0`,
  };
}

function sameMaster(t: Tally, r: { host: string; port: number }, current: HostPort | undefined): boolean {
  return (t.host === r.host || t.host === current?.host) && t.port === r.port;
}

/** The master named at the highest config epoch; undefined when two addresses share that epoch. */
function highestEpoch(answers: readonly SentinelAnswer[]): { host: string; port: number; epoch: number } | undefined {
  const named = answers.filter((a): a is Extract<SentinelAnswer, { kind: "master" }> => a.kind === "master");
  const epoch = Math.max(...named.map((a) => a.epoch));
  const at = new Set(named.filter((a) => a.epoch === epoch).map((a) => `${a.host}:${a.port}`));
  const first = named.find((a) => a.epoch === epoch);
  return at.size === 1 && first ? { host: first.host, port: first.port, epoch } : undefined;
}

export interface SentinelInputs {
  masterName: string;
  /** The other Sentinels (this one excluded). */
  sentinels: readonly string[];
  answers: readonly SentinelAnswer[];
  record: MasterRecord;
  recordAddress: HostPort | undefined;
  firstPodAddress: HostPort | undefined;
}

/** Which master a sentinel pod monitors: the one the other Sentinels name, else the record, else ordinal 0 on a cold cluster. */
export function decideSentinel(i: SentinelInputs): SentinelStart | Undecided {
  const { best, distinct } = tally(i.answers);
  const seen = describeAnswers(i.sentinels, i.answers);
  const recordEpoch = i.record.kind === "record" ? i.record.epoch : -1;
  if (best && distinct > 1) {
    // Sentinels that disagree converge on the highest config epoch once they hear each other, and
    // so does this one if it monitors that master. Monitoring a lower one could leave it on an
    // address that no pod has any more (a rolling restart moves every pod's IP): it would never
    // hear another Sentinel again, and waiting here for the others to agree could wait forever.
    const top = highestEpoch(i.answers);
    if (!top)
      return { kind: "wait", because: `the other Sentinels disagree on the master of ${i.masterName}, two at the same epoch: ${seen}` };
    if (top.epoch >= recordEpoch || i.record.kind !== "record")
      return {
        kind: "monitor",
        master: { host: top.host, port: top.port },
        epoch: top.epoch,
        because: `the other Sentinels disagree (${seen}); the highest config epoch wins, as among Sentinels: ${top.host}:${top.port} (epoch ${top.epoch})`,
      };
  } else if (best) {
    // A Sentinel rebuilt from an older record could name an older master than the record: the
    // higher epoch wins (the record's epoch is a Sentinel epoch too).
    if (best.epoch >= recordEpoch || i.record.kind !== "record")
      return {
        kind: "monitor",
        master: { host: best.host, port: best.port },
        epoch: best.epoch,
        because: `the other Sentinels name ${best.host}:${best.port} (epoch ${best.epoch})`,
      };
  }
  if (i.record.kind === "unreadable")
    return { kind: "wait", because: `no other Sentinel knows ${i.masterName} (${seen}) and ConfigMap unreadable: ${i.record.reason}` };
  if (i.record.kind === "record") {
    if (i.record.master !== i.masterName)
      return {
        kind: "fail",
        because: `ConfigMap records master "${i.record.master}", this pod is configured for "${i.masterName}" (MASTER_NAME)`,
      };
    if (!i.recordAddress)
      return { kind: "wait", because: `ConfigMap names pod ${i.record.pod} the last master of ${i.masterName}, which has no address yet` };
    return {
      kind: "monitor",
      master: i.recordAddress,
      epoch: i.record.epoch,
      because: `ConfigMap names pod ${i.record.pod} the last master (epoch ${i.record.epoch})${best ? `, newer than the Sentinels' epoch ${best.epoch}` : ""}`,
    };
  }
  if (!i.firstPodAddress) return { kind: "wait", because: `cold start: waiting for redis ordinal 0 to get an address` };
  return {
    kind: "monitor",
    master: i.firstPodAddress,
    epoch: 0,
    because: `cold start: no Sentinel knows ${i.masterName} and there is no ConfigMap; monitoring redis ordinal 0`,
  };
}

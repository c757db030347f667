/**
 * The referee: what Kubernetes says the master is, checked against what the servers say, on real
 * pods. It reads every change of the `redis-master` EndpointSlices and of every pod's `redis-role`
 * label from the watch (each event as it comes, in resourceVersion order, nothing sampled), and
 * asks every redis pod its ROLE and every Sentinel pod its master every `pollMs` (50 ms or
 * faster). Violations:
 *  - `two-endpoints`: the redis-master EndpointSlices list more than one address;
 *  - `two-master-labels`: more than one pod labelled redis-role=master;
 *  - `stale-endpoint` / `stale-label`: Kubernetes names a host other than the master for longer
 *    than `graceMs` after that master exists (the Sentinels' majority names it and it answers ROLE
 *    as master). A named host that does not answer counts: unreachable is no excuse once a
 *    reachable master exists.
 * Lost acknowledged writes are the scenario's to assert (where it promises zero).
 */
import { Watch } from "@kubernetes/client-node";
import type { KubeConfig, V1EndpointSlice, V1Pod } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { NS, PASSWORD, SENTINEL_PASSWORD } from "../../sandbox/stack.ts";

export type Rule = "two-endpoints" | "two-master-labels" | "stale-endpoint" | "stale-label";

export interface Violation {
  /** performance.now() when it was seen. */
  at: number;
  rule: Rule;
  what: string;
}

export interface RefereeOptions {
  kc: KubeConfig;
  namespace: string;
  masterName: string;
  password: string | undefined;
  sentinelPassword: string | undefined;
  /** How long Kubernetes may name another host after a new master exists. */
  graceMs: number;
  /** How often every server is asked (default 50 ms). */
  pollMs?: number;
  redisSelector?: string;
  sentinelSelector?: string;
}

type Role = "master" | "slave" | "unreachable";

interface Named {
  /** The hosts Kubernetes names, and since when each has been named without interruption. */
  since: Map<string, number>;
}

export class Referee {
  readonly violations: Violation[] = [];
  /** Longest time Kubernetes named another host while a reachable master existed (ms), whatever the grace. */
  longestLagMs = 0;
  /** Watch events and server answers seen (for the report; a referee that saw nothing proves nothing). */
  readonly seen = { sliceEvents: 0, podEvents: 0, polls: 0 };
  readonly #o: Required<Omit<RefereeOptions, "password" | "sentinelPassword">> & Pick<RefereeOptions, "password" | "sentinelPassword">;
  readonly #slices = new Map<string, string[]>();
  readonly #pods = new Map<string, { ip: string; master: boolean; sentinel: boolean }>();
  readonly #roles = new Map<string, Role>();
  readonly #sentinelSays = new Map<string, string | undefined>();
  readonly #clients = new Map<string, Redis>();
  /** Hosts whose answer to the previous poll is still awaited. */
  readonly #asking = new Set<string>();
  readonly #endpoints: Named = { since: new Map() };
  readonly #labels: Named = { since: new Map() };
  /** Since when the current truth (host) has been reachable as master. */
  #truth: { host: string; since: number } | undefined;
  /** Episodes already reported, so that one stale name is one violation. */
  readonly #reported = new Set<string>();
  #aborts: AbortController[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: RefereeOptions) {
    this.#o = { pollMs: 50, redisSelector: "app.kubernetes.io/name=redis", sentinelSelector: "app.kubernetes.io/name=sentinel", ...o };
  }

  async start(): Promise<void> {
    const ns = this.#o.namespace;
    await this.#watch<V1EndpointSlice>(
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      { labelSelector: "kubernetes.io/service-name=redis-master" },
      (phase, s) => {
        this.seen.sliceEvents++;
        const name = s.metadata?.name ?? "";
        if (phase === "DELETED") this.#slices.delete(name);
        else
          this.#slices.set(
            name,
            (s.endpoints ?? []).flatMap((e) => e.addresses),
          );
        this.#onKubeChange();
      },
    );
    for (const [selector, sentinel] of [
      [this.#o.redisSelector, false],
      [this.#o.sentinelSelector, true],
    ] as const) {
      await this.#watch<V1Pod>(`/api/v1/namespaces/${ns}/pods`, { labelSelector: selector }, (phase, p) => {
        this.seen.podEvents++;
        const name = p.metadata?.name ?? "";
        if (phase === "DELETED") this.#pods.delete(name);
        else this.#pods.set(name, { ip: p.status?.podIP ?? "", master: p.metadata?.labels?.["redis-role"] === "master", sentinel });
        this.#onKubeChange();
      });
    }
    this.#timer = setInterval(() => void this.#poll(), this.#o.pollMs);
  }

  /** Violations of `rule` (all when omitted). */
  of(rule?: Rule): Violation[] {
    return rule ? this.violations.filter((v) => v.rule === rule) : this.violations;
  }

  stop(): Violation[] {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#evaluate(performance.now());
    for (const a of this.#aborts) a.abort();
    for (const c of this.#clients.values()) c.disconnect();
    this.#clients.clear();
    return this.violations;
  }

  async #watch<T>(path: string, query: Record<string, string>, onEvent: (phase: string, obj: T) => void): Promise<void> {
    const begin = async (): Promise<void> => {
      if (this.#stopped) return;
      const abort = await new Watch(this.#o.kc).watch(path, query, onEvent, () => {
        // A watch ends (timeout, apiserver restart): start again from a fresh list, as an informer does.
        if (!this.#stopped) setTimeout(() => void begin().catch(() => undefined), 100);
      });
      this.#aborts.push(abort);
    };
    await begin();
  }

  #onKubeChange(): void {
    const now = performance.now();
    const addresses = [...this.#slices.values()].flat();
    if (addresses.length > 1)
      this.#report(now, "two-endpoints", `redis-master lists ${addresses.join(", ")}`, `two-endpoints/${[...addresses].sort().join(",")}`);
    const labelled = [...this.#pods.entries()].filter(([, p]) => p.master && !p.sentinel);
    if (labelled.length > 1)
      this.#report(
        now,
        "two-master-labels",
        `redis-role=master on ${labelled.map(([n]) => n).join(", ")}`,
        `two-labels/${labelled
          .map(([n]) => n)
          .sort()
          .join(",")}`,
      );
    track(this.#endpoints, new Set(addresses), now);
    track(this.#labels, new Set(labelled.map(([, p]) => p.ip)), now);
    this.#evaluate(now);
  }

  async #poll(): Promise<void> {
    // A host still answering the previous poll is skipped, so a slow answer never overwrites a newer one.
    const pods = [...this.#pods.values()].filter((p) => p.ip && !this.#asking.has(`${p.ip}/${p.sentinel}`));
    await Promise.all(
      pods.map(async (p) => {
        const key = `${p.ip}/${p.sentinel}`;
        this.#asking.add(key);
        try {
          await this.#ask(p);
        } finally {
          this.#asking.delete(key);
        }
      }),
    );
    if (this.#stopped) return;
    this.seen.polls++;
    const now = performance.now();
    const truth = this.#currentTruth();
    if (truth !== this.#truth?.host) this.#truth = truth ? { host: truth, since: now } : undefined;
    this.#evaluate(now);
  }

  /** One pod's answer: a Sentinel's master, or a redis server's ROLE. */
  async #ask(p: { ip: string; sentinel: boolean }): Promise<void> {
    const c = this.#client(p.ip, p.sentinel);
    if (p.sentinel) {
      const said = (await c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", this.#o.masterName).catch(() => undefined)) as
        [string, string] | null | undefined;
      this.#sentinelSays.set(p.ip, said?.[0]);
    } else {
      const role = (await c.call("ROLE").catch(() => undefined)) as [string, ...unknown[]] | undefined;
      this.#roles.set(p.ip, role?.[0] === "master" ? "master" : role?.[0] === "slave" ? "slave" : "unreachable");
    }
  }

  /** The master: the host a majority of the Sentinel pods name, when it answers ROLE as master. */
  #currentTruth(): string | undefined {
    const sentinels = [...this.#pods.values()].filter((p) => p.sentinel);
    const votes = new Map<string, number>();
    for (const p of sentinels) {
      const host = this.#sentinelSays.get(p.ip);
      if (host) votes.set(host, (votes.get(host) ?? 0) + 1);
    }
    const [host, n] = [...votes.entries()].sort((a, b) => b[1] - a[1])[0] ?? [undefined, 0];
    return host && n > sentinels.length / 2 && this.#roles.get(host) === "master" ? host : undefined;
  }

  #evaluate(now: number): void {
    const truth = this.#truth;
    if (!truth) return;
    for (const [named, rule] of [
      [this.#endpoints, "stale-endpoint"],
      [this.#labels, "stale-label"],
    ] as const) {
      for (const [host, since] of named.since) {
        if (host === truth.host) continue;
        const lag = now - Math.max(since, truth.since);
        this.longestLagMs = Math.max(this.longestLagMs, Math.round(lag));
        if (lag > this.#o.graceMs) {
          const what = `${rule === "stale-endpoint" ? "redis-master's EndpointSlice" : "the redis-role=master label"} names ${host} (${this.#roles.get(host) ?? "unknown"}) ${Math.round(lag)} ms after ${truth.host} became the master`;
          this.#report(now, rule, what, `${rule}/${host}/${Math.round(since)}/${Math.round(truth.since)}`);
        }
      }
    }
  }

  #report(at: number, rule: Rule, what: string, key: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.violations.push({ at, rule, what });
  }

  #client(ip: string, sentinel: boolean): Redis {
    const key = `${ip}/${sentinel}`;
    let c = this.#clients.get(key);
    if (!c) {
      const timeout = Math.max(this.#o.pollMs * 4, 200);
      c = new Redis({
        host: ip,
        port: sentinel ? 26379 : 6379,
        password: sentinel ? this.#o.sentinelPassword : this.#o.password,
        connectTimeout: timeout,
        commandTimeout: timeout,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => this.#o.pollMs,
        lazyConnect: false,
      });
      c.on("error", () => undefined); // unreachable is an answer here, recorded as such
      this.#clients.set(key, c);
    }
    return c;
  }
}

function track(named: Named, now: Set<string>, at: number): void {
  for (const host of [...named.since.keys()]) if (!now.has(host)) named.since.delete(host);
  for (const host of now) if (!named.since.has(host)) named.since.set(host, at);
}

/** A referee of the dev overlay on the sandbox's node (its namespace, master name and credentials). */
export const stackReferee = (kc: KubeConfig, graceMs: number): Referee =>
  new Referee({ kc, namespace: NS, masterName: "mymaster", password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD, graceMs });

/**
 * The chaos suite's referee. While a scenario runs it watches what Kubernetes says the master is
 * (the redis-master EndpointSlice and the redis-role labels) and checks each change against the
 * servers themselves; afterwards it reports acknowledged-but-lost writes and the time with no
 * master reachable through redis-master.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { redisCommand } from "../../sandbox/redis.ts";
import type { Sandbox } from "../../sandbox/sandbox.ts";
import type { ServiceResolver } from "../../sandbox/service-resolver.ts";
import type { Writer } from "../../sandbox/writer.ts";
import { ObjectWatch } from "../../bench/lib/watch-state.ts";

export interface Violation {
  at: number;
  what: string;
}

export interface Report {
  acknowledged: number;
  lost: number;
  lostIds: number[];
  /** Longest gap between two acknowledged writes (ms): time with no master reachable. */
  longestGapMs: number;
  violations: Violation[];
}

async function roleOf(sb: Sandbox, host: string): Promise<string> {
  const info = await redisCommand({ host, port: 6379 }, sb.password, "INFO", "replication").catch(() => "");
  return /role:(\w+)/.exec(String(info))?.[1] ?? "unreachable";
}

export class Checker {
  readonly violations: Violation[] = [];
  readonly #sb: Sandbox;
  readonly #resolver: ServiceResolver;
  readonly #pods: ObjectWatch<V1Pod>;
  #seenChanges = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(sb: Sandbox, resolver: ServiceResolver) {
    this.#sb = sb;
    this.#resolver = resolver;
    this.#pods = new ObjectWatch<V1Pod>(sb.kubeConfig, `/api/v1/namespaces/${sb.namespace}/pods`, { labelSelector: "app.kubernetes.io/name=redis" });
  }

  async start(): Promise<void> {
    await this.#pods.start();
    // Check every new EndpointSlice state, and the labels, against the servers (every 50 ms).
    this.#timer = setInterval(() => void this.#check(), 50);
  }

  async #check(): Promise<void> {
    const changes = this.#resolver.changes.slice(this.#seenChanges);
    this.#seenChanges += changes.length;
    for (const c of changes) {
      if (c.addresses.length > 1) this.violations.push({ at: c.at, what: `redis-master lists ${c.addresses.length} endpoints: ${c.addresses.join(", ")}` });
      for (const host of c.addresses) {
        const role = await roleOf(this.#sb, host);
        // A dead master is "unreachable" until Sentinel replaces it: that is unavailability, not a lie.
        if (role === "slave") this.violations.push({ at: c.at, what: `redis-master named ${host}, which is a replica` });
      }
    }
    const masters = [...this.#pods.objects.values()].filter((p) => p.metadata?.labels?.["redis-role"] === "master");
    const what = `redis-role=master on ${masters.map((p) => p.metadata?.name).join(", ")}`;
    if (masters.length > 1 && this.violations.at(-1)?.what !== what) this.violations.push({ at: performance.now(), what });
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#check();
    this.#pods.stop();
  }

  /** Lost writes (checked on the quorum's master) and the longest write gap. */
  async report(writer: Writer, masterName: string): Promise<Report> {
    const m = await this.#sb.currentMaster(masterName);
    const lost = await writer.checkLost({ host: m.host, port: m.port }, this.#sb.password);
    return { acknowledged: writer.acks.length, lost: lost.length, lostIds: lost, longestGapMs: writer.longestGapMs(), violations: this.violations };
  }
}

/**
 * A client that writes as fast as it can, one unique key per write, and records every
 * acknowledged write with its time and the server that acknowledged it. With `checkLost` it
 * tells which acknowledged writes are missing from the master afterwards.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import type { Address } from "./redis.ts";
import { withRedis } from "../shared/redis-probe.ts";

export interface Ack {
  id: number;
  /** performance.now() when the write was sent. */
  sentAt: number;
  /** performance.now() when the acknowledgement arrived. */
  at: number;
  host: string;
}

export interface WriterOptions {
  /** Where to connect now (re-asked after every failure). */
  target: () => Address | undefined;
  /**
   * A sentinel-aware client instead (ioredis `sentinels` + failoverDetector, one client that finds
   * the master itself and reconnects on its own; `target` is not used): the reference a plain
   * client through redis-master is compared with.
   */
  sentinel?: { sentinels: Address[]; name: string; password: string | undefined };
  password: string | undefined;
  keyPrefix: string;
  /** Per-command deadline (default 250 ms): a hung master must not stall the writer for long. */
  commandTimeoutMs?: number;
  /** Pause between writes (default 2 ms), so the writer does not eat a core. */
  intervalMs?: number;
  /** After each SET, `WAIT <replicas> <timeoutMs>`; the write counts as acknowledged only if replicas >= this. */
  waitReplicas?: { replicas: number; timeoutMs: number };
}

export class Writer {
  readonly options: WriterOptions;
  readonly acks: Ack[] = [];
  failures = 0;
  /**
   * How often the sentinel-aware ioredis client ended itself (status "end": it never reconnects
   * again) and a new one was made. ioredis 6.0.0 does this when its FailoverDetector sees a
   * +switch-master while the client is re-asking the Sentinels after losing its master: the
   * detector's disconnect makes the connect in progress throw "Connection is closed.", and a
   * connector error ends the client. An application would have to notice and make a new client.
   */
  clientEnds = 0;
  /** The last failed command's error (name: message), for a report on a writer that stopped writing. */
  lastError: string | undefined;
  #next = 0;
  #running = false;
  #loop: Promise<void> | undefined;
  #client: Redis | undefined;
  #clientHost: string | undefined;

  constructor(options: WriterOptions) {
    this.options = options;
  }

  key(id: number): string {
    return `${this.options.keyPrefix}:${id}`;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#drop();
  }

  /** The client's connection state (ioredis `status`: ready, connecting, reconnecting, end, ...). */
  get clientStatus(): string {
    return this.#client?.status ?? "no client";
  }

  #drop(): void {
    this.#client?.disconnect();
    this.#client = undefined;
    this.#clientHost = undefined;
  }

  #connect(target: Address): Redis {
    const timeout = this.options.commandTimeoutMs ?? 250;
    const s = this.options.sentinel;
    const client = new Redis({
      ...(s
        ? { sentinels: s.sentinels, name: s.name, sentinelPassword: s.password, failoverDetector: true, retryStrategy: () => 10 }
        : { host: target.host, port: target.port, retryStrategy: () => null }),
      password: this.options.password,
      lazyConnect: false,
      // The sentinel-aware client keeps ioredis' default ready check: it is where ioredis verifies
      // (INFO) that the server the Sentinels named is a master. Without it, a client that lands on
      // a replica (an address named before the switch, reused by a new pod) stays there, refused
      // with READONLY, until the next switch. A plain client has no role to check.
      enableReadyCheck: s !== undefined,
      enableOfflineQueue: true,
      connectTimeout: timeout,
      commandTimeout: timeout,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    });
    client.on("error", () => undefined);
    return client;
  }

  async #run(): Promise<void> {
    const interval = this.options.intervalMs ?? 2;
    while (this.#running) {
      const target = this.options.sentinel ? { host: "sentinel-aware", port: 0 } : this.options.target();
      if (!target) {
        this.failures++;
        await sleep(5);
        continue;
      }
      if (this.options.sentinel && this.#client?.status === "end") {
        this.clientEnds++;
        this.#drop();
      }
      if (!this.#client || this.#clientHost !== `${target.host}:${target.port}`) {
        this.#drop();
        this.#client = this.#connect(target);
        this.#clientHost = `${target.host}:${target.port}`;
      }
      const id = this.#next++;
      const sentAt = performance.now();
      try {
        await this.#client.set(this.key(id), String(id));
        if (this.options.waitReplicas) {
          const n = Number(await this.#client.call("WAIT", this.options.waitReplicas.replicas, this.options.waitReplicas.timeoutMs));
          if (n < this.options.waitReplicas.replicas) throw new Error(`WAIT reached ${n} replicas`);
        }
        this.acks.push({ id, sentAt, at: performance.now(), host: target.host });
        if (interval > 0) await sleep(interval);
      } catch (err) {
        this.failures++;
        this.lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        // The sentinel-aware client reconnects (and re-asks the Sentinels) by itself.
        if (!this.options.sentinel) this.#drop();
        await sleep(5);
      }
    }
  }

  /**
   * First acknowledgement of a write SENT at or after `t` (performance.now() time): a write sent
   * after a master died cannot have been acknowledged by it, even through a proxy.
   */
  firstAckAfter(t: number, host?: string): Ack | undefined {
    // Writes go one at a time, so acks are in sentAt order: binary search for the first sent at or
    // after t (benchmarks poll this every few ms over tens of thousands of acks).
    let lo = 0;
    let hi = this.acks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.acks[mid]!.sentAt < t) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.acks.length; i++) if (host === undefined || this.acks[i]!.host === host) return this.acks[i];
    return undefined;
  }

  /** The longest time between two acknowledged writes (ms, rounded). */
  longestGapMs(): number {
    let gap = 0;
    for (let i = 1; i < this.acks.length; i++) gap = Math.max(gap, this.acks[i]!.at - this.acks[i - 1]!.at);
    return Math.round(gap);
  }

  /** Acknowledged ids missing from the server at `master` (read in batches with MGET). */
  async checkLost(master: Address, password: string | undefined): Promise<number[]> {
    return withRedis(master, password, async (client) => {
      const lost: number[] = [];
      for (let i = 0; i < this.acks.length; i += 1000) {
        const batch = this.acks.slice(i, i + 1000);
        const values = await client.mget(...batch.map((a) => this.key(a.id)));
        values.forEach((v, j) => {
          if (v === null) lost.push(batch[j]!.id);
        });
      }
      return lost;
    });
  }
}

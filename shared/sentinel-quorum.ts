/**
 * The truth about who is master: asked from every Sentinel, accepted only when a quorum
 * (by default a majority of the configured Sentinels) names the same address. Used by the
 * functions runtime before every reconcile, by the init containers and by the sandbox.
 */
import { Redis } from "ioredis";
import { doubling } from "./backoff.ts";
import { NoQuorumError } from "./errors.ts";

export interface HostPort {
  host: string;
  port: number;
}

export interface MasterTruth {
  name: string;
  host: string;
  port: number;
  /** Highest config epoch reported by the Sentinels that agree. */
  epoch: number;
  /** How many Sentinels named this address, of how many asked. */
  votes: number;
  asked: number;
}

export interface SentinelPoolOptions {
  sentinels: HostPort[];
  /** Password of the Sentinels (their `requirepass`), if any. */
  password?: string | undefined;
  /** Votes needed; default a majority of `sentinels`. */
  quorum?: number;
  /** Per-command deadline in ms (default 1000): a hung Sentinel must not stall the answer. */
  commandTimeoutMs?: number;
}

/** One Sentinel's answer for a master name: the address it names and its config epoch. */
export interface Vote extends HostPort {
  epoch: number;
}

/** The Sentinels naming one address: how many, the highest epoch among them, and their answers. */
export interface VoteCount<T extends Vote> extends HostPort {
  votes: number;
  epoch: number;
  answers: T[];
}

/**
 * The addresses the Sentinels name, most votes first, a higher epoch first among equal votes
 * (missing answers skipped). The one tally of the project: the functions' SentinelPool and the
 * init containers' start-up rules both count with it.
 */
export function countVotes<T extends Vote>(answers: readonly (T | undefined)[]): VoteCount<T>[] {
  const byAddress = new Map<string, VoteCount<T>>();
  for (const a of answers) {
    if (!a) continue;
    const key = `${a.host}:${a.port}`;
    const c = byAddress.get(key) ?? { host: a.host, port: a.port, votes: 0, epoch: a.epoch, answers: [] };
    c.votes++;
    c.epoch = Math.max(c.epoch, a.epoch);
    c.answers.push(a);
    byAddress.set(key, c);
  }
  return [...byAddress.values()].sort((x, y) => y.votes - x.votes || y.epoch - x.epoch);
}

/** Votes a majority of `n` Sentinels needs (the default quorum everywhere). */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** `[k1, v1, k2, v2, ...]` (Sentinel's reply shape) into a record. */
export function fieldsToRecord(fields: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(fields)) return out;
  for (let i = 0; i + 1 < fields.length; i += 2) out[String(fields[i])] = String(fields[i + 1]);
  return out;
}

/** Persistent connections to every Sentinel; ask them who is master. */
export class SentinelPool {
  readonly options: Required<Omit<SentinelPoolOptions, "password">> & { password: string | undefined };
  readonly #clients: Redis[];

  constructor(options: SentinelPoolOptions) {
    this.options = {
      sentinels: options.sentinels,
      password: options.password,
      quorum: options.quorum ?? majority(options.sentinels.length),
      commandTimeoutMs: options.commandTimeoutMs ?? 1000,
    };
    this.#clients = options.sentinels.map((s) => {
      const client = new Redis({
        host: s.host,
        port: s.port,
        password: options.password,
        lazyConnect: true,
        enableReadyCheck: false,
        enableOfflineQueue: false,
        connectTimeout: this.options.commandTimeoutMs,
        commandTimeout: this.options.commandTimeoutMs,
        maxRetriesPerRequest: 0,
        retryStrategy: (times) => doubling(50, times, 2000),
      });
      client.on("error", () => undefined); // surfaced per command as a missing vote
      return client;
    });
  }

  /** One connect per client however many callers ask at once (no offline queue: a command sent while connecting fails). */
  readonly #connecting = new Map<number, Promise<void>>();

  async #ask<T>(index: number, command: string, args: string[], parse: (reply: unknown) => T): Promise<T | undefined> {
    const client = this.#clients[index]!;
    try {
      if (client.status === "wait" || client.status === "end") {
        if (!this.#connecting.has(index))
          this.#connecting.set(
            index,
            client.connect().finally(() => this.#connecting.delete(index)),
          );
      }
      const connecting = this.#connecting.get(index);
      if (connecting) await connecting;
      return parse(await client.call(command, ...args));
    } catch {
      return undefined;
    }
  }

  /** Every Sentinel's answer for one master (undefined where one did not answer). */
  async answers(name: string): Promise<({ host: string; port: number; epoch: number; flags: string } | undefined)[]> {
    return Promise.all(
      this.#clients.map((_, i) =>
        this.#ask(i, "SENTINEL", ["MASTER", name], (reply) => {
          const f = fieldsToRecord(reply);
          if (!f.ip || !f.port) return undefined;
          return { host: f.ip, port: Number(f.port), epoch: Number(f["config-epoch"] ?? 0), flags: f.flags ?? "" };
        }),
      ),
    );
  }

  /** The quorum's master of `name`; throws NoQuorumError when Sentinels disagree or are down. */
  async master(name: string): Promise<MasterTruth> {
    const answers = await this.answers(name);
    const [best] = countVotes(answers);
    if (!best || best.votes < this.options.quorum) {
      const seen = answers.map(
        (a, i) =>
          `${this.options.sentinels[i]!.host}:${this.options.sentinels[i]!.port}=${a ? `${a.host}:${a.port}@${a.epoch}` : "no answer"}`,
      );
      throw new NoQuorumError(name, `${best?.votes ?? 0} of ${answers.length} agree, ${this.options.quorum} needed (${seen.join(", ")})`);
    }
    return { name, host: best.host, port: best.port, epoch: best.epoch, votes: best.votes, asked: answers.length };
  }

  /** What each Sentinel monitors (`SENTINEL MASTERS` names), in SENTINELS order; undefined where one did not answer. */
  async monitored(): Promise<(string[] | undefined)[]> {
    return Promise.all(
      this.#clients.map((_, i) =>
        this.#ask(i, "SENTINEL", ["MASTERS"], (reply) =>
          Array.isArray(reply) ? reply.map((m) => fieldsToRecord(m).name ?? "").filter((n) => n !== "") : [],
        ),
      ),
    );
  }

  /** Names of every master that any Sentinel monitors (for resync). */
  async masterNames(): Promise<string[]> {
    const lists = await this.monitored();
    return [...new Set(lists.flatMap((l) => l ?? []))].sort();
  }

  /** How many Sentinels the pool talks to. */
  get size(): number {
    return this.#clients.length;
  }

  /** Runs `SENTINEL <args>` on Sentinel `index`; undefined if it does not answer. */
  sentinel(index: number, ...args: string[]): Promise<unknown> {
    return this.#ask(index, "SENTINEL", args, (reply) => reply);
  }

  close(): void {
    for (const c of this.#clients) c.disconnect();
  }
}

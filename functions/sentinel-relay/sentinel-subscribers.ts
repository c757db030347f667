/**
 * One PSUBSCRIBE connection per Sentinel. Names in SENTINELS are resolved to all their addresses
 * (a headless Service) at start and every SENTINEL_RESOLVE_INTERVAL_MS, so Sentinel pods that come
 * and go are followed; each connection reconnects with backoff on its own while the others relay.
 */
import { Redis } from "ioredis";
import { doubling } from "../../shared/backoff.ts";
import { resolveAll } from "../../shared/resolve.ts";
import type { HostPort } from "../../shared/sentinel-quorum.ts";
import type { Logger } from "../../shared/logger.ts";

export type OnMessage = (sentinel: HostPort, channel: string, message: string, receivedAt: Date) => void;

export class SentinelSubscribers {
  readonly #clients = new Map<string, { address: HostPort; client: Redis; command: Redis; subscribed: boolean }>();
  readonly #configured: HostPort[];
  readonly #password: string | undefined;
  readonly #onMessage: OnMessage;
  readonly #log: Logger;
  readonly #resolveIntervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** Called when the number of subscribed Sentinels changes. */
  onChange: (subscribed: number, known: number) => void = () => undefined;

  constructor(options: {
    sentinels: HostPort[];
    password: string | undefined;
    onMessage: OnMessage;
    log: Logger;
    resolveIntervalMs: number;
  }) {
    this.#configured = options.sentinels;
    this.#password = options.password;
    this.#onMessage = options.onMessage;
    this.#log = options.log;
    this.#resolveIntervalMs = options.resolveIntervalMs;
  }

  get subscribed(): number {
    return [...this.#clients.values()].filter((c) => c.subscribed).length;
  }

  get known(): number {
    return this.#clients.size;
  }

  async start(): Promise<void> {
    await this.#sync();
    this.#timer = setInterval(
      () => void this.#sync().catch((err: unknown) => this.#log.warn({ err }, "sentinel resolve failed")),
      this.#resolveIntervalMs,
    );
  }

  async #sync(): Promise<void> {
    const addresses = await resolveAll(this.#configured);
    const keys = new Set(addresses.map((a) => `${a.host}:${a.port}`));
    for (const [key, entry] of this.#clients) {
      if (!keys.has(key)) {
        this.#log.info({ sentinel: key }, "sentinel gone from its name, unsubscribing");
        entry.client.disconnect();
        entry.command.disconnect();
        this.#clients.delete(key);
      }
    }
    for (const address of addresses) {
      const key = `${address.host}:${address.port}`;
      if (!this.#clients.has(key)) this.#connect(key, address);
    }
    this.onChange(this.subscribed, this.known);
  }

  #connect(key: string, address: HostPort): void {
    const client = new Redis({
      host: address.host,
      port: address.port,
      password: this.#password,
      enableReadyCheck: false,
      connectTimeout: 2000,
      maxRetriesPerRequest: null,
      // Reconnect forever with backoff (50 ms doubling to 2 s); ioredis re-subscribes by itself.
      retryStrategy: (times) => doubling(50, times, 2000),
    });
    // A second, persistent connection for commands (a subscribed connection cannot run them).
    const command = new Redis({
      host: address.host,
      port: address.port,
      password: this.#password,
      enableReadyCheck: false,
      connectTimeout: 1000,
      commandTimeout: 1000,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => doubling(50, times, 2000),
    });
    command.on("error", () => undefined);
    const entry = { address, client, command, subscribed: false };
    this.#clients.set(key, entry);
    const log = this.#log.child({ sentinel: key });
    client.on("error", (err: Error) => log.debug({ err }, "sentinel connection error"));
    client.on("close", () => {
      if (entry.subscribed) log.warn("sentinel connection lost, reconnecting");
      entry.subscribed = false;
      this.onChange(this.subscribed, this.known);
    });
    client.on("ready", () => {
      client.psubscribe("*").then(
        () => {
          entry.subscribed = true;
          log.info("sentinel subscribed");
          this.onChange(this.subscribed, this.known);
        },
        (err: unknown) => log.warn({ err }, "sentinel psubscribe failed"),
      );
    });
    client.on("pmessage", (_pattern: string, channel: string, message: string) => this.#onMessage(address, channel, message, new Date()));
  }

  /** SENTINEL MASTER <name> config-epoch, from the Sentinel that announced the event (null if it cannot say). */
  async epochOf(address: HostPort, master: string): Promise<number | null> {
    const entry = this.#clients.get(`${address.host}:${address.port}`);
    if (!entry) return null;
    try {
      const fields = (await entry.command.call("SENTINEL", "MASTER", master)) as string[];
      const i = fields.indexOf("config-epoch");
      return i >= 0 ? Number(fields[i + 1]) : null;
    } catch {
      return null;
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    for (const { client, command } of this.#clients.values()) {
      client.disconnect();
      command.disconnect();
    }
    this.#clients.clear();
  }
}

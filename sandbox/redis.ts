/** The server and Sentinel processes of the sandbox: redis-server / redis-sentinel, or valkey-server / valkey-sentinel. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { parseInfo } from "../shared/redis-info.ts";
import { probeClient, withRedis } from "../shared/redis-probe.ts";
import { ManagedProcess } from "./process.ts";
import { binaryPath, serverBinary } from "./paths.ts";
import type { ServerFamily } from "./paths.ts";
import { REDIS_PORT, SENTINEL_PORT } from "./addresses.ts";
import { assertFree } from "./net.ts";

export interface Address {
  host: string;
  port: number;
}

export { probeClient };

/** Runs one command on a fresh connection and closes it. */
export function redisCommand(addr: Address, password: string | undefined, command: string, ...args: (string | number)[]): Promise<unknown> {
  return withRedis(addr, password, (client) => client.call(command, ...args));
}

async function pingable(addr: Address, password: string | undefined): Promise<boolean> {
  return (await redisCommand(addr, password, "PING").catch(() => "")) === "PONG";
}

export interface RedisSpec {
  /** Which server runs: redis-server or valkey-server (same config, same protocol). */
  server: ServerFamily;
  /** Master name this instance belongs to. */
  master: string;
  index: number;
  ip: string;
  dir: string;
  password: string | undefined;
  /** Replicate from this address at start (the first instance of a set starts as master). */
  replicaOf: Address | undefined;
  /** Extra redis.conf directives, e.g. { "min-replicas-to-write": "1" }. */
  extraConfig: Record<string, string>;
}

function redisConf(spec: RedisSpec): string {
  const lines = [
    `bind ${spec.ip}`,
    `port ${REDIS_PORT}`,
    `dir ${spec.dir}`,
    `logfile ""`,
    `daemonize no`,
    `protected-mode ${spec.password ? "yes" : "no"}`,
    `replica-announce-ip ${spec.ip}`,
    `replica-announce-port ${REDIS_PORT}`,
    // Persistence on: AOF + RDB, as in the manifests.
    `appendonly yes`,
    `appendfsync everysec`,
    `save 3600 1 300 100 60 10000`,
    // Replicas sync over the socket at once instead of waiting for more replicas (faster tests).
    `repl-diskless-sync yes`,
    `repl-diskless-sync-delay 0`,
  ];
  if (spec.password) lines.push(`requirepass ${spec.password}`, `masterauth ${spec.password}`);
  if (spec.replicaOf) lines.push(`replicaof ${spec.replicaOf.host} ${spec.replicaOf.port}`);
  for (const [key, value] of Object.entries(spec.extraConfig)) lines.push(`${key} ${value}`);
  return `${lines.join("\n")}\n`;
}

/** One redis-server process. Its config file is rewritten by Sentinel (CONFIG REWRITE) as in a cluster. */
export class RedisInstance {
  readonly spec: RedisSpec;
  readonly process: ManagedProcess;
  readonly confPath: string;

  constructor(spec: RedisSpec) {
    this.spec = spec;
    mkdirSync(spec.dir, { recursive: true });
    this.confPath = join(spec.dir, "redis.conf");
    writeFileSync(this.confPath, redisConf(spec));
    this.process = new ManagedProcess({
      name: `redis ${spec.master}/${spec.index} (${spec.ip})`,
      command: binaryPath(serverBinary(spec.server, "server")),
      args: [this.confPath],
      logFile: join(spec.dir, "redis.log"),
      ready: () => pingable(this.address, spec.password),
      readyTimeoutMs: 15_000,
    });
  }

  get address(): Address {
    return { host: this.spec.ip, port: REDIS_PORT };
  }

  async start(): Promise<void> {
    await assertFree(this.process.name, this.spec.ip, REDIS_PORT);
    await this.process.start();
  }

  /**
   * Starts the process again after a kill/stop. With `replicaOf`, the config file is rewritten
   * to replicate from that address first (what the init container does in a pod).
   */
  async restart(options: { replicaOf?: Address } = {}): Promise<void> {
    await this.process.stop();
    if (options.replicaOf) writeFileSync(this.confPath, redisConf({ ...this.spec, replicaOf: options.replicaOf }));
    await this.start();
  }

  /**
   * Starts again from a runtime config written by `failover init redis` (which includes
   * `baseConfPath`: bind, dir, persistence), as a pod's redis container does after its init.
   */
  async restartFromConfig(runtimeConfig: string): Promise<void> {
    await this.process.stop();
    writeFileSync(this.baseConfPath, redisConf({ ...this.spec, replicaOf: undefined }));
    writeFileSync(this.confPath, runtimeConfig);
    await this.start();
  }

  /** The redis.conf that an init-written runtime config includes (REDIS_BASE_CONFIG). */
  get baseConfPath(): string {
    return join(this.spec.dir, "base.conf");
  }

  /**
   * Stops the process and starts it on another address, replicating from `replicaOf`: a pod
   * rescheduled with a new IP. (The caller updates the Pod object.)
   */
  async moveTo(ip: string, replicaOf: Address): Promise<void> {
    await this.process.stop();
    this.spec.ip = ip;
    writeFileSync(this.confPath, redisConf({ ...this.spec, replicaOf }));
    await this.start();
  }

  /** A fresh non-retrying client (the caller disconnects it). */
  client(): Redis {
    return probeClient(this.address, this.spec.password);
  }

  /** `INFO replication` parsed into a record. */
  async replicationInfo(): Promise<Record<string, string>> {
    return parseInfo(String(await redisCommand(this.address, this.spec.password, "INFO", "replication")));
  }
}

export interface SentinelSpec {
  /** Which Sentinel runs: redis-sentinel or valkey-sentinel. */
  server: ServerFamily;
  index: number;
  ip: string;
  dir: string;
  /** Every monitored master: its name and initial address. */
  masters: { name: string; address: Address }[];
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  redisPassword: string | undefined;
  /** Password clients (and the other Sentinels) need to talk to this Sentinel. */
  sentinelPassword: string | undefined;
  /** Extra sentinel.conf lines per master, e.g. `sentinel client-reconfig-script <name> <path>`. */
  extraConfig?: (master: string) => string[];
}

function sentinelConf(spec: SentinelSpec): string {
  const lines = [
    `bind ${spec.ip}`,
    `port ${SENTINEL_PORT}`,
    `dir ${spec.dir}`,
    `logfile ""`,
    `daemonize no`,
    `protected-mode no`,
    `sentinel announce-ip ${spec.ip}`,
    `sentinel announce-port ${SENTINEL_PORT}`,
  ];
  if (spec.sentinelPassword) lines.push(`requirepass ${spec.sentinelPassword}`, `sentinel sentinel-pass ${spec.sentinelPassword}`);
  for (const { name, address } of spec.masters) {
    lines.push(
      `sentinel monitor ${name} ${address.host} ${address.port} ${spec.quorum}`,
      `sentinel down-after-milliseconds ${name} ${spec.downAfterMs}`,
      `sentinel failover-timeout ${name} ${spec.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${name} 1`,
    );
    if (spec.redisPassword) lines.push(`sentinel auth-pass ${name} ${spec.redisPassword}`);
    lines.push(...(spec.extraConfig?.(name) ?? []));
  }
  return `${lines.join("\n")}\n`;
}

/** One redis-sentinel process. Sentinel rewrites its own config file as it learns. */
export class SentinelInstance {
  readonly spec: SentinelSpec;
  readonly process: ManagedProcess;
  readonly confPath: string;

  constructor(spec: SentinelSpec) {
    this.spec = spec;
    mkdirSync(spec.dir, { recursive: true });
    this.confPath = join(spec.dir, "sentinel.conf");
    this.writeConfig(spec.masters);
    this.process = new ManagedProcess({
      name: `sentinel ${spec.index} (${spec.ip})`,
      command: binaryPath(serverBinary(spec.server, "sentinel")),
      args: [this.confPath],
      logFile: join(spec.dir, "sentinel.log"),
      ready: () => pingable(this.address, spec.sentinelPassword),
      readyTimeoutMs: 15_000,
    });
  }

  get address(): Address {
    return { host: this.spec.ip, port: SENTINEL_PORT };
  }

  /** Writes a fresh config (as a sentinel that lost its state would get from its init container). */
  writeConfig(masters: { name: string; address: Address }[]): void {
    writeFileSync(this.confPath, sentinelConf({ ...this.spec, masters }));
  }

  async start(): Promise<void> {
    await assertFree(this.process.name, this.spec.ip, SENTINEL_PORT);
    await this.process.start();
  }

  /** Starts again from a sentinel.conf written by `failover init sentinel` (the state it had is lost). */
  async restartFromConfig(config: string): Promise<void> {
    await this.process.stop();
    writeFileSync(this.confPath, `dir ${this.spec.dir}\nlogfile ""\n${config}`);
    await this.start();
  }

  /** Starts again after a kill/stop; with `masters`, from a fresh config (state lost). */
  async restart(options: { masters?: { name: string; address: Address }[] } = {}): Promise<void> {
    await this.process.stop();
    if (options.masters) this.writeConfig(options.masters);
    await this.start();
  }

  client(): Redis {
    return probeClient(this.address, this.spec.sentinelPassword);
  }

  command(command: string, ...args: (string | number)[]): Promise<unknown> {
    return redisCommand(this.address, this.spec.sentinelPassword, command, ...args);
  }
}

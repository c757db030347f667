/**
 * HAProxy in front of one master's redis processes, configured the way the redis-ha chart does it
 * (its defaults: `check inter 1s fall 1 rise 1`, `timeout check 2s`, a tcp-check that AUTHs, PINGs
 * and expects `role:master`, and a per-server gate that a majority of Sentinels names that server).
 * Used by the benchmark and the chaos suite as "the polling proxy approach", never by the project.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManagedProcess } from "./process.ts";
import { binaryPath } from "./paths.ts";
import { assertFree, tcpOpen } from "./net.ts";
import type { Address } from "./redis.ts";
import { majority } from "../shared/sentinel-quorum.ts";

export const HAPROXY_IP = "198.18.0.3";

export interface HaproxySpec {
  dir: string;
  master: string;
  redis: Address[];
  sentinels: Address[];
  password: string | undefined;
  sentinelPassword: string | undefined;
  /** Listening port for the master (default 6379). */
  port?: number;
  /** The chart's `haproxy.checkInterval` (default "1s") and `haproxy.checkFall` (default 1). */
  checkInterval?: string;
  checkFall?: number;
}

/** haproxy's tcp-check `send` argument: spaces escaped, CRLF as \r\n. */
const send = (text: string) => `tcp-check send ${text.replace(/ /g, "\\ ")}\\r\\n`;

export function haproxyConfig(spec: HaproxySpec): string {
  const inter = spec.checkInterval ?? "1s";
  const fall = spec.checkFall ?? 1;
  const lines = [
    "global",
    "  maxconn 4096",
    "defaults REDIS",
    "  mode tcp",
    "  timeout connect 4s",
    "  timeout server 330s",
    "  timeout client 330s",
    "  timeout check 2s",
  ];
  // One backend per redis server: "do a majority of Sentinels name this server as master?"
  spec.redis.forEach((r, i) => {
    lines.push(`backend check_if_redis_is_master_${i}`, "  mode tcp", "  option tcp-check", "  tcp-check connect");
    if (spec.sentinelPassword) lines.push(`  ${send(`AUTH ${spec.sentinelPassword}`)}`, "  tcp-check expect string +OK");
    lines.push(
      `  ${send("PING")}`,
      "  tcp-check expect string +PONG",
      `  ${send(`SENTINEL get-master-addr-by-name ${spec.master}`)}`,
      `  tcp-check expect string ${r.host}`,
      `  ${send("QUIT")}`,
    );
    spec.sentinels.forEach((s, j) => lines.push(`  server S${j} ${s.host}:${s.port} check inter ${inter}`));
  });
  lines.push("frontend ft_redis_master", `  bind ${HAPROXY_IP}:${spec.port ?? 6379}`, "  use_backend bk_redis_master");
  lines.push("backend bk_redis_master", "  mode tcp", "  option tcp-check", "  tcp-check connect");
  if (spec.password) lines.push(`  ${send(`AUTH ${spec.password}`)}`, "  tcp-check expect string +OK");
  lines.push(
    `  ${send("PING")}`,
    "  tcp-check expect string +PONG",
    `  ${send("info replication")}`,
    "  tcp-check expect string role:master",
    `  ${send("QUIT")}`,
    "  tcp-check expect string +OK",
  );
  const quorum = majority(spec.sentinels.length);
  spec.redis.forEach((r, i) => {
    lines.push(`  use-server R${i} if { srv_is_up(R${i}) } { nbsrv(check_if_redis_is_master_${i}) ge ${quorum} }`);
    lines.push(`  server R${i} ${r.host}:${r.port} check inter ${inter} fall ${fall} rise 1`);
  });
  return `${lines.join("\n")}\n`;
}

export class HaproxyInstance {
  readonly spec: HaproxySpec;
  readonly process: ManagedProcess;

  constructor(spec: HaproxySpec) {
    this.spec = spec;
    mkdirSync(spec.dir, { recursive: true });
    const conf = join(spec.dir, "haproxy.cfg");
    writeFileSync(conf, haproxyConfig(spec));
    this.process = new ManagedProcess({
      name: `haproxy (${HAPROXY_IP})`,
      command: binaryPath("haproxy"),
      args: ["-db", "-f", conf],
      logFile: join(spec.dir, "haproxy.log"),
      ready: () => tcpOpen(HAPROXY_IP, spec.port ?? 6379),
      readyTimeoutMs: 10_000,
    });
  }

  get address(): Address {
    return { host: HAPROXY_IP, port: this.spec.port ?? 6379 };
  }

  async start(): Promise<void> {
    await assertFree(this.process.name, HAPROXY_IP, this.spec.port ?? 6379);
    await this.process.start();
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

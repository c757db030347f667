/** Redis servers for unit tests: a command handler per `host:port`; an address with none refuses connections. */
import type { HostPort } from "../../sentinel-quorum.ts";
import type { RedisAccess, RedisCommands } from "../context.ts";

/** One server: its reply to a command (throw to make the command fail). */
export type RedisHandler = (command: string, args: readonly string[]) => unknown;

export interface RedisCall {
  addr: string;
  command: string;
  args: string[];
}

export class FakeRedis implements RedisAccess {
  readonly servers = new Map<string, RedisHandler>();
  /** Every command, in order. */
  readonly calls: RedisCall[] = [];

  constructor(servers: Record<string, RedisHandler> = {}) {
    for (const [addr, handler] of Object.entries(servers)) this.servers.set(addr, handler);
  }

  async session<T>(addr: HostPort, fn: (r: RedisCommands) => Promise<T>): Promise<T> {
    const key = `${addr.host}:${addr.port}`;
    const handler = this.servers.get(key);
    if (!handler) throw new Error(`connect ECONNREFUSED ${key}`);
    return fn({
      call: async (command, ...args) => {
        this.calls.push({ addr: key, command, args });
        return Promise.resolve(handler(command.toUpperCase(), args));
      },
    });
  }

  /** Commands sent to `addr` as `COMMAND arg...` strings. */
  commandsTo(addr: string): string[] {
    return this.calls.filter((c) => c.addr === addr).map((c) => [c.command, ...c.args].join(" "));
  }
}

/** `INFO replication` of a master. */
export function masterInfo(): string {
  return "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n";
}

/** `INFO replication` of a replica of `host:port`, link up or down. */
export function replicaInfo(host: string, port: number, link: "up" | "down" = "up"): string {
  return `# Replication\r\nrole:slave\r\nmaster_host:${host}\r\nmaster_port:${port}\r\nmaster_link_status:${link}\r\n`;
}

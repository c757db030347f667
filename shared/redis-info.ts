/** Redis `INFO` replies (`INFO replication`: role, master_host, master_port, master_link_status, ...). */

/** `INFO` text into a record of its `key:value` lines (section headers and blank lines dropped). */
export function parseInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((l) => l.includes(":"))
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]),
  );
}

/** The server's `INFO replication`, parsed. */
export async function replicationInfo(r: { call(command: string, ...args: string[]): Promise<unknown> }): Promise<Record<string, string>> {
  return parseInfo(String(await r.call("INFO", "replication")));
}

/** Which server answers: Valkey says so in `server_name` / `valkey_version`; Redis (which has neither) in `redis_version`. */
export interface ServerIdentity {
  family: "redis" | "valkey";
  version: string;
}

/**
 * The server's family and version from its `INFO server`, parsed. Valkey 8 also reports
 * `redis_version:7.2.4` (the Redis version it is compatible with), so `redis_version` alone
 * would call it Redis 7.2: the Valkey fields are read first.
 */
export function serverIdentity(info: Record<string, string>): ServerIdentity {
  if (info.server_name === "valkey" || info.valkey_version !== undefined) {
    return { family: "valkey", version: info.valkey_version ?? info.redis_version ?? "unknown" };
  }
  return { family: "redis", version: info.redis_version ?? "unknown" };
}

/** The identity of the server behind a connection (`INFO server`). */
export async function serverIdentityOf(r: { call(command: string, ...args: string[]): Promise<unknown> }): Promise<ServerIdentity> {
  return serverIdentity(parseInfo(String(await r.call("INFO", "server"))));
}

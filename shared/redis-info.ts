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

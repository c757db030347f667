/** Host names to every address they stand for (a headless Service name resolves to all its pods). */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { HostPort } from "./sentinel-quorum.ts";

/** Every address of every entry, deduplicated; an entry that does not resolve gives none. */
export async function resolveAll(entries: readonly HostPort[]): Promise<HostPort[]> {
  const out = new Map<string, HostPort>();
  for (const e of entries) {
    const addrs = isIP(e.host) ? [{ address: e.host }] : await lookup(e.host, { all: true }).catch(() => []);
    for (const a of addrs) out.set(`${a.address}:${e.port}`, { host: a.address, port: e.port });
  }
  return [...out.values()];
}

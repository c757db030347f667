/**
 * Sentinel's pub/sub messages into typed events. The channel is the event name (`+sdown`); the
 * message is either instance details, `<type> <name> <ip> <port> [@ <master> <ip> <port>] [detail]`,
 * or an event-specific text: `+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>`,
 * `+new-epoch <epoch>`, `+vote-for-leader <runid> <epoch>`, `+tilt #tilt mode entered`.
 * Hostnames are accepted wherever IPs are (Sentinel with resolve-hostnames / announce-hostnames).
 * Never throws: anything else is a typed failure with the reason.
 */
import { z } from "zod";

const token = z.string().regex(/^\S+$/);
const port = z.coerce.number().int().min(1).max(65535);
const host = z.string().regex(/^[A-Za-z0-9._:%\-[\]]+$/, "not an IP or hostname");
export const eventNameSchema = z.string().regex(/^[+-][a-z0-9-]+$/, "not a Sentinel event name");

export interface Instance {
  type: "master" | "slave" | "sentinel";
  name: string;
  host: string;
  port: number;
}

export interface ParsedEvent {
  event: string;
  master: string | null;
  instance?: Instance;
  masterAddress?: { host: string; port: number };
  oldMaster?: { host: string; port: number };
  newMaster?: { host: string; port: number };
  /** The epoch when the message itself carries one (+new-epoch, +vote-for-leader). */
  epoch?: number;
  detail?: string;
}

export type ParseResult = { ok: true; event: ParsedEvent } | { ok: false; reason: string };

const fail = (reason: string): ParseResult => ({ ok: false, reason });

function hostPort(h: string | undefined, p: string | undefined, what: string): { host: string; port: number } | string {
  const hh = host.safeParse(h);
  const pp = port.safeParse(p);
  if (!hh.success) return `${what}: bad host ${JSON.stringify(h)}`;
  if (!pp.success) return `${what}: bad port ${JSON.stringify(p)}`;
  return { host: hh.data, port: pp.data };
}

const instanceType = z.enum(["master", "slave", "sentinel"]);

/** `<type> <name> <ip> <port> [@ <master> <ip> <port>] [detail...]` */
function parseInstanceDetails(event: string, words: string[]): ParseResult {
  const type = instanceType.safeParse(words[0]);
  if (!type.success) return fail(`expected instance type master|slave|sentinel, got ${JSON.stringify(words[0])}`);
  const name = token.safeParse(words[1]);
  if (!name.success) return fail("missing instance name");
  const addr = hostPort(words[2], words[3], "instance");
  if (typeof addr === "string") return fail(addr);
  const instance: Instance = { type: type.data, name: name.data, ...addr };
  let rest = words.slice(4);
  let master: string | null = type.data === "master" ? name.data : null;
  let masterAddress: { host: string; port: number } | undefined = type.data === "master" ? addr : undefined;
  if (rest[0] === "@") {
    const m = token.safeParse(rest[1]);
    if (!m.success) return fail("missing master name after @");
    const ma = hostPort(rest[2], rest[3], "master");
    if (typeof ma === "string") return fail(ma);
    master = m.data;
    masterAddress = ma;
    rest = rest.slice(4);
  }
  if (master === null) return fail(`${type.data} instance without "@ <master> <ip> <port>"`);
  const detail = rest.join(" ");
  return { ok: true, event: { event, master, instance, masterAddress, ...(detail ? { detail } : {}) } };
}

export function parseSentinelMessage(channel: string, message: string): ParseResult {
  const name = eventNameSchema.safeParse(channel);
  if (!name.success) return fail(`channel ${JSON.stringify(channel.slice(0, 60))} is not a Sentinel event`);
  const event = name.data;
  const words = message
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "");
  switch (event) {
    case "+switch-master": {
      if (words.length !== 5) return fail(`+switch-master needs 5 fields, got ${words.length}`);
      const m = token.safeParse(words[0]);
      const oldMaster = hostPort(words[1], words[2], "old master");
      const newMaster = hostPort(words[3], words[4], "new master");
      if (!m.success) return fail("missing master name");
      if (typeof oldMaster === "string") return fail(oldMaster);
      if (typeof newMaster === "string") return fail(newMaster);
      return { ok: true, event: { event, master: m.data, oldMaster, newMaster, masterAddress: newMaster } };
    }
    case "+new-epoch": {
      const epoch = z.coerce.number().int().nonnegative().safeParse(words[0]);
      if (words.length !== 1 || !epoch.success) return fail("+new-epoch needs one integer epoch");
      return { ok: true, event: { event, master: null, epoch: epoch.data } };
    }
    case "+vote-for-leader": {
      const epoch = z.coerce.number().int().nonnegative().safeParse(words[1]);
      if (words.length !== 2 || !epoch.success) return fail("+vote-for-leader needs <runid> <epoch>");
      return { ok: true, event: { event, master: null, epoch: epoch.data, detail: `leader ${words[0]}` } };
    }
    case "+tilt":
    case "-tilt":
      return { ok: true, event: { event, master: null, ...(words.length ? { detail: words.join(" ") } : {}) } };
    default:
      if (words.length < 4) return fail(`expected instance details, got ${words.length} fields`);
      return parseInstanceDetails(event, words);
  }
}

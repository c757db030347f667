/**
 * What happened during a stretch of a benchmark, counted from log files (the part written after a
 * remembered offset). Sentinel logs: every `+event` / `-event` line by event name (`+sdown` and
 * `-sdown` also by the kind of instance: master, slave, sentinel), config rewrites, and the "Next
 * failover delay" notices of a Sentinel waiting 2 x failover-timeout before trying again. The
 * project's JSON logs: lines by message.
 */
import { readFileSync, statSync } from "node:fs";

/** Current size of a log file (its end offset), 0 if it does not exist. */
export function logOffset(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The text of `path` after byte `from` ("" when there is no such file). */
function textAfter(path: string, from: number): string {
  try {
    return readFileSync(path).subarray(from).toString("utf8");
  } catch {
    return "";
  }
}

/** Event counts in `path` after byte `from`. */
export function sentinelLogCounts(path: string, from: number): Record<string, number> {
  const text = textAfter(path, from);
  const counts: Record<string, number> = {};
  const add = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  for (const line of text.split("\n")) {
    // `<pid>:X 25 Nov 2026 12:18:48.457 # +sdown sentinel <id> <ip> <port> @ <master> <ip> <port>`
    const m = /^\d+:X \d+ \w+ \d+ [\d:.]+ [#*] (.*)$/.exec(line);
    if (!m) continue;
    const words = m[1]!.split(" ");
    const event = words[0]!;
    if (event === "+sdown" || event === "-sdown") add(`${event} ${words[1]}`);
    else if (event.startsWith("+") || event.startsWith("-")) add(event);
    else if (m[1]!.startsWith("Sentinel new configuration saved on disk")) add("config saved");
    else if (m[1]!.startsWith("Next failover delay")) add("next failover delay");
    else if (m[1]!.startsWith("Executing user requested FAILOVER")) add("user requested failover");
  }
  return counts;
}

/** Sums of several count records. */
export function addCounts(records: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Line counts of a JSON (pino) log after byte `from`, by message; a short error message (such as
 * an HTTP status text) is kept in the key, a long one (naming a master) is not. With `fn`, only the
 * lines of that function (its `fn` field: the functions host logs every function to one file).
 */
export function jsonLogCounts(path: string, from: number, skip: string[] = [], fn?: string): Record<string, number> {
  const text = textAfter(path, from);
  const counts: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: { msg?: unknown; fn?: unknown; err?: { message?: unknown } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (fn !== undefined && entry.fn !== fn) continue;
    const msg = typeof entry.msg === "string" ? entry.msg : "";
    if (msg === "" || skip.includes(msg)) continue;
    const err = typeof entry.err?.message === "string" && entry.err.message.length <= 40 ? ` (${entry.err.message})` : "";
    counts[`${msg}${err}`] = (counts[`${msg}${err}`] ?? 0) + 1;
  }
  return counts;
}

/**
 * Kubernetes label selectors, as the apiserver reads them (`key`, `!key`, `key=value`,
 * `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, comma-separated, all of them
 * must hold): parsed once, matched in memory. The watch caches watch a wider set (only the keys,
 * `watchSelector`) shared by every master of a namespace, and pick each master's pods from it.
 */
import { TerminalError } from "./errors.ts";

export type Requirement =
  | { key: string; op: "exists" | "!exists" }
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] };

export interface LabelSelector {
  readonly text: string;
  readonly requirements: readonly Requirement[];
}

/** A label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value: empty, or up to 63 characters starting and ending alphanumeric. */
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** The selector's requirements split on the commas outside parentheses. */
function split(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

function key(k: string, selector: string): string {
  if (!KEY.test(k)) throw new TerminalError(`label selector ${JSON.stringify(selector)}: ${JSON.stringify(k)} is not a label key`);
  return k;
}

function value(v: string, selector: string): string {
  if (!VALUE.test(v)) throw new TerminalError(`label selector ${JSON.stringify(selector)}: ${JSON.stringify(v)} is not a label value`);
  return v;
}

/** Parses `text`; a malformed selector is a TerminalError naming the part it cannot read. */
export function parseLabelSelector(text: string): LabelSelector {
  const requirements: Requirement[] = [];
  if (text.trim() === "") throw new TerminalError("label selector is empty (it would select every pod)");
  for (const part of split(text)) {
    let m: RegExpMatchArray | null;
    if ((m = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part))) {
      const values = m[3]!.split(",").map((v) => value(v.trim(), text));
      requirements.push({ key: key(m[1]!, text), op: m[2] as "in" | "notin", values });
    } else if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part))) {
      requirements.push({ key: key(m[1]!, text), op: m[2] === "!=" ? "!=" : "=", value: value(m[3]!, text) });
    } else if ((m = /^!\s*(\S+)$/.exec(part))) {
      requirements.push({ key: key(m[1]!, text), op: "!exists" });
    } else if (part !== "") {
      requirements.push({ key: key(part, text), op: "exists" });
    } else {
      throw new TerminalError(`label selector ${JSON.stringify(text)}: an empty requirement`);
    }
  }
  return { text, requirements };
}

/** Whether `labels` satisfy every requirement of `selector`. */
export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return selector.requirements.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "=":
        return has && l[r.key] === r.value;
      case "!=":
        return !has || l[r.key] !== r.value;
      case "in":
        return has && r.values.includes(l[r.key]!);
      case "notin":
        return !has || !r.values.includes(l[r.key]!);
    }
  });
}

/**
 * The selector a watch shared by many selectors uses: only that the keys they require exist
 * (`redis.failover.io/master=cache` -> `redis.failover.io/master`), sorted; `undefined` when
 * `selector` requires no key (a watch of the whole namespace).
 */
export function watchSelector(selector: LabelSelector): string | undefined {
  const keys = [
    ...new Set(selector.requirements.filter((r) => r.op === "exists" || r.op === "=" || r.op === "in").map((r) => r.key)),
  ].sort();
  return keys.length > 0 ? keys.join(",") : undefined;
}

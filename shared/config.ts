/**
 * Configuration from the environment, parsed once at start with zod. A bad value fails with a
 * ConfigError naming the variable (`SENTINELS: expected host:port[,host:port...]`).
 */
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import type { HostPort } from "./sentinel-quorum.ts";

/** Parses `env` with `schema` (keys = variable names); throws ConfigError naming the first bad key. */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path.map(String).join(".") || "(environment)";
  const value = typeof issue.path[0] === "string" ? env[issue.path[0]] : undefined;
  const shown = value === undefined ? "missing" : `got ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value)}`;
  throw new ConfigError(key, `${issue.message} (${shown})`);
}

/** `host:port`, `[v6]:port`; port defaults to `defaultPort`. */
export function parseHostPort(text: string, defaultPort: number): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** A comma-separated list of host[:port] as a zod schema (for SENTINELS and the like). */
export function hostPortList(defaultPort: number) {
  return z.string().transform((text, ctx) => {
    const items = text
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const out: HostPort[] = [];
    for (const item of items) {
      const hp = parseHostPort(item, defaultPort);
      if (!hp) {
        ctx.addIssue({ code: "custom", message: `expected host[:port][,host[:port]...], bad item ${JSON.stringify(item)}` });
        return z.NEVER;
      }
      out.push(hp);
    }
    if (out.length === 0) {
      ctx.addIssue({ code: "custom", message: "expected at least one host[:port]" });
      return z.NEVER;
    }
    return out;
  });
}

/** A Kubernetes object name (DNS subdomain). */
export const dnsName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "expected a Kubernetes object name");

/** A duration in ms from an integer string. */
export const millis = (min = 0) => z.coerce.number().int().min(min);

/** "true"/"false"/"1"/"0" as a boolean. */
export const boolFlag = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

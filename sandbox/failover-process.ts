/**
 * The project's own commands (`failover relay`, `failover run ...`) as real processes next to the
 * sandbox, configured by environment as in a pod, ready when their /readyz says so. Tracked like
 * every sandbox process (stopped with SIGTERM, killed if the test process dies).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ManagedProcess } from "./process.ts";
import type { Sandbox } from "./sandbox.ts";

const entry = fileURLToPath(new URL("../bin/failover.ts", import.meta.url));

/** The image's NODE_OPTIONS (the Dockerfile's `ENV NODE_OPTIONS=`), so a process here runs with the heap a pod's has. */
export const IMAGE_NODE_OPTIONS = imageNodeOptions(readFileSync(fileURLToPath(new URL("../Dockerfile", import.meta.url)), "utf8"));

/** Every stage's `ENV NODE_OPTIONS=` of a Dockerfile, which must agree; "" when none sets it. */
export function imageNodeOptions(dockerfile: string): string {
  const values = new Set([...dockerfile.matchAll(/^ENV NODE_OPTIONS=(.*)$/gm)].map((m) => m[1]!.trim()));
  if (values.size > 1) throw new Error(`the Dockerfile's stages set different NODE_OPTIONS: ${[...values].join(" | ")}`);
  return [...values][0] ?? "";
}

export interface FailoverProcessOptions {
  /** e.g. ["relay"] or ["run", "label-master", "master-endpoints"] */
  args: string[];
  env: Record<string, string>;
  /** Port of its /healthz /readyz /metrics server (on 127.0.0.1). */
  httpPort: number;
  name: string;
  logFile: string;
  readyTimeoutMs?: number;
  /** What start() waits for: /readyz (default) or only /healthz (serving, maybe still waiting for NATS). */
  waitFor?: "ready" | "live";
}

export function failoverProcess(o: FailoverProcessOptions): ManagedProcess {
  return new ManagedProcess({
    name: o.name,
    command: process.execPath,
    args: [entry, ...o.args],
    env: {
      ...process.env,
      NODE_OPTIONS: IMAGE_NODE_OPTIONS,
      LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(o.httpPort),
      ...o.env,
    },
    logFile: o.logFile,
    ready: async () => (await fetch(`http://127.0.0.1:${o.httpPort}/${o.waitFor === "live" ? "healthz" : "readyz"}`)).ok,
    readyTimeoutMs: o.readyTimeoutMs ?? 30_000,
    stopTimeoutMs: 8_000,
  });
}

/** The environment a relay or function needs to reach this sandbox's Sentinels and NATS. */
export function sandboxEnv(sb: Sandbox): Record<string, string> {
  const env: Record<string, string> = {
    SENTINELS: sb.sentinelAddresses.map((a) => `${a.host}:${a.port}`).join(","),
    NATS_URL: sb.nats?.url ?? "",
  };
  if (sb.sentinelPassword) env.SENTINEL_PASSWORD = sb.sentinelPassword;
  if (sb.password) env.REDIS_PASSWORD = sb.password;
  if (sb.natsUser && sb.natsPassword) {
    env.NATS_USER = sb.natsUser;
    env.NATS_PASSWORD = sb.natsPassword;
  }
  if (sb.controlPlane) env.KUBECONFIG = sb.kubeconfigPath;
  return env;
}

/** Starts `count` relay processes against the sandbox (HTTP ports 18080, 18081, ...). */
export async function startRelays(sb: Sandbox, count = 2, extraEnv: Record<string, string> = {}): Promise<ManagedProcess[]> {
  const relays = Array.from({ length: count }, (_, i) =>
    failoverProcess({
      name: `sentinel-relay-${i}`,
      args: ["relay"],
      env: { ...sandboxEnv(sb), ...extraEnv },
      httpPort: 18080 + i,
      logFile: join(sb.dir, `sentinel-relay-${i}.log`),
    }),
  );
  await Promise.all(relays.map((r) => r.start()));
  return relays;
}

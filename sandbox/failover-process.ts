/**
 * The project's own commands (`failover relay`, `failover run ...`) as real processes next to the
 * sandbox, configured by environment as in a pod, ready when their /readyz says so. Tracked like
 * every sandbox process (stopped with SIGTERM, killed if the test process dies).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadAllYaml } from "@kubernetes/client-node";
import type { V1Deployment } from "@kubernetes/client-node";
import { ManagedProcess } from "./process.ts";
import type { Sandbox } from "./sandbox.ts";

/**
 * Which code a process runs: the TypeScript sources as the image's `dev` target runs them
 * (`node bin/failover.ts`, Node strips the types as it loads each file), or tsc's output as the
 * `production` target runs it (`node dist/bin/failover.js`). Same behaviour; the sources cost
 * 20-30 MB more RSS per process (Node's type stripper and the larger sources it keeps).
 */
export type ProcessCode = "source" | "dist";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const ENTRIES: Record<ProcessCode, string> = {
  source: join(ROOT, "bin/failover.ts"),
  dist: join(ROOT, "dist/bin/failover.js"),
};

/** Compiles dist/ as the Dockerfile's build stage does (`tsc -p tsconfig.build.json`), so `code: "dist"` runs this checkout. */
export async function buildDist(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  await promisify(execFile)(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT }).catch((err: unknown) => {
    const out = err && typeof err === "object" && "stdout" in err ? String(err.stdout).trim() : "";
    throw new Error(`tsc -p tsconfig.build.json failed${out ? `:\n${out}` : ""}`, { cause: err });
  });
}

/** The image's NODE_OPTIONS (the Dockerfile's `ENV NODE_OPTIONS=`), so a process here runs with the heap a pod's has. */
export const IMAGE_NODE_OPTIONS = imageNodeOptions(readFileSync(join(ROOT, "Dockerfile"), "utf8"));

/** Every stage's `ENV NODE_OPTIONS=` of a Dockerfile (quotes removed), which must agree; "" when none sets it. */
export function imageNodeOptions(dockerfile: string): string {
  const values = new Set([...dockerfile.matchAll(/^ENV NODE_OPTIONS=(.*)$/gm)].map((m) => m[1]!.trim().replace(/^"(.*)"$/, "$1")));
  if (values.size > 1) throw new Error(`the Dockerfile's stages set different NODE_OPTIONS: ${[...values].join(" | ")}`);
  return [...values][0] ?? "";
}

/**
 * NODE_OPTIONS as they act in a container whose memory limit is `limitMiB`. V8 sizes
 * `--max-old-space-size-percentage` from the cgroup's limit, which a process beside the sandbox
 * does not have (it would take the percentage of the machine's memory), so the sandbox gives it the
 * size the pod gets: `--max-old-space-size` = that percentage of the limit, in whole MiB.
 */
export function nodeOptionsUnderLimit(options: string, limitMiB: number): string {
  return options
    .split(/\s+/)
    .filter((o) => o !== "")
    .map((o) => {
      const m = /^--max-old-space-size-percentage=(\d+(?:\.\d+)?)$/.exec(o);
      return m ? `--max-old-space-size=${Math.floor((limitMiB * Number(m[1])) / 100)}` : o;
    })
    .join(" ");
}

const MANIFESTS = join(ROOT, "manifests");
/** The functions host's objects (ServiceAccount, Role, RoleBinding, Deployment). */
export const HOST_OBJECTS = join(MANIFESTS, "components/functions-host/host.yaml");

const memoryLimits = new Map<string, number>();

/** The memory limit in MiB ("192Mi", "1Gi") of the first container of a file's Deployment, read once per file; throws when it has none. */
export function manifestMemoryLimitMiB(file: string): number {
  const known = memoryLimits.get(file);
  if (known !== undefined) return known;
  const deployment = (loadAllYaml(readFileSync(file, "utf8")) as V1Deployment[]).find((o) => o?.kind === "Deployment");
  const limit = deployment?.spec?.template.spec?.containers[0]?.resources?.limits?.memory;
  const m = typeof limit === "string" ? /^(\d+)(Mi|Gi)$/.exec(limit) : null;
  if (!m) throw new Error(`${file}: no container memory limit (a Deployment's resources.limits.memory in Mi or Gi)`);
  const mib = Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
  memoryLimits.set(file, mib);
  return mib;
}

/**
 * The manifest that deploys what `args` runs: the relay's Deployment, a single function's own (the
 * webhook's and pod-loss-failover's components), or the functions host's for several; undefined
 * for anything else (a user's hook).
 */
export function deploymentOf(args: string[]): string | undefined {
  const [command, ...rest] = args;
  if (command === "relay") return join(MANIFESTS, "base/functions/deployments/sentinel-relay.yaml");
  if (command !== "run" || rest.length === 0) return undefined;
  if (rest.length > 1) return HOST_OBJECTS;
  if (rest[0] === "webhook") return join(MANIFESTS, "components/webhook/deployment.yaml");
  if (rest[0] === "pod-loss-failover") return join(MANIFESTS, "components/pod-loss-failover/deployments/pod-loss-failover.yaml");
  const own = join(MANIFESTS, "base/functions/deployments", `${rest[0]}.yaml`);
  return existsSync(own) ? own : undefined;
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
  /** The sources (default) or dist/ (build it first: buildDist). */
  code?: ProcessCode;
}

export function failoverProcess(o: FailoverProcessOptions): ManagedProcess {
  const entry = ENTRIES[o.code ?? "source"];
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build dist/ first (npm run build, or buildDist())`);
  return new ManagedProcess({
    name: o.name,
    command: process.execPath,
    args: [entry, ...o.args],
    env: {
      ...process.env,
      NODE_OPTIONS: imageNodeOptionsFor(o.args),
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

/** The image's NODE_OPTIONS for what `args` runs, under its Deployment's memory limit (none known: as they are). */
export function imageNodeOptionsFor(args: string[]): string {
  const manifest = deploymentOf(args);
  return manifest === undefined ? IMAGE_NODE_OPTIONS : nodeOptionsUnderLimit(IMAGE_NODE_OPTIONS, manifestMemoryLimitMiB(manifest));
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

export interface RelaysOptions {
  /** How many (default 2). */
  count?: number;
  /** Extra environment for each. */
  env?: Record<string, string>;
  code?: ProcessCode;
}

/** Starts relay processes against the sandbox (HTTP ports 18080, 18081, ...). */
export async function startRelays(sb: Sandbox, o: RelaysOptions = {}): Promise<ManagedProcess[]> {
  const relays = Array.from({ length: o.count ?? 2 }, (_, i) =>
    failoverProcess({
      name: `sentinel-relay-${i}`,
      args: ["relay"],
      env: { ...sandboxEnv(sb), ...o.env },
      httpPort: 18080 + i,
      logFile: join(sb.dir, `sentinel-relay-${i}.log`),
      ...(o.code ? { code: o.code } : {}),
    }),
  );
  await Promise.all(relays.map((r) => r.start()));
  return relays;
}

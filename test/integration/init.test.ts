/**
 * The pods' start-up and shutdown on real processes: `failover init redis|sentinel` (the init
 * containers, run as the redis-init ServiceAccount with the Role the manifests ship) and the
 * redis container's preStop and probe scripts from manifests/base/redis, against real Sentinels,
 * redis-servers and kube-apiserver. Each process is restarted from the config its init wrote,
 * as the pod's main container would be.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAllYaml } from "@kubernetes/client-node";
import type { KubernetesObject } from "@kubernetes/client-node";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { apply } from "../../sandbox/cluster.ts";
import { serviceAccountKubeconfig, startProject } from "../../sandbox/project.ts";
import type { Project } from "../../sandbox/project.ts";
import { redisCommand } from "../../sandbox/redis.ts";
import { fieldsToRecord } from "../../shared/sentinel-quorum.ts";
import type { RedisInstance, SentinelInstance } from "../../sandbox/redis.ts";
import { Writer } from "../../sandbox/writer.ts";
import { masterState } from "../support/kube-state.ts";
import { SERVER } from "../support/server-family.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPTS = join(ROOT, "manifests/base/redis");

let sb: Sandbox;
let project: Project;
let kubeconfig: string;
let out: string;

beforeAll(async () => {
  sb = await startSandbox({ server: SERVER });
  project = await startProject(sb, { functions: ["master-configmap", "label-master"], resyncIntervalMs: 2000, relays: 1 });
  const rbac = loadAllYaml(readFileSync(join(ROOT, "manifests/base/redis/rbac.yaml"), "utf8")) as KubernetesObject[];
  for (const o of rbac) await apply(sb.kubeConfig, { ...o, metadata: { ...o.metadata, namespace: sb.namespace } });
  kubeconfig = await serviceAccountKubeconfig(sb, "redis-init");
  out = mkdtempSync(join(sb.dir, "init-"));
});

afterAll(async () => {
  await project?.stop();
  await sb?.stop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const sentinelList = () => sb.sentinels.map((s) => `${s.spec.ip}:${s.address.port}`).join(",");

function commonEnv(pod: string, ip: string): Record<string, string> {
  return {
    POD_NAME: pod,
    POD_IP: ip,
    NAMESPACE: sb.namespace,
    MASTER_NAME: "mymaster",
    SENTINELS: sentinelList(),
    SENTINEL_PASSWORD: sb.sentinelPassword ?? "",
    REDIS_PASSWORD: sb.password ?? "",
    KUBECONFIG: kubeconfig,
    INIT_POLL_MS: "200",
    INIT_TIMEOUT_MS: "60000",
    LOG_LEVEL: "info",
  };
}

async function initRedis(r: RedisInstance, extra: Record<string, string> = {}): Promise<Run & { config: string }> {
  const file = join(out, `${sb.podOf(r)}-${Date.now()}.conf`);
  const res = await run(process.execPath, [join(ROOT, "bin/failover.ts"), "init", "redis"], {
    ...commonEnv(sb.podOf(r), r.spec.ip),
    REDIS_CONFIG_OUT: file,
    REDIS_BASE_CONFIG: r.baseConfPath,
    REDIS_DATA_DIR: r.spec.dir,
    ...extra,
  });
  return { ...res, config: existsSync(file) ? readFileSync(file, "utf8") : "" };
}

async function initSentinel(s: SentinelInstance, extra: Record<string, string> = {}): Promise<Run & { config: string }> {
  const file = join(out, `sentinel-${s.spec.index}-${Date.now()}.conf`);
  const res = await run(process.execPath, [join(ROOT, "bin/failover.ts"), "init", "sentinel"], {
    ...commonEnv(`sentinel-${s.spec.index}`, s.spec.ip),
    SENTINEL_CONFIG_OUT: file,
    SENTINEL_BIND: s.spec.ip,
    DOWN_AFTER_MS: String(sb.options.downAfterMs),
    FAILOVER_TIMEOUT_MS: String(sb.options.failoverTimeoutMs),
    ...extra,
  });
  return { ...res, config: existsSync(file) ? readFileSync(file, "utf8") : "" };
}

const role = async (r: RedisInstance) => (await r.replicationInfo()).role;

describe("init containers", () => {
  it("a sentinel restarted with its state lost monitors the current master (after a failover), at its epoch", async () => {
    await sb.killMaster("mymaster");
    await sb.waitSettled();
    const m = await sb.currentMaster("mymaster");
    expect(m.host).not.toBe(sb.masters[0]!.redis[0]!.spec.ip); // not ordinal 0: a guess would be wrong
    const s0 = sb.sentinels[0]!;
    await s0.process.kill();
    const res = await initSentinel(s0);
    expect(res.code, res.stderr).toBe(0);
    expect(res.config).toContain(`sentinel monitor mymaster ${m.host} 6379 2`);
    expect(res.config).toContain(`sentinel config-epoch mymaster ${m.epoch}`);
    await s0.restartFromConfig(res.config);
    const fields = async () => fieldsToRecord(await s0.command("SENTINEL", "MASTER", "mymaster"));
    await waitFor("the restarted sentinel to know the others and the replicas", async () => {
      const f = await fields();
      return f.ip === m.host && Number(f["num-other-sentinels"]) === 2 && Number(f["num-slaves"]) === 2;
    });
    await sb.waitSettled();
  });

  it("the old master restarted after a failover comes back as a replica of the new one", async () => {
    const old = await sb.currentMaster("mymaster");
    const oldRedis = sb.redisAt(old.address)!;
    await oldRedis.process.kill();
    const now = await sb.waitForNewMaster("mymaster", old.address);
    const res = await initRedis(oldRedis);
    expect(res.code, res.stderr).toBe(0);
    expect(res.config).toContain(`replicaof ${now.host} 6379`);
    expect(res.config).toContain(`replica-announce-ip ${oldRedis.spec.ip}`);
    await oldRedis.restartFromConfig(res.config);
    await waitFor("the old master to replicate from the new one", async () => {
      const info = await oldRedis.replicationInfo();
      return info.role === "slave" && info.master_host === now.host && info.master_link_status === "up";
    });
    await sb.waitSettled();
  });

  it("a restarted pod that the Sentinels still name master waits for their failover, then starts as a replica", async () => {
    const old = await sb.currentMaster("mymaster");
    const oldRedis = sb.redisAt(old.address)!;
    await oldRedis.process.kill();
    // Right after the kill the quorum still names it, and knows two replicas to promote.
    const res = await initRedis(oldRedis);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain("still name this restarted pod master");
    const now = await sb.currentMaster("mymaster");
    expect(now.host).not.toBe(old.host);
    expect(res.config).toContain(`replicaof ${now.host} 6379`);
    await oldRedis.restartFromConfig(res.config);
    await sb.waitSettled();
  });

  it("all pods restarted at once (Sentinels' state lost too): one master, the last-known one, and no acknowledged write lost", async () => {
    await sb.waitSettled();
    const m = await sb.currentMaster("mymaster");
    const masterPod = sb.podOf(sb.redisAt(m.address)!);
    await waitFor("ConfigMap redis-master to record the master", async () => (await masterState(sb)).configMap?.host === m.host, {
      timeoutMs: 20_000,
    });
    const redis = sb.masters[0]!.redis;
    // What is asserted is the init containers' choice: a write acknowledged by the master must be
    // in its AOF when it is killed. Under `appendfsync everysec` (the manifests' setting) Redis does
    // not promise that: while a background fsync runs it postpones the AOF write for up to 2 s and
    // still replies (a CI run under disk load lost 1 of 301 that way, master kept). `always` writes
    // and fsyncs before the reply, so any loss here is the choice's.
    for (const r of redis) await redisCommand(r.address, sb.password, "CONFIG", "SET", "appendfsync", "always");
    const writer = new Writer({ target: () => m.address, password: sb.password, keyPrefix: "reboot" });
    writer.start();
    await waitFor("writes acknowledged", () => writer.acks.length >= 300);
    // The reboot: every redis and sentinel process SIGKILLed at once, while writing.
    await Promise.all([...redis.map((r) => r.process.kill()), ...sb.sentinels.map((s) => s.process.kill())]);
    await writer.stop();
    const acked = writer.acks.length;
    // Every pod's init container and main container, all at once (podManagementPolicy: Parallel).
    const started = await Promise.all([
      ...sb.sentinels.map(async (s) => {
        const res = await initSentinel(s);
        expect(res.code, `sentinel-${s.spec.index}: ${res.stderr}`).toBe(0);
        await s.restartFromConfig(res.config);
        return res;
      }),
      ...redis.map(async (r) => {
        const res = await initRedis(r);
        expect(res.code, `${sb.podOf(r)}: ${res.stderr}`).toBe(0);
        await r.restartFromConfig(res.config);
        return res;
      }),
    ]);
    const roles = await Promise.all(redis.map(role));
    expect(roles.filter((x) => x === "master").length, started.map((s) => s.stdout).join("\n")).toBe(1);
    expect(sb.podOf(redis[roles.indexOf("master")]!)).toBe(masterPod);
    await sb.waitSettled({ timeoutMs: 60_000 });
    expect((await sb.currentMaster("mymaster")).host).toBe(m.host);
    const lost = await writer.checkLost(m.address, sb.password);
    console.log(
      `[figure] whole-cluster reboot: ${acked} writes acknowledged before the kill, ${lost.length} lost; master ${masterPod} kept`,
    );
    expect(lost).toEqual([]);
  });
});

describe("init containers: bad input exits non-zero with one line, writes nothing", () => {
  it("a missing Secret (REDIS_PASSWORD)", async () => {
    const r = sb.masters[0]!.redis[1]!;
    const res = await initRedis(r, { REDIS_PASSWORD: "" });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(/^failover init redis: REDIS_PASSWORD: .*Secret/);
    expect(res.config).toBe("");
  });

  it("a wrong master name", async () => {
    const r = sb.masters[0]!.redis[1]!;
    const res = await initRedis(r, { MASTER_NAME: "othermaster" });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toContain('ConfigMap records master "mymaster", this pod is configured for "othermaster"');
    expect(res.config).toBe("");
  });

  it("no Sentinel quorum and a malformed record: names the bad field, never guesses", async () => {
    await apply(sb.kubeConfig, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "broken-record", namespace: sb.namespace },
      data: { master: "mymaster", host: "198.18.1.11", port: "six-three-seven-nine", pod: "redis-1", epoch: "3" },
    });
    const r0 = sb.masters[0]!.redis[0]!;
    const res = await initRedis(r0, {
      SENTINELS: "198.18.0.99:26379",
      CONFIGMAP_NAME: "broken-record",
      KUBECONFIG: sb.kubeconfigPath,
      INIT_TIMEOUT_MS: "1500",
    });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(/ConfigMap broken-record: data\.port: /);
    expect(res.config).toBe("");
  });

  it("no Sentinel quorum and a ConfigMap it may not read: never a cold start on ordinal 0", async () => {
    const r0 = sb.masters[0]!.redis[0]!;
    const unprivileged = await serviceAccountKubeconfig(sb, "default");
    const res = await initRedis(r0, {
      SENTINELS: "198.18.0.99:26379,198.18.0.98:26379,198.18.0.97:26379",
      KUBECONFIG: unprivileged,
      INIT_TIMEOUT_MS: "1500",
    });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(/no safe decision after \d+ ms: no quorum of Sentinels.*RBAC: not allowed to get configmaps\/redis-master/);
    expect(res.config).toBe("");
  });
});

describe("the redis container's scripts (manifests/base/redis)", () => {
  const scriptEnv = (r: RedisInstance) => ({
    POD_IP: r.spec.ip,
    REDISCLI_AUTH: sb.password ?? "",
    SENTINEL_PASSWORD: sb.sentinelPassword ?? "",
    SENTINELS: sentinelList(),
    MASTER_NAME: "mymaster",
    PRESTOP_TIMEOUT_S: "20",
  });

  it("probe.sh: readiness on the master and on a linked replica, liveness fails on a dead server", async () => {
    await sb.waitSettled();
    const m = await sb.currentMaster("mymaster");
    const master = sb.redisAt(m.address)!;
    const replica = sb.masters[0]!.redis.find((r) => r !== master)!;
    expect((await run("sh", [join(SCRIPTS, "probe.sh"), "readiness"], scriptEnv(master))).code).toBe(0);
    expect((await run("sh", [join(SCRIPTS, "probe.sh"), "readiness"], scriptEnv(replica))).code).toBe(0);
    expect((await run("sh", [join(SCRIPTS, "probe.sh"), "liveness"], scriptEnv(replica))).code).toBe(0);
    replica.process.pause();
    try {
      const hung = await run("sh", [join(SCRIPTS, "probe.sh"), "liveness"], scriptEnv(replica));
      expect(hung.code).toBe(1);
    } finally {
      replica.process.resume();
    }
  });

  it("prestop.sh on the master: pauses writes, fails over, waits for the switch; no acknowledged write lost", async () => {
    await sb.waitSettled();
    const m = await sb.currentMaster("mymaster");
    let target = m.address;
    const follow = setInterval(() => {
      sb.currentMaster("mymaster").then(
        (x) => (target = x.address),
        () => undefined,
      );
    }, 50);
    const writer = new Writer({ target: () => target, password: sb.password, keyPrefix: "prestop" });
    writer.start();
    try {
      await waitFor("writes acknowledged", () => writer.acks.length >= 200);
      const t0 = performance.now();
      const res = await run("sh", [join(SCRIPTS, "prestop.sh")], scriptEnv(sb.redisAt(m.address)!));
      const handoverMs = performance.now() - t0;
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.stdout).toContain("master handed over to");
      // The Sentinel that ran the failover names the new master; the quorum follows within a hello or two.
      const now = await sb.waitForNewMaster("mymaster", m.address, { timeoutMs: 5000 });
      expect(res.stdout).toContain(`master handed over to ${now.host}`);
      await waitFor("writes on the new master", () => writer.acks.some((a) => a.host === now.host));
      const firstNew = writer.acks.find((a) => a.host === now.host)!;
      const lastOld = writer.acks.filter((a) => a.host === m.host).at(-1)!;
      console.log(
        `[figure] prestop.sh: handover took ${Math.round(handoverMs)} ms; writes stopped for ${Math.round(firstNew.at - lastOld.at)} ms`,
      );
    } finally {
      clearInterval(follow);
      await writer.stop();
    }
    await sb.waitSettled();
    const lost = await writer.checkLost((await sb.currentMaster("mymaster")).address, sb.password);
    console.log(`[figure] prestop.sh: ${writer.acks.length} writes acknowledged, ${lost.length} lost`);
    expect(lost).toEqual([]);
  });

  it("prestop.sh on a replica returns at once", async () => {
    const m = await sb.currentMaster("mymaster");
    const replica = sb.masters[0]!.redis.find((r) => r.spec.ip !== m.host)!;
    const res = await run("sh", [join(SCRIPTS, "prestop.sh")], scriptEnv(replica));
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("role slave, nothing to hand over");
    expect((await sb.currentMaster("mymaster")).host).toBe(m.host);
    expect(await redisCommand(m, sb.password, "PING")).toBe("PONG");
  });
});

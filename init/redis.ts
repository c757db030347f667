/**
 * `failover init redis`: the redis pod's init container. Decides master or replica (init/decide.ts)
 * and writes the runtime redis.conf (an emptyDir, mode 0600: it holds the password from the
 * Secret) that includes the ConfigMap's redis.conf.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { logger } from "../shared/logger.ts";
import { majority } from "../shared/sentinel-quorum.ts";
import { decideRedis } from "./decide.ts";
import type { RedisStart, Self } from "./decide.ts";
import { ordinalOf, parseInitEnv, redisInitSchema } from "./config.ts";
import type { RedisInitConfig } from "./config.ts";
import { askSentinels, KubeReader } from "./gather.ts";
import { decideWithin, runInit } from "./loop.ts";

/** AOF or RDB files with something in them. */
export function hasData(dir: string): boolean {
  const rdb = join(dir, "dump.rdb");
  if (existsSync(rdb) && statSync(rdb).size > 0) return true;
  const aof = join(dir, "appendonlydir");
  return existsSync(aof) && readdirSync(aof).some((f) => statSync(join(aof, f)).size > 0);
}

export function redisRuntimeConfig(cfg: RedisInitConfig, d: RedisStart): string {
  const lines = [
    `# Written by \`failover init redis\` at ${new Date().toISOString()}: ${d.because}`,
    ...(cfg.REDIS_BASE_CONFIG ? [`include ${cfg.REDIS_BASE_CONFIG}`] : []),
    `port ${cfg.REDIS_PORT}`,
    `replica-announce-ip ${cfg.POD_IP}`,
    `replica-announce-port ${cfg.REDIS_PORT}`,
    `requirepass ${cfg.REDIS_PASSWORD}`,
    `masterauth ${cfg.REDIS_PASSWORD}`,
    d.kind === "replica" ? `replicaof ${d.of.host} ${d.of.port}` : `# master (epoch ${d.epoch}): no replicaof`,
  ];
  return `${lines.join("\n")}\n`;
}

export async function initRedis(env: NodeJS.ProcessEnv = process.env): Promise<RedisStart> {
  const cfg = parseInitEnv(redisInitSchema, env);
  const kube = new KubeReader(cfg.NAMESPACE);
  const self: Self = {
    pod: cfg.POD_NAME,
    ordinal: ordinalOf(cfg.POD_NAME),
    addresses: [
      cfg.POD_IP,
      cfg.POD_NAME,
      `${cfg.POD_NAME}.${cfg.REDIS_STATEFULSET}`,
      `${cfg.POD_NAME}.${cfg.REDIS_STATEFULSET}.${cfg.NAMESPACE}.svc`,
      `${cfg.POD_NAME}.${cfg.REDIS_STATEFULSET}.${cfg.NAMESPACE}.svc.cluster.local`,
    ],
  };
  const sentinelNames = cfg.SENTINELS.map((s) => `${s.host}:${s.port}`);
  const quorum = cfg.SENTINEL_QUORUM ?? majority(cfg.SENTINELS.length);
  const data = hasData(cfg.REDIS_DATA_DIR);
  const decision = await decideWithin("redis", cfg.INIT_TIMEOUT_MS, cfg.INIT_POLL_MS, async (waitedMs) => {
    const [answers, record] = await Promise.all([
      askSentinels(cfg.SENTINELS, cfg.SENTINEL_PASSWORD, cfg.MASTER_NAME),
      kube.record(cfg.CONFIGMAP_NAME),
    ]);
    const recordAddress = await kube.recordAddress(record);
    const firstPodAddress = self.ordinal === 0 ? undefined : await kube.podAddress(`${cfg.REDIS_STATEFULSET}-0`, cfg.REDIS_PORT);
    return decideRedis({
      masterName: cfg.MASTER_NAME,
      quorum,
      sentinels: sentinelNames,
      answers,
      record,
      recordAddress,
      firstPodAddress,
      self,
      hasData: data,
      waitedMs,
      restartedMasterWaitMs: cfg.RESTARTED_MASTER_WAIT_MS,
    });
  });
  writeFileSync(cfg.REDIS_CONFIG_OUT, redisRuntimeConfig(cfg, decision), { mode: 0o600 });
  logger.child({ init: "redis", master: cfg.MASTER_NAME, pod: cfg.POD_NAME }).info(
    {
      role: decision.kind,
      replicaOf: decision.kind === "replica" ? `${decision.of.host}:${decision.of.port}` : undefined,
      epoch: decision.epoch,
      because: decision.because,
      config: cfg.REDIS_CONFIG_OUT,
    },
    "redis start-up decided",
  );
  return decision;
}

export function main(): Promise<number> {
  return runInit("init redis", async () => {
    await initRedis();
  });
}

/**
 * `failover init sentinel`: the sentinel pod's init container. Picks the master to monitor
 * (init/decide.ts: the other Sentinels, else ConfigMap `redis-master`, else redis ordinal 0 on a
 * cold cluster) and writes sentinel.conf into an emptyDir (Sentinel rewrites it as it learns).
 */
import { writeFileSync } from "node:fs";
import { majority } from "../shared/sentinel-quorum.ts";
import type { HostPort } from "../shared/sentinel-quorum.ts";
import { logger } from "../shared/logger.ts";
import { decideSentinel } from "./decide.ts";
import type { SentinelStart } from "./decide.ts";
import { parseInitEnv, sentinelInitSchema } from "./config.ts";
import type { SentinelInitConfig } from "./config.ts";
import { askSentinels, KubeReader, resolvesTo } from "./gather.ts";
import { decideWithin, runInit } from "./loop.ts";

export function sentinelConfig(cfg: SentinelInitConfig, d: SentinelStart): string {
  const name = cfg.MASTER_NAME;
  const quorum = cfg.SENTINEL_QUORUM ?? majority(cfg.SENTINELS.length);
  const lines = [
    `# Written by \`failover init sentinel\` at ${new Date().toISOString()}: ${d.because}`,
    `bind ${cfg.SENTINEL_BIND}`,
    `port ${cfg.SENTINEL_PORT}`,
    `sentinel announce-ip ${cfg.POD_IP}`,
    `sentinel announce-port ${cfg.SENTINEL_PORT}`,
    ...(cfg.SENTINEL_PASSWORD ? [`requirepass ${cfg.SENTINEL_PASSWORD}`, `sentinel sentinel-pass ${cfg.SENTINEL_PASSWORD}`] : []),
    `sentinel monitor ${name} ${d.master.host} ${d.master.port} ${quorum}`,
    `sentinel auth-pass ${name} ${cfg.REDIS_PASSWORD}`,
    `sentinel down-after-milliseconds ${name} ${cfg.DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${name} ${cfg.FAILOVER_TIMEOUT_MS}`,
    `sentinel parallel-syncs ${name} ${cfg.PARALLEL_SYNCS}`,
    // Start at the epoch the master was named in, so this Sentinel does not undo a newer failover
    // and its own first failover gets a fresh epoch.
    ...(d.epoch > 0 ? [`sentinel config-epoch ${name} ${d.epoch}`, `sentinel current-epoch ${d.epoch}`] : []),
    ...cfg.SENTINEL_EXTRA_CONFIG.split(";")
      .map((l) => l.trim())
      .filter((l) => l !== ""),
  ];
  return `${lines.join("\n")}\n`;
}

export async function initSentinel(env: NodeJS.ProcessEnv = process.env): Promise<SentinelStart> {
  const cfg = parseInitEnv(sentinelInitSchema, env);
  const kube = new KubeReader(cfg.NAMESPACE);
  // The other Sentinels: SENTINELS without this pod (by name or by address).
  const others: HostPort[] = [];
  for (const s of cfg.SENTINELS) {
    const isMe = s.host.split(".")[0] === cfg.POD_NAME || (await resolvesTo(s.host, cfg.POD_IP));
    if (!isMe || s.port !== cfg.SENTINEL_PORT) others.push(s);
  }
  const decision = await decideWithin("sentinel", cfg.INIT_TIMEOUT_MS, cfg.INIT_POLL_MS, async () => {
    const [answers, record] = await Promise.all([
      askSentinels(others, cfg.SENTINEL_PASSWORD, cfg.MASTER_NAME),
      kube.record(cfg.CONFIGMAP_NAME),
    ]);
    const recordAddress = await kube.recordAddress(record);
    const firstPodAddress = await kube.podAddress(`${cfg.REDIS_STATEFULSET}-0`, cfg.REDIS_PORT);
    return decideSentinel({
      masterName: cfg.MASTER_NAME,
      sentinels: others.map((s) => `${s.host}:${s.port}`),
      answers,
      record,
      recordAddress,
      firstPodAddress,
    });
  });
  writeFileSync(cfg.SENTINEL_CONFIG_OUT, sentinelConfig(cfg, decision), { mode: 0o600 });
  logger.child({ init: "sentinel", master: cfg.MASTER_NAME, pod: cfg.POD_NAME }).info(
    {
      monitor: `${decision.master.host}:${decision.master.port}`,
      epoch: decision.epoch,
      because: decision.because,
      config: cfg.SENTINEL_CONFIG_OUT,
    },
    "sentinel start-up decided",
  );
  return decision;
}

export function main(): Promise<number> {
  return runInit("init sentinel", async () => {
    await initSentinel();
  });
}

/**
 * Environment of `failover init redis|sentinel` and `failover prestop redis`, parsed once with zod;
 * a bad or missing variable (a Secret that is not there) fails with its name.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { dnsName, hostPortList, millis, parseEnv } from "../shared/config.ts";
import { ConfigError } from "../shared/errors.ts";

const port = z.coerce.number().int().min(1).max(65535);
/** The Secret's value: a missing Secret key mounted as env is an empty or absent variable. */
const secret = (what: string) =>
  z.string({ error: `missing: mount it from a Secret (${what})` }).min(1, `empty: the Secret holds no ${what}`);

const common = z.object({
  MASTER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, "expected a Sentinel master name ([A-Za-z0-9._-]+)")
    .default("mymaster"),
  POD_NAME: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?-\d+$/, "expected a StatefulSet pod name (<name>-<ordinal>)"),
  POD_IP: z.string().refine((v) => isIP(v) !== 0, "expected an IP address (fieldRef status.podIP)"),
  NAMESPACE: dnsName,
  /** Every Sentinel, by stable name (sentinel-0.sentinel:26379,...). */
  SENTINELS: hostPortList(26379),
  SENTINEL_PASSWORD: z.string().min(1).optional(),
  /** Sentinels that must agree (default: a majority of SENTINELS). */
  SENTINEL_QUORUM: z.coerce.number().int().min(1).optional(),
  REDIS_PASSWORD: secret("Redis password"),
  REDIS_PORT: port.default(6379),
  CONFIGMAP_NAME: dnsName.default("redis-master"),
  /** The redis StatefulSet (its ordinal 0 is master on a cold cluster). */
  REDIS_STATEFULSET: dnsName.default("redis"),
  /** Give up (exit 1, the kubelet retries) after this long without a safe decision. */
  INIT_TIMEOUT_MS: millis(0).default(120_000),
  INIT_POLL_MS: millis(50).default(1000),
});

export const redisInitSchema = common.extend({
  REDIS_CONFIG_OUT: z.string().min(1).default("/etc/redis-runtime/redis.conf"),
  /** The ConfigMap's redis.conf, included first ("" for none). */
  REDIS_BASE_CONFIG: z.string().default("/etc/redis/redis.conf"),
  REDIS_DATA_DIR: z.string().min(1).default("/data"),
  /** How long a restarted pod that the Sentinels still name waits for them to promote a replica (0: 2 x down-after + failover-timeout). */
  RESTARTED_MASTER_WAIT_MS: millis(0).default(0),
});
export type RedisInitConfig = z.infer<typeof redisInitSchema>;

export const sentinelInitSchema = common.extend({
  SENTINEL_CONFIG_OUT: z.string().min(1).default("/etc/sentinel-runtime/sentinel.conf"),
  SENTINEL_PORT: port.default(26379),
  /**
   * At least 2000: below it a Sentinel that learns a failover from another can declare the new
   * master down before its 1 s reconnect period has re-linked to it, and fail it over again.
   */
  DOWN_AFTER_MS: z.coerce
    .number()
    .int()
    .min(2000, "at least 2000 ms: below it Sentinel can fail a just-promoted master over again (measured)")
    .default(5000),
  FAILOVER_TIMEOUT_MS: millis(1000).default(60_000),
  PARALLEL_SYNCS: z.coerce.number().int().min(1).default(1),
  /** Extra sentinel.conf lines, `;`-separated (e.g. `sentinel resolve-hostnames yes`). */
  SENTINEL_EXTRA_CONFIG: z.string().default(""),
  /** Bind address (default: all). */
  SENTINEL_BIND: z.string().default("0.0.0.0"),
});
export type SentinelInitConfig = z.infer<typeof sentinelInitSchema>;

export function parseInitEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const cfg = parseEnv(schema, env) as z.infer<S> & { SENTINELS: unknown[]; SENTINEL_QUORUM?: number };
  if (cfg.SENTINEL_QUORUM !== undefined && cfg.SENTINEL_QUORUM > cfg.SENTINELS.length)
    throw new ConfigError("SENTINEL_QUORUM", `${cfg.SENTINEL_QUORUM} is more than the ${cfg.SENTINELS.length} SENTINELS`);
  return cfg;
}

/** `redis-2` -> 2. */
export function ordinalOf(pod: string): number {
  return Number(/-(\d+)$/.exec(pod)![1]);
}

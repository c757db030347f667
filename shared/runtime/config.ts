/**
 * The functions runtime's configuration, from the environment, parsed once at start. The mapping
 * of master names to Kubernetes objects is configuration (MASTERS, JSON), not code:
 *   MASTERS='{"cache":{"namespace":"shop","podSelector":"app=cache-redis","service":"cache-master",
 *             "configMap":"cache-master","statefulSet":"cache-redis"}}'
 * Masters not in MASTERS get the defaults (NAMESPACE, SERVICE_NAME, ...), which fit one master.
 */
import { z } from "zod";
import { boolFlag, dnsName, hostPortList, millis, parseEnv } from "../config.ts";
import { parseLabelSelector } from "../label-selector.ts";
import { natsEnvSchema } from "../nats-connection.ts";
import { streamEnvShape } from "../streams.ts";
import type { FunctionDefinition } from "./define-function.ts";

/** A label selector the apiserver would accept, checked at start (`{master}` stands for a master's name). */
const labelSelector = z
  .string()
  .min(1)
  .superRefine((text, ctx) => {
    try {
      parseLabelSelector(text.replaceAll("{master}", "master"));
    } catch (err) {
      ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : String(err) });
    }
  });

export const masterMappingSchema = z.object({
  namespace: dnsName,
  /** Label selector of the master's redis pods. */
  podSelector: labelSelector,
  service: dnsName,
  configMap: dnsName,
  statefulSet: dnsName,
  /** Create the selectorless Service too (master-endpoints). */
  createService: z.boolean().default(false),
  /** Port name in the Service / EndpointSlice. */
  portName: z.string().min(1).max(15).default("redis"),
});
export type MasterMapping = z.infer<typeof masterMappingSchema>;

export const runtimeEnvSchema = natsEnvSchema.extend({
  SENTINELS: hostPortList(26379),
  SENTINEL_PASSWORD: z.string().min(1).optional(),
  /** Votes needed to believe a master (default: a majority of SENTINELS). */
  SENTINEL_QUORUM: z.coerce.number().int().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  ...streamEnvShape,
  /** Durable consumer name = CONSUMER_PREFIX + function name. */
  CONSUMER_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/)
    .default("fn-"),
  MAX_DELIVER: z.coerce.number().int().min(1).default(10),
  ACK_WAIT_MS: millis(1000).default(30_000),
  RESYNC_INTERVAL_MS: millis(100).default(30_000),
  /** How long a reconcile polls (every QUORUM_POLL_MS, 50 ms) for the Sentinels to converge before a nak with backoff. */
  QUORUM_WAIT_MS: millis(0).default(2000),
  NAMESPACE: dnsName.default("default"),
  /**
   * Whose permissions a function's Kubernetes calls use: `process`, the pod's own ServiceAccount
   * (one function per pod); `impersonate`, each function's own ServiceAccount (named as the
   * function, in NAMESPACE), for a functions host running several functions in one pod. The
   * host's watch caches read as the pod's ServiceAccount either way.
   */
  FUNCTION_IDENTITY: z.enum(["process", "impersonate"]).default("process"),
  SERVICE_NAME: dnsName.default("redis-master"),
  CONFIGMAP_NAME: dnsName.default("redis-master"),
  STATEFULSET_NAME: dnsName.default("redis"),
  /** Default pod selector; `{master}` is replaced by the master name. */
  POD_SELECTOR: labelSelector.default("redis.failover.io/master={master}"),
  CREATE_SERVICE: boolFlag.default(false),
  MASTERS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === "") return {};
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        ctx.addIssue({ code: "custom", message: 'expected JSON: {"<master>": {namespace, podSelector, service, configMap, statefulSet}}' });
        return z.NEVER;
      }
      // strict: a misspelt key ("servce") is an error naming it, not a setting silently dropped
      const parsed = z.record(z.string().min(1), masterMappingSchema.partial().strict()).safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        ctx.addIssue({ code: "custom", message: `${issue.path.join(".")}: ${issue.message}` });
        return z.NEVER;
      }
      return parsed.data;
    }),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HTTP_HOST: z.string().default("0.0.0.0"),
});
export type RuntimeConfig = z.infer<typeof runtimeEnvSchema>;

export function runtimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  return parseEnv(runtimeEnvSchema, env);
}

/** A function's own settings (its `config` schema over `env`), parsed once at start; a bad value throws ConfigError naming the variable. */
export function functionConfig(fn: FunctionDefinition, env: NodeJS.ProcessEnv = process.env): object {
  return fn.config ? parseEnv(fn.config, env) : {};
}

/** The objects that belong to `master`: its MASTERS entry over the defaults. */
export function mappingFor(cfg: RuntimeConfig, master: string): MasterMapping {
  const entry = cfg.MASTERS[master] ?? {};
  return masterMappingSchema.parse({
    namespace: cfg.NAMESPACE,
    podSelector: cfg.POD_SELECTOR.replaceAll("{master}", master),
    service: cfg.SERVICE_NAME,
    configMap: cfg.CONFIGMAP_NAME,
    statefulSet: cfg.STATEFULSET_NAME,
    createService: cfg.CREATE_SERVICE,
    ...entry,
  });
}

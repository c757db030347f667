/**
 * The inputs of the start-up decision, read from the real world: every Sentinel's view of the
 * master name, ConfigMap `redis-master`, and the current address of a pod (pod IPs change when a
 * pod is recreated, so the record's `pod` is looked up rather than its old `host` trusted).
 */
import { ApiException, CoreV1Api } from "@kubernetes/client-node";
import { z } from "zod";
import { loadKubeConfig } from "../shared/kube-config.ts";
import { withRedis } from "../shared/redis-probe.ts";
import { resolveAll } from "../shared/resolve.ts";
import { fieldsToRecord } from "../shared/sentinel-quorum.ts";
import type { HostPort } from "../shared/sentinel-quorum.ts";
import type { MasterRecord, SentinelAnswer } from "./decide.ts";

const TIMEOUTS = { connectTimeoutMs: 1000, commandTimeoutMs: 1000 };

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 120);

/** One Sentinel's view of `name` (`SENTINEL MASTERS`, so an unknown name is an answer, not an error). */
export async function askSentinel(addr: HostPort, password: string | undefined, name: string): Promise<SentinelAnswer> {
  try {
    const masters = await withRedis(addr, password, (r) => r.call("SENTINEL", "MASTERS"), TIMEOUTS);
    const fields = (Array.isArray(masters) ? masters : []).map(fieldsToRecord).find((m) => m.name === name);
    if (!fields?.ip || !fields.port) return { kind: "unknown" };
    return {
      kind: "master",
      host: fields.ip,
      port: Number(fields.port),
      epoch: Number(fields["config-epoch"] ?? 0),
      knownReplicas: Number(fields["num-slaves"] ?? 0),
      downAfterMs: Number(fields["down-after-milliseconds"] ?? 30_000),
      failoverTimeoutMs: Number(fields["failover-timeout"] ?? 180_000),
    };
  } catch (err) {
    return { kind: "unreachable", reason: reason(err) };
  }
}

export function askSentinels(sentinels: readonly HostPort[], password: string | undefined, name: string): Promise<SentinelAnswer[]> {
  return Promise.all(sentinels.map((s) => askSentinel(s, password, name)));
}

/** Does `host` (a name or an IP) stand for `ip`? */
export async function resolvesTo(host: string, ip: string): Promise<boolean> {
  return (await resolveAll([{ host, port: 0 }])).some((a) => a.host === ip);
}

/** ConfigMap redis-master's data (written by master-configmap): a bad field makes the record unreadable, never a guess. */
const recordSchema = z.object({
  master: z.string().default(""),
  host: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65535),
  pod: z.string().default(""),
  epoch: z.coerce.number().int().min(0).default(0),
});

/** Reads the record and pod addresses from the apiserver (in-cluster config in a pod, KUBECONFIG outside). */
export class KubeReader {
  readonly #core = loadKubeConfig().makeApiClient(CoreV1Api);
  readonly #namespace: string;

  constructor(namespace: string) {
    this.#namespace = namespace;
  }

  async record(configMap: string): Promise<MasterRecord> {
    try {
      const cm = await this.#core.readNamespacedConfigMap({ name: configMap, namespace: this.#namespace });
      const parsed = recordSchema.safeParse(cm.data ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return { kind: "unreadable", reason: `ConfigMap ${configMap}: data.${issue.path.join(".") || "?"}: ${issue.message}` };
      }
      return { kind: "record", ...parsed.data };
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return { kind: "absent" };
      if (err instanceof ApiException && err.code === 403)
        return { kind: "unreadable", reason: `RBAC: not allowed to get configmaps/${configMap} in ${this.#namespace}` };
      return {
        kind: "unreadable",
        reason: `get configmaps/${configMap}: ${err instanceof ApiException ? `HTTP ${err.code}` : reason(err)}`,
      };
    }
  }

  /** Where the record's master is now: its pod's current IP (pod IPs change on a reboot), or the recorded host when it names no pod. */
  async recordAddress(record: MasterRecord): Promise<HostPort | undefined> {
    if (record.kind !== "record") return undefined;
    return record.pod ? this.podAddress(record.pod, record.port) : { host: record.host, port: record.port };
  }

  /** The pod's current IP; undefined while it has none (or does not exist yet). */
  async podAddress(pod: string, port: number): Promise<HostPort | undefined> {
    if (!pod) return undefined;
    try {
      const p = await this.#core.readNamespacedPod({ name: pod, namespace: this.#namespace });
      return p.status?.podIP ? { host: p.status.podIP, port } : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * fence-old-master: any pod of the set that still says it is master while the Sentinels name
 * another (a paused or partitioned master that came back) is fenced at once: `REPLICAOF` the
 * quorum's master and `CLIENT KILL TYPE normal`, so long-lived clients reconnect through
 * redis-master instead of writing into a master that Sentinel would demote only 8-11 s later.
 * A replica that follows an address that is not a master (it started while the set was moving,
 * e.g. a rolling restart of redis and sentinel together, and was told a master that is gone; or
 * it followed a master that was fenced since, and is now chained behind a replica) is
 * made a replica of the quorum's master: the Sentinels never learn of it (it is not connected to
 * the master, whose INFO is where they find replicas), so nothing else would, and its readiness
 * probe would block the StatefulSet's rollout for good.
 * A replica that a Sentinel is promoting (a failover in progress) is never fenced.
 * Woken by switch-master (retried with backoff while the old master does not answer), by -sdown
 * (the moment a hung instance answers again), and resync.
 */
import { RetryableError } from "../../shared/errors.ts";
import { replicationInfo } from "../../shared/redis-info.ts";
import type { RedisAccess, RedisCommands, SentinelClient } from "../../shared/runtime/context.ts";
import { fieldsToRecord } from "../../shared/sentinel-quorum.ts";
import { defineFunction } from "../../shared/runtime/define-function.ts";

/** `fn` on a short-lived connection; undefined when the server is dead or hung (-sdown wakes us when it answers). */
function probe<T>(redis: RedisAccess, host: string, port: number, fn: (r: RedisCommands) => Promise<T>): Promise<T | undefined> {
  return redis.session({ host, port }, fn, { connectTimeoutMs: 500, commandTimeoutMs: 1000 }).catch(() => undefined);
}

/** Whether the server says it is a master; undefined when it does not answer. */
function answersAsMaster(redis: RedisAccess, host: string, port: number): Promise<boolean | undefined> {
  return probe(redis, host, port, async (r) => (await replicationInfo(r)).role === "master");
}

/**
 * The replicas some Sentinel is promoting right now (flag `promoted` in its SENTINEL REPLICAS):
 * a failover in progress. Between SLAVEOF NO ONE and the switch, the promoted replica says master
 * while the quorum still names the old master (alive, for SENTINEL FAILOVER): fencing it would
 * abort the failover (seen on real pods: failover-abort-slave-timeout 10 s later).
 */
async function beingPromoted(sentinels: SentinelClient, name: string): Promise<Set<string>> {
  const hosts = new Set<string>();
  await Promise.all(
    Array.from({ length: sentinels.size }, async (_, i) => {
      const replicas = await sentinels.sentinel(i, "REPLICAS", name).catch(() => undefined);
      if (!Array.isArray(replicas)) return;
      for (const r of replicas) {
        const f = fieldsToRecord(r);
        if (f.ip && (f.flags ?? "").split(",").includes("promoted")) hosts.add(f.ip);
      }
    }),
  );
  return hosts;
}

/** How soon to look again when a promotion in progress kept a master from being fenced. */
const PROMOTION_LOOK_AGAIN_MS = 1000;

export default defineFunction({
  name: "fence-old-master",
  description: "REPLICAOF + client kill on a stale master that comes back.",
  access: { kube: [{ resource: "pods", verbs: ["list", "watch"] }], redis: true },
  on: ["switch-master", "minus-sdown"],
  async reconcile(ctx, master) {
    const { namespace, podSelector, statefulSet } = master.mapping;
    const pods = await ctx.caches.pods(namespace, podSelector);
    // Fence only behind a master that is there: right after a switch the quorum may still name the
    // dead master for a second or two (Sentinels learn the new configuration from each other's
    // hellos); "fencing" the new master then would make it replicate from a corpse.
    const masterIsMaster = await answersAsMaster(ctx.redis, master.host, master.port);
    if (!masterIsMaster) {
      ctx.log.info({ master: master.host }, "the quorum's master does not answer as master yet, not fencing anyone");
      return;
    }
    const old = ctx.event?.data.event === "+switch-master" ? ctx.event.data.oldMaster : undefined;
    let oldAnswered = false;
    let promoting: Set<string> | undefined;
    let sparedPromotion = false;
    for (const p of pods) {
      const host = p.status?.podIP;
      if (!host || host === master.host) continue;
      const outcome = await probe(ctx.redis, host, master.port, async (r) => {
        const info = await replicationInfo(r);
        if (host === old?.host) oldAnswered = true;
        if (info.role === "master") {
          promoting ??= await beingPromoted(ctx.sentinels, master.name);
          if (promoting.has(host)) return { promotion: true };
          await r.call("REPLICAOF", master.host, String(master.port));
          const killed = Number(await r.call("CLIENT", "KILL", "TYPE", "normal"));
          return { fenced: true, killed };
        }
        // The previous master is already a replica: drop its clients once so they reconnect now.
        if (old?.host === host) return { fenced: false, killed: Number(await r.call("CLIENT", "KILL", "TYPE", "normal")) };
        // A replica of something else: re-point it if that is not a master. Its link down: it
        // follows a corpse. Its link up: it is chained behind a replica (it followed a master
        // that was fenced or demoted since), which the Sentinels never see (they find replicas in
        // the master's INFO): it could never be promoted, and dies with the replica it follows.
        const following = info.master_host;
        const followingPort = Number(info.master_port ?? master.port);
        if (following && following !== master.host) {
          const isMaster = await answersAsMaster(ctx.redis, following, followingPort);
          if (!isMaster) {
            await r.call("REPLICAOF", master.host, String(master.port));
            return { repointed: `${following}:${followingPort}` };
          }
        }
        return undefined;
      });
      if (outcome && "promotion" in outcome) {
        ctx.log.info({ pod: p.metadata?.name, host }, "a Sentinel is promoting it: not fencing");
        sparedPromotion = true;
        continue;
      }
      if (outcome && "repointed" in outcome) {
        ctx.log.warn({ pod: p.metadata?.name, host, was: outcome.repointed, master: master.host }, "orphan replica re-pointed");
        await ctx.recordEvent(
          { kind: "Pod", name: p.metadata?.name ?? "", namespace, uid: p.metadata?.uid },
          "Warning",
          "OrphanReplicaRepointed",
          `${host} replicated from ${outcome.repointed}, which is not a master; made it a replica of ${master.host}:${master.port} (epoch ${master.epoch})`,
        );
        continue;
      }
      if (outcome?.fenced) {
        ctx.log.warn({ pod: p.metadata?.name, host, killed: outcome.killed, master: master.host }, "stale master fenced");
        await ctx.recordEvent(
          { kind: "Pod", name: p.metadata?.name ?? "", namespace, uid: p.metadata?.uid },
          "Warning",
          "StaleMasterFenced",
          `${host} still said it was master of ${master.name}; made it a replica of ${master.host}:${master.port} (epoch ${master.epoch}) and dropped ${outcome.killed} client(s)`,
        );
        await ctx.recordEvent(
          { kind: "StatefulSet", name: statefulSet, namespace },
          "Warning",
          "StaleMasterFenced",
          `pod ${p.metadata?.name} (${host}) fenced`,
        );
      } else if (outcome) {
        ctx.log.info({ pod: p.metadata?.name, host, killed: outcome.killed }, "old master's clients dropped");
      }
    }
    // The old master of this switch does not answer (hung, or its container restarting) while its
    // pod is still there: look again with the runtime's backoff (0.1 s doubling, MAX_DELIVER
    // deliveries) instead of waiting for -sdown. A master frozen for less than down-after past
    // the switch is never marked s_down as a replica, so no -sdown would wake us when it resumes,
    // and Sentinel would demote it only 8-11 s later, acknowledging writes meanwhile.
    // A failover in progress: look again soon (the switch wakes us too; an aborted one does not).
    if (sparedPromotion) return { requeueAfterMs: PROMOTION_LOOK_AGAIN_MS };
    if (old && old.host !== master.host && !oldAnswered && pods.some((p) => p.status?.podIP === old.host)) {
      throw new RetryableError(
        `old master ${old.host}:${old.port} does not answer yet: looking again to fence it if it comes back as master`,
      );
    }
  },
});

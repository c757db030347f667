/**
 * sentinel-reset: keeps every Sentinel's view of the set true, in two steps.
 *
 * 1. A Sentinel left on a master that is gone: a Sentinel that (re)starts monitoring an address
 *    that no pod has any more (a rolling restart of redis and sentinel together moves every pod's
 *    IP) never connects to an instance again, so it never hears the other Sentinels' hello
 *    messages and stays on its old epoch for good. When the quorum names another master at a
 *    higher epoch and that Sentinel cannot reach its own (s_down), it is re-pointed: `SENTINEL
 *    REMOVE` + `MONITOR` of the quorum's master with the settings an agreeing Sentinel reports
 *    (quorum, down-after, failover-timeout, parallel-syncs) and the redis password.
 * 2. A replica pod that comes back with a new IP without a failover (rescheduled) leaves a stale
 *    replica entry in every Sentinel, which counts it forever and may try to promote an address
 *    that is gone. Once every pod of the set replicates from the master again, a Sentinel that
 *    still lists an address no pod has is sent `SENTINEL RESET <name>`: one Sentinel per
 *    reconcile, and only while every Sentinel knows the whole set (a reset one has rediscovered
 *    the replicas and the other Sentinels), so a quorum always knows it. Each of those waits is a
 *    requeue (`{ requeueAfterMs }`), not a failure and not a loop holding the master's lane.
 *
 * Woken by +sdown / +slave (the stale entry going down, the new one appearing) and resync.
 */
import { z } from "zod";
import { RetryableError } from "../../shared/errors.ts";
import { replicationInfo } from "../../shared/redis-info.ts";
import { fieldsToRecord } from "../../shared/sentinel-quorum.ts";
import type { RedisAccess, SentinelClient } from "../../shared/runtime/context.ts";
import { defineFunction } from "../../shared/runtime/define-function.ts";

/** How soon to look again while the set or a reset Sentinel catches up (a Sentinel relearns replicas from the master's INFO every 10 s, Sentinels from hellos every 2 s). */
export const LOOK_AGAIN_MS = 1000;

async function followsMaster(redis: RedisAccess, host: string, port: number, masterHost: string): Promise<boolean> {
  const info = await redis
    .session({ host, port }, replicationInfo, { connectTimeoutMs: 500, commandTimeoutMs: 1000 })
    .catch((): Record<string, string> => ({}));
  return info.role === "slave" && info.master_host === masterHost && info.master_link_status === "up";
}

/** Replica addresses a Sentinel lists for `name`. */
async function listedReplicas(ctx: { sentinels: SentinelClient }, i: number, name: string): Promise<string[] | undefined> {
  const reply = await ctx.sentinels.sentinel(i, "REPLICAS", name);
  return Array.isArray(reply) ? reply.map((r) => fieldsToRecord(r).ip ?? "") : undefined;
}

/** What Sentinel `i` says of `name` (`SENTINEL MASTER`), or undefined if it does not answer it. */
async function masterView(ctx: { sentinels: SentinelClient }, i: number, name: string): Promise<Record<string, string> | undefined> {
  const reply = await ctx.sentinels.sentinel(i, "MASTER", name);
  return Array.isArray(reply) ? fieldsToRecord(reply) : undefined;
}

export default defineFunction({
  name: "sentinel-reset",
  description: "SENTINEL RESET of stale replica entries, one Sentinel at a time.",
  access: { kube: [{ resource: "pods", verbs: ["list", "watch"] }], redis: true },
  on: ["sdown", "slave"],
  // A re-pointed Sentinel is given the Redis password (`SENTINEL SET <name> auth-pass`).
  config: z.object({ REDIS_PASSWORD: z.string().min(1).optional() }),
  async reconcile(ctx, master) {
    const { namespace, podSelector } = master.mapping;
    const pods = await ctx.caches.pods(namespace, podSelector);
    const podIps = new Set(pods.map((p) => p.status?.podIP).filter((ip): ip is string => !!ip));
    const replicas = [...podIps].filter((ip) => ip !== master.host);

    // 1. Sentinels left on a master that is gone (or that lost it: they answer, but not for it).
    const views = await Promise.all(Array.from({ length: ctx.sentinels.size }, (_, i) => masterView(ctx, i, master.name)));
    const agreeing = views.find((v) => v?.ip === master.host && Number(v.port) === master.port);
    const repointed = new Set<number>();
    for (const [i, v] of views.entries()) {
      if (!agreeing || (v?.ip === master.host && Number(v.port) === master.port)) continue;
      let was: string;
      if (v) {
        const epoch = Number(v["config-epoch"] ?? 0);
        if (epoch >= master.epoch || !(v.flags ?? "").includes("s_down")) continue; // not stale: a failover in flight, or it still reaches its master
        was = `${v.ip ?? "?"}:${v.port ?? "?"}@${epoch}, unreachable`;
        if ((await ctx.sentinels.sentinel(i, "REMOVE", master.name)) !== "OK")
          throw new RetryableError(`sentinel ${i}: SENTINEL REMOVE ${master.name} failed`);
      } else {
        const all = await ctx.sentinels.sentinel(i, "MASTERS");
        if (!Array.isArray(all) || all.some((m) => fieldsToRecord(m).name === master.name)) continue; // no answer, or it answers for it after all
        was = "nothing";
      }
      const monitored = await ctx.sentinels.sentinel(i, "MONITOR", master.name, master.host, String(master.port), agreeing.quorum ?? "2");
      if (monitored !== "OK")
        throw new RetryableError(`sentinel ${i}: SENTINEL MONITOR ${master.name} ${master.host} ${master.port} failed`);
      repointed.add(i);
      const settings = ["down-after-milliseconds", "failover-timeout", "parallel-syncs"].flatMap((k) =>
        agreeing[k] ? [k, agreeing[k]] : [],
      );
      const auth = ctx.config.REDIS_PASSWORD ? ["auth-pass", ctx.config.REDIS_PASSWORD] : [];
      if (settings.length + auth.length > 0) await ctx.sentinels.sentinel(i, "SET", master.name, ...settings, ...auth);
      ctx.log.warn(
        { sentinel: i, was, now: `${master.host}:${master.port}`, epoch: master.epoch },
        "sentinel re-pointed to the quorum's master",
      );
      await ctx.recordEvent(
        { kind: "StatefulSet", name: master.mapping.statefulSet, namespace },
        "Warning",
        "SentinelRepointed",
        `sentinel ${i} monitored ${was}; the quorum names ${master.host}:${master.port} at epoch ${master.epoch}`,
      );
    }

    // 2. Stale replica entries: what each Sentinel lists (undefined: it does not answer; the next resync asks again).
    const listed = await Promise.all(Array.from({ length: ctx.sentinels.size }, (_, i) => listedReplicas(ctx, i, master.name)));
    const i = listed.findIndex((l) => l?.some((ip) => !podIps.has(ip)));
    if (i < 0) return;
    const stale = listed[i]!.filter((ip) => !podIps.has(ip));
    // Only when the set is whole again: every replica pod follows the master.
    const whole = await Promise.all(replicas.map((ip) => followsMaster(ctx.redis, ip, master.port, master.host)));
    if (!whole.every(Boolean)) {
      ctx.log.info(
        { sentinel: i, stale, master: `${master.host}:${master.port}` },
        "stale sentinel entries: waiting for every replica pod to follow the master",
      );
      return { requeueAfterMs: LOOK_AGAIN_MS };
    }
    // Only while every Sentinel names the quorum's master: a Sentinel reset before it has learned a
    // failover stays on the old master, and when that pod then goes (a rolling restart), it has no
    // instance left to hear the others' hellos from and never learns the new master (seen on the
    // sandbox's node: reset 2 s after the others switched, then stuck on the old address).
    const elsewhere = views.flatMap((v, j) =>
      v && !repointed.has(j) && (v.ip !== master.host || Number(v.port) !== master.port) ? [j] : [],
    );
    if (elsewhere.length > 0) {
      ctx.log.info(
        { sentinel: i, stale, elsewhere, master: `${master.host}:${master.port}` },
        "stale sentinel entries: waiting for every sentinel to name the quorum's master",
      );
      return { requeueAfterMs: LOOK_AGAIN_MS };
    }
    // Only while every Sentinel knows the set: one reset before (a reset forgets replicas and
    // Sentinels) must have rediscovered both before the next Sentinel forgets them too.
    const relearning = await Promise.all(
      listed.map(async (l, j) => {
        if (!l || j === i) return false;
        const others = Number((await masterView(ctx, j, master.name))?.["num-other-sentinels"] ?? 0);
        return !replicas.every((ip) => l.includes(ip)) || others < ctx.sentinels.size - 1;
      }),
    );
    const waitingFor = relearning.flatMap((r, j) => (r ? [j] : []));
    if (waitingFor.length > 0) {
      ctx.log.info(
        { sentinel: i, stale, relearning: waitingFor },
        "stale sentinel entries: waiting for a reset sentinel to relearn the set",
      );
      return { requeueAfterMs: LOOK_AGAIN_MS };
    }
    await ctx.sentinels.sentinel(i, "RESET", master.name);
    ctx.log.warn({ sentinel: i, stale }, "sentinel reset: stale replica entries dropped");
    await ctx.recordEvent(
      { kind: "StatefulSet", name: master.mapping.statefulSet, namespace },
      "Normal",
      "SentinelReset",
      `sentinel ${i} listed ${stale.join(", ")}, which no pod has; reset it`,
    );
    // The next Sentinel, if any, once this one has relearned the set.
    return { requeueAfterMs: LOOK_AGAIN_MS };
  },
});

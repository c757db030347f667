/**
 * The test kit (`failover-functions/testing`): fakes of everything a function's context holds, and
 * builders for the inputs reconcile gets. See fake-context.ts.
 */
export { configOf, defaultMapping, fakeContext, fakePod, switchMasterEvent, verifiedMaster } from "./fake-context.ts";
export type { FakeContext, FakeContextOptions, RecordedEvent } from "./fake-context.ts";
export { FakeCaches, FakeCluster, FakeKube, matchesSelector } from "./fake-kube.ts";
export type { AppliedObject } from "./fake-kube.ts";
export { FakeRedis, masterInfo, replicaInfo } from "./fake-redis.ts";
export type { RedisCall, RedisHandler } from "./fake-redis.ts";
export { FakeSentinels, sentinelMasterReply } from "./fake-sentinels.ts";
export type { SentinelCall, SentinelReplies } from "./fake-sentinels.ts";

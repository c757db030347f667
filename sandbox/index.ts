export { startSandbox, Sandbox } from "./sandbox.ts";
export type { SandboxOptions, MasterSet, QuorumMaster } from "./sandbox.ts";
export { RedisInstance, SentinelInstance, redisCommand, probeClient } from "./redis.ts";
export type { Address } from "./redis.ts";
export { waitFor } from "./wait.ts";
export type { WaitOptions } from "./wait.ts";
export { livePids } from "./process.ts";
export { binaryPath, cacheDir } from "./paths.ts";
export * from "./addresses.ts";

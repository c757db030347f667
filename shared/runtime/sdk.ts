/**
 * The public SDK (`import { defineFunction } from "failover-functions"`): what a function written in
 * another repository needs. Everything else in this package is internal: package.json `exports`
 * lists this entry and `/testing` only.
 */
export { defineFunction, EPOCH_ANNOTATION, isFunctionDefinition, podAt, recordedEpoch } from "./define-function.ts";
export type { ConfigSchema, FunctionAccess, FunctionDefinition, KubeResource, KubeRule } from "./define-function.ts";
export type {
  EventTarget,
  KubeCaches,
  KubeClient,
  ReconcileContext,
  ReconcileResult,
  RedisAccess,
  RedisCommands,
  SentinelClient,
  VerifiedMaster,
} from "./context.ts";
export type { MasterMapping } from "./config.ts";
export { loadFunctions } from "./load-functions.ts";
export type { FunctionRegistry } from "./load-functions.ts";
export { runFunctions } from "./main.ts";
export { SENTINEL_EVENT_NAMES, isSentinelEventName } from "../sentinel-events.ts";
export type { SentinelEventName } from "../sentinel-events.ts";
export { cloudEventAttributesSchema, sentinelEventDataSchema } from "../events.ts";
export type { CloudEventAttributes, SentinelCloudEvent, SentinelEventData } from "../events.ts";
export type { HostPort, MasterTruth } from "../sentinel-quorum.ts";
export { ConfigError, FailoverError, NoQuorumError, RbacError, RetryableError, TerminalError } from "../errors.ts";

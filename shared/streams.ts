/**
 * The JetStream streams both sides rely on, created or updated at start by whichever side starts
 * first (the relay and the functions runtime call the same function with the same settings):
 *   REDIS_SENTINEL              subjects `redis.sentinel.>`, the CloudEvents; duplicate window
 *                               = the id dedupe span (default 2 min, covers the Sentinels' spread)
 *   REDIS_SENTINEL_DEADLETTER   subjects `deadletter.redis.sentinel.>`: unparsable announcements
 *                               and events a function gave up on
 */
import { jetstreamManager, JetStreamApiCodes, RetentionPolicy, StorageType, DiscardPolicy } from "@nats-io/jetstream";
import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { millis } from "./config.ts";
import { createOrUpdate } from "./jetstream-upsert.ts";
import { DEADLETTER_SUBJECT_PREFIX, DEFAULT_DEADLETTER_STREAM, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from "./subjects.ts";

export interface StreamSettings {
  stream: string;
  subjectPrefix: string;
  deadletterStream: string;
  duplicateWindowMs: number;
  /** How long events are kept (default 7 days). */
  maxAgeMs: number;
  /** JetStream replicas of each stream (1 in dev, 3 on a 3-node NATS in production). */
  replicas: number;
}

export const defaultStreamSettings: StreamSettings = {
  stream: DEFAULT_STREAM,
  subjectPrefix: DEFAULT_SUBJECT_PREFIX,
  deadletterStream: DEFAULT_DEADLETTER_STREAM,
  duplicateWindowMs: 120_000,
  maxAgeMs: 7 * 24 * 3600_000,
  replicas: 1,
};

/** The streams' environment variables, shared by the relay's and the runtime's config schemas. */
export const streamEnvShape = {
  STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default(DEFAULT_STREAM),
  DEADLETTER_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default(DEFAULT_DEADLETTER_STREAM),
  STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
    .default(DEFAULT_SUBJECT_PREFIX),
  DUPLICATE_WINDOW_MS: millis(1000).default(120_000),
};

/** The stream settings a parsed config names (events kept the default 7 days). */
export function streamSettingsOf(c: {
  STREAM: string;
  SUBJECT_PREFIX: string;
  DEADLETTER_STREAM: string;
  DUPLICATE_WINDOW_MS: number;
  STREAM_REPLICAS: number;
}): StreamSettings {
  return {
    stream: c.STREAM,
    subjectPrefix: c.SUBJECT_PREFIX,
    deadletterStream: c.DEADLETTER_STREAM,
    duplicateWindowMs: c.DUPLICATE_WINDOW_MS,
    maxAgeMs: defaultStreamSettings.maxAgeMs,
    replicas: c.STREAM_REPLICAS,
  };
}

function upsert(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  const { name, ...update } = cfg;
  return createOrUpdate({
    notFound: JetStreamApiCodes.StreamNotFound,
    info: () => jsm.streams.info(name),
    update: () => jsm.streams.update(name, update),
    add: () => jsm.streams.add(cfg),
  });
}

export async function ensureStreams(nc: NatsConnection, s: StreamSettings = defaultStreamSettings): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(s.maxAgeMs),
    num_replicas: s.replicas,
  };
  await upsert(jsm, { name: s.stream, subjects: [`${s.subjectPrefix}.>`], duplicate_window: nanos(s.duplicateWindowMs), ...common });
  await upsert(jsm, {
    name: s.deadletterStream,
    subjects: [`${DEADLETTER_SUBJECT_PREFIX}.>`],
    duplicate_window: nanos(s.duplicateWindowMs),
    ...common,
  });
  return jsm;
}

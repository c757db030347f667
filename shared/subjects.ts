/**
 * NATS naming shared by the relay (publisher) and the functions runtime (consumers).
 *
 * Event names: Sentinel's own (`+switch-master`, `-sdown`), and a short name used in CloudEvent
 * types, subjects and `defineFunction({ on })`: the leading `+` dropped, a leading `-` written
 * `minus-` (`+sdown` -> `sdown`, `-sdown` -> `minus-sdown`, `+switch-master` -> `switch-master`).
 *
 * Subjects: `<prefix>.<master token>.<short name>`, e.g. `redis.sentinel.mymaster.switch-master`.
 * Master names that are not valid subject tokens are percent-encoded, not rejected; events that
 * name no master (+new-epoch, +tilt) use the token `%`.
 */

export const DEFAULT_STREAM = "REDIS_SENTINEL";
export const DEFAULT_SUBJECT_PREFIX = "redis.sentinel";
export const CLOUDEVENT_TYPE_PREFIX = "io.redis.sentinel.";

/** `+sdown` -> `sdown`, `-sdown` -> `minus-sdown`. */
export function shortName(sentinelEvent: string): string {
  if (sentinelEvent.startsWith("+")) return sentinelEvent.slice(1);
  if (sentinelEvent.startsWith("-")) return `minus-${sentinelEvent.slice(1)}`;
  return sentinelEvent;
}

/** Inverse of shortName. */
export function sentinelEventName(short: string): string {
  return short.startsWith("minus-") ? `-${short.slice("minus-".length)}` : `+${short}`;
}

/** CloudEvent `type` of a Sentinel event: `io.redis.sentinel.switch-master`. */
export function cloudEventType(sentinelEvent: string): string {
  return CLOUDEVENT_TYPE_PREFIX + shortName(sentinelEvent);
}

/**
 * A master name as one subject token: [A-Za-z0-9_-] kept, every other byte as %XX (UTF-8), so
 * `.`, `*`, `>`, spaces and `%` itself can never split or widen a subject.
 */
export function encodeToken(name: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function decodeToken(token: string): string {
  return decodeURIComponent(token);
}

/** Token of Sentinel-wide events that name no master: a lone `%`, which encodeToken never yields. */
export const NO_MASTER_TOKEN = "%";

export function eventSubject(prefix: string, master: string | null, sentinelEvent: string): string {
  return `${prefix}.${master === null ? NO_MASTER_TOKEN : encodeToken(master)}.${shortName(sentinelEvent)}`;
}

/** Dead letters: what the relay could not parse, and what a function gave up on. */
export const DEFAULT_DEADLETTER_STREAM = "REDIS_SENTINEL_DEADLETTER";
export const DEADLETTER_SUBJECT_PREFIX = "deadletter.redis.sentinel";

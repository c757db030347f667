/**
 * Every event name Redis Sentinel publishes on its pub/sub channels (Redis 7's sentinel.c), as the
 * short names used in subjects, CloudEvent types and `defineFunction({ on })`: the leading `+`
 * dropped, a leading `-` written `minus-` (see shared/subjects.ts).
 */
export const SENTINEL_EVENT_NAMES = [
  "monitor",
  "minus-monitor",
  "set",
  "reset-master",
  "slave",
  "sentinel",
  "minus-dup-sentinel",
  "sentinel-address-switch",
  "sentinel-invalid-addr",
  "fix-slave-config",
  "convert-to-slave",
  "role-change",
  "minus-role-change",
  "config-update-from",
  "switch-master",
  "sdown",
  "minus-sdown",
  "odown",
  "minus-odown",
  "new-epoch",
  "vote-for-leader",
  "try-failover",
  "elected-leader",
  "minus-failover-abort-not-elected",
  "failover-state-select-slave",
  "minus-failover-abort-no-good-slave",
  "selected-slave",
  "failover-state-send-slaveof-noone",
  "minus-failover-abort-slave-timeout",
  "failover-state-wait-promotion",
  "promoted-slave",
  "failover-state-reconf-slaves",
  "failover-detected",
  "slave-reconf-sent",
  "slave-reconf-sent-timeout",
  "slave-reconf-inprog",
  "slave-reconf-done",
  "failover-end-for-timeout",
  "failover-end",
  "tilt",
  "minus-tilt",
  "reboot",
  "redirect-to-master",
  "script-child",
  "minus-script-child",
  "minus-script-error",
] as const;

/** A Sentinel event a function can be woken by: a typo (`"swtich-master"`) does not compile. */
export type SentinelEventName = (typeof SENTINEL_EVENT_NAMES)[number];

const known: ReadonlySet<string> = new Set(SENTINEL_EVENT_NAMES);

export function isSentinelEventName(name: string): name is SentinelEventName {
  return known.has(name);
}

#!/bin/sh
# preStop of the redis container. On the master only: pause writes (CLIENT PAUSE <ms> WRITE, so
# nothing is acknowledged that the new master would not have), ask a Sentinel to fail over, and
# wait until it names another master. A replica returns at once. Measured on the sandbox: a bare
# SENTINEL FAILOVER lost most writes made during it; with the write pause first, none.
# Env: MASTER_NAME, POD_IP, SENTINELS (host:port,...), REDISCLI_AUTH, SENTINEL_PASSWORD,
#      PRESTOP_PAUSE_MS (default 15000), PRESTOP_TIMEOUT_S (default 30, < terminationGracePeriodSeconds).
# Runs on the redis and the valkey image alike: valkey-cli if the image has it, else redis-cli.
set -u
PAUSE_MS=${PRESTOP_PAUSE_MS:-15000}
TIMEOUT_S=${PRESTOP_TIMEOUT_S:-30}
CLI=$(command -v valkey-cli || command -v redis-cli) || { echo "prestop: neither valkey-cli nor redis-cli in this image"; exit 1; }
cli() { timeout 3 "$CLI" --no-auth-warning -h "${POD_IP}" -p "${REDIS_PORT:-6379}" "$@" 2>&1 | tr -d '\r'; }
sentinel() { # host port args...
  h=$1; p=$2; shift 2
  REDISCLI_AUTH="${SENTINEL_PASSWORD:-}" timeout 3 "$CLI" --no-auth-warning -h "$h" -p "$p" "$@" 2>&1 | tr -d '\r'
}
role=$(cli INFO replication | sed -n 's/^role://p')
if [ "$role" != master ]; then echo "prestop: role ${role:-unknown}, nothing to hand over"; exit 0; fi
cli CLIENT PAUSE "$PAUSE_MS" WRITE >/dev/null
asked=""
for s in $(echo "$SENTINELS" | tr ',' ' '); do
  reply=$(sentinel "${s%:*}" "${s##*:}" SENTINEL FAILOVER "$MASTER_NAME")
  if [ "$reply" = OK ]; then asked=$s; break; fi
  echo "prestop: $s answered SENTINEL FAILOVER with: $reply"
done
if [ -z "$asked" ]; then cli CLIENT UNPAUSE >/dev/null; echo "prestop: no Sentinel accepted SENTINEL FAILOVER"; exit 1; fi
deadline=$(( $(date +%s) + TIMEOUT_S ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  now=$(sentinel "${asked%:*}" "${asked##*:}" SENTINEL GET-MASTER-ADDR-BY-NAME "$MASTER_NAME" | head -n 1)
  if [ -n "$now" ] && [ "$now" != "$POD_IP" ]; then echo "prestop: master handed over to $now"; exit 0; fi
  sleep 0.1
done
cli CLIENT UNPAUSE >/dev/null
echo "prestop: Sentinel did not move the master within ${TIMEOUT_S}s; writes unpaused"; exit 1

#!/bin/sh
# Role-aware probes of the redis container: `probe.sh liveness` | `probe.sh readiness`.
#   liveness:  the server answers (LOADING counts: a big AOF takes time to load).
#   readiness: a master that answers; a replica only with its link to the master up and no sync
#              in progress (so Service redis-replicas never sends reads to an empty replica).
# The password comes from REDISCLI_AUTH (a Secret), never from the command line.
# The same script runs on the redis and the valkey image (components/valkey): whichever client the
# image has, valkey-cli first (the valkey image also links redis-cli to it; both read REDISCLI_AUTH).
set -u
CLI=$(command -v valkey-cli || command -v redis-cli) || { echo "neither valkey-cli nor redis-cli in this image"; exit 1; }
cli() { timeout 3 "$CLI" --no-auth-warning -h "${POD_IP:-127.0.0.1}" -p "${REDIS_PORT:-6379}" "$@" 2>&1 | tr -d '\r'; }
case "${1:-}" in
  liveness)
    reply=$(cli PING)
    case "$reply" in PONG|LOADING*) exit 0 ;; esac
    echo "redis does not answer PING: $reply"; exit 1 ;;
  readiness)
    info=$(cli INFO replication)
    role=$(echo "$info" | sed -n 's/^role://p')
    case "$role" in
      master) exit 0 ;;
      slave)
        link=$(echo "$info" | sed -n 's/^master_link_status://p')
        sync=$(echo "$info" | sed -n 's/^master_sync_in_progress://p')
        [ "$link" = up ] && [ "$sync" = 0 ] && exit 0
        echo "replica not ready: master_link_status=$link master_sync_in_progress=$sync"; exit 1 ;;
      *) echo "no role in INFO replication: $info"; exit 1 ;;
    esac ;;
  *) echo "usage: probe.sh liveness|readiness"; exit 2 ;;
esac

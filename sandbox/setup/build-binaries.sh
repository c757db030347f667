#!/usr/bin/env bash
# Builds the sandbox's Go-built binaries from the pinned modules under sandbox/tools/, once per
# machine, into "$FAILOVER_CACHE_DIR/bin/<name>-<version>/" (default ~/.cache/failover-functions):
#   control plane: kube-apiserver, kube-controller-manager, kubectl, etcd, nats-server, skaffold;
#   the node:      kubelet, kube-proxy, kube-scheduler, containerd (+ shim, ctr), CoreDNS, crictl,
#                  and the registry skaffold pushes to (CNCF Distribution).
# Idempotent: a directory that exists is a finished build (each is built in a temp dir and renamed).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${FAILOVER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/failover-functions}
mkdir -p "$cache/bin"

command -v go >/dev/null || { echo "setup: 'go' is not on PATH; install Go >= 1.26 (Debian: golang-go is too old; use the Go toolchain)" >&2; exit 1; }

# version_of <tools-dir> <module>: the version go.mod pins for that module.
version_of() { awk -v m="$2" '$1=="require" && $2==m {print $3; exit} $1==m && $2 ~ /^v/ {print $2; exit}' "$here/tools/$1/go.mod"; }

# build <tools-dir>[:<name>] <module> <version-ldflags> <binary-name|-> <pkg>...
# (a binary name for a single package whose directory name is not the binary's, "-" otherwise;
# <name> names the cache directory when one module builds two sets, default the tools dir)
build() {
  local dir=${1%%:*} name=${1##*:} module=$2 ldflags=$3 binary=$4; shift 4
  local version; version=$(version_of "$dir" "$module")
  [ -n "$version" ] || { echo "setup: no version of $module in sandbox/tools/$dir/go.mod" >&2; exit 1; }
  local out="$cache/bin/$name-$version"
  if [ -d "$out" ]; then echo "setup: $name $version already built ($out)"; return; fi
  local tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  echo "setup: building $name $version ($*) — the first build takes minutes"
  local start=$SECONDS
  # Print a heartbeat while go builds, so a long silent build is not mistaken for a hang.
  ( while sleep 30; do echo "setup: still building $name ($((SECONDS - start)) s)"; done ) &
  local beat=$!
  if ! (cd "$here/tools/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/${binary#-}" "$@" >"$tmp/build.log" 2>&1); then
    kill "$beat" 2>/dev/null || true
    echo "setup: building $name $version failed; last lines of the log:" >&2
    tail -n 30 "$tmp/build.log" >&2
    exit 1
  fi
  kill "$beat" 2>/dev/null || true
  rm -f "$tmp/build.log"
  mv "$tmp" "$out"
  echo "setup: built $name $version in $((SECONDS - start)) s"
}

k8s=$(version_of kubernetes k8s.io/kubernetes)
minor=$(echo "$k8s" | cut -d. -f2)
kv=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kv="$kv -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
build kubernetes k8s.io/kubernetes "$kv" - \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl

etcd=$(version_of etcd go.etcd.io/etcd/server/v3)
build etcd go.etcd.io/etcd/server/v3 "-X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd}" etcd go.etcd.io/etcd/server/v3

nats=$(version_of nats github.com/nats-io/nats-server/v2)
build nats github.com/nats-io/nats-server/v2 "" nats-server github.com/nats-io/nats-server/v2

skaffold=$(version_of skaffold github.com/GoogleContainerTools/skaffold/v2)
build skaffold github.com/GoogleContainerTools/skaffold/v2 \
  "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$skaffold" - \
  github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold
# The node: a separate cache directory, so a machine that built the control plane before keeps it.
build kubernetes:kubernetes-node k8s.io/kubernetes "$kv" - \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler

containerd=$(version_of containerd github.com/containerd/containerd/v2)
build containerd github.com/containerd/containerd/v2 \
  "-X github.com/containerd/containerd/v2/version.Version=$containerd -X github.com/containerd/containerd/v2/version.Revision=pinned" - \
  -tags no_btrfs github.com/containerd/containerd/v2/cmd/containerd \
  github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 github.com/containerd/containerd/v2/cmd/ctr

coredns=$(version_of coredns github.com/coredns/coredns)
build coredns github.com/coredns/coredns "-X github.com/coredns/coredns/coremain.GitCommit=$coredns" coredns github.com/coredns/coredns

crictl=$(version_of cri-tools sigs.k8s.io/cri-tools)
build cri-tools sigs.k8s.io/cri-tools "-X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl" crictl sigs.k8s.io/cri-tools/cmd/crictl
registry=$(version_of registry github.com/distribution/distribution/v3)
build registry github.com/distribution/distribution/v3 "-X github.com/distribution/distribution/v3/version.version=$registry" registry \
  github.com/distribution/distribution/v3/cmd/registry
echo "setup: Go-built binaries ready under $cache/bin"

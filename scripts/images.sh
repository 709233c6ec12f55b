#!/usr/bin/env bash
# Build the four service images on this machine and prove they run (issue 19).
#
#   bash scripts/images.sh            build + check; ends with "N passed, M failed"
#   SKIP_BUILD=1 bash scripts/images.sh   check the images already tagged
#   PROFILE=dev TAG=dbg MAX_MB=100 bash scripts/images.sh   the same from the debug binaries
#                                   (quick, for trying the chart's pods; not a release image)
#   SKIP_CARGO=1 PROFILE=dev ...    images from the binaries already in target/debug (what
#                                   scripts/test.sh built), without running cargo
#
# Docker Hub and gcr.io are unreachable here, so the images are built from docker/Dockerfile
# with its base-image build arguments pointed at local equivalents:
#   BINARIES_IMAGE  phonebill/binaries-local:<binary>  /out/service compiled on the host with
#                   `cargo build --profile image` (release, thin LTO, stripped)
#   RUNTIME_IMAGE   phonebill/runtime-local:bookworm   a distroless-like root file system made
#                   from the host's own files: the glibc and libgcc_s the binaries link (ldd),
#                   CA certificates, /etc/passwd and /etc/group with root and nonroot (65532),
#                   /tmp and /home/nonroot; no shell, no package manager
# and tagged phonebill/<binary>:${TAG:-dev}. The release workflow builds the same Dockerfile with
# its defaults (rust:1.95-slim-bookworm, gcr.io/distroless/cc-debian12:nonroot).
#
# Checks: each image is at most MAX_MB (40) MB, runs as 65532 with a read-only root file
# system, all capabilities dropped and no-new-privileges, and answers GET /actuator/health
# with 200 {"status":"UP"}. Docker is installed (docker.io) and dockerd started when missing;
# a dockerd this script started is stopped at the end (KEEP_DOCKERD=1 keeps it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/dockerd.sh
. "$ROOT/scripts/lib/dockerd.sh"

TAG="${TAG:-dev}"
PROFILE="${PROFILE:-image}"
BIN_DIR="${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
MAX_MB="${MAX_MB:-40}"
RUNTIME_IMAGE="phonebill/runtime-local:bookworm"
SERVICES=(auth-service bill-inquiry-service product-change-service kos-mock-service)
declare -A PACKAGE=(
  [auth-service]=phonebill-auth
  [bill-inquiry-service]=phonebill-bill-inquiry
  [product-change-service]=phonebill-product-change
  [kos-mock-service]=phonebill-kos-mock
)

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/phonebill-images.XXXXXX")"
CONTAINERS=()
cleanup() {
  for c in "${CONTAINERS[@]}"; do "$DOCKER" rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
  docker_down
}
trap cleanup EXIT
docker_up

# A root file system as a single-layer image (no base image needed).
import_dir() { # import_dir DIR IMAGE
  tar --numeric-owner --owner=0 --group=0 -C "$1" -c . | "$DOCKER" import - "$2" >/dev/null
}

build_runtime_base() { # build_runtime_base BINARY...
  local rootfs="$WORK/runtime"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"/{etc/ssl/certs,tmp,home/nonroot,usr/local/bin}
  chmod 1777 "$rootfs/tmp"
  # Every shared library the binaries load, at the path the loader finds it.
  local lib
  for lib in $(ldd "$@" | awk '/=> \// {print $3} /^\s*\/lib/ {print $1}' | sort -u); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  # libgcc_s (unwinding on panic) is opened at run time even when ldd does not list it.
  lib="$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ {print $NF; exit}')"
  if [ -n "$lib" ] && [ ! -e "$rootfs$lib" ]; then mkdir -p "$rootfs$(dirname "$lib")"; cp -L "$lib" "$rootfs$lib"; fi
  [ -e "$rootfs/lib64/ld-linux-x86-64.so.2" ] || { mkdir -p "$rootfs/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"; }
  cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
  printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
  chown 65532:65532 "$rootfs/home/nonroot"
  import_dir "$rootfs" "$RUNTIME_IMAGE"
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  if [ "${SKIP_CARGO:-0}" != 1 ]; then
    echo "== cargo build --profile $PROFILE (${SERVICES[*]})"
    args=()
    for s in "${SERVICES[@]}"; do args+=(-p "${PACKAGE[$s]}" --bin "$s"); done
    cargo build --profile "$PROFILE" --locked "${args[@]}"
  fi
  bins=()
  for s in "${SERVICES[@]}"; do
    [ -x "$BIN_DIR/$s" ] || { echo "$BIN_DIR/$s missing (build it, or unset SKIP_CARGO)" >&2; exit 1; }
    bins+=("$BIN_DIR/$s")
  done

  echo "== runtime base $RUNTIME_IMAGE"
  build_runtime_base "${bins[@]}"

  for s in "${SERVICES[@]}"; do
    echo "== phonebill/$s:$TAG"
    d="$WORK/bin-$s"
    mkdir -p "$d/out/data"
    install -m 0555 "$BIN_DIR/$s" "$d/out/service"
    import_dir "$d" "phonebill/binaries-local:$s"
    rm -rf "$d"
    "$DOCKER" build --quiet --file docker/Dockerfile \
      --build-arg SERVICE="$s" \
      --build-arg BINARIES_IMAGE="phonebill/binaries-local:$s" \
      --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
      --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
      --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      --tag "phonebill/$s:$TAG" . >/dev/null
    "$DOCKER" rmi "phonebill/binaries-local:$s" >/dev/null
  done
fi

echo "== checks"
for s in "${SERVICES[@]}"; do
  img="phonebill/$s:$TAG"
  bytes="$("$DOCKER" image inspect --format '{{.Size}}' "$img")"
  mb="$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1000000}')"
  if awk -v b="$bytes" -v m="$MAX_MB" 'BEGIN {exit !(b <= m * 1000000)}'; then
    pass "$img is $mb MB (<= $MAX_MB MB)"
  else
    fail "$img is $mb MB (> $MAX_MB MB)"
  fi
  user="$("$DOCKER" image inspect --format '{{.Config.User}}' "$img")"
  [ "$user" = "65532:65532" ] && pass "$img USER $user" || fail "$img USER is '$user', not 65532:65532"

  name="phonebill-images-check-$s-$$"
  CONTAINERS+=("$name")
  "$DOCKER" run -d --name "$name" --read-only --user 65532:65532 --cap-drop ALL \
    --security-opt no-new-privileges --tmpfs /data:uid=65532,gid=65532,mode=0700 \
    -e PORT=8080 -p 127.0.0.1::8080 "$img" >/dev/null
  port="$("$DOCKER" port "$name" 8080/tcp | head -1 | sed 's/.*://')"
  body=""
  for _ in $(seq 1 100); do
    body="$(curl -fsS --max-time 2 "http://127.0.0.1:$port/actuator/health" 2>/dev/null)" && break
    sleep 0.2
  done
  uid="$("$DOCKER" inspect --format '{{.Config.User}} ro={{.HostConfig.ReadonlyRootfs}} caps={{.HostConfig.CapDrop}}' "$name")"
  if printf '%s' "$body" | grep -q '"status":"UP"'; then
    pass "$img read-only, non-root, no capabilities ($uid): /actuator/health $body"
  else
    fail "$img /actuator/health did not answer UP (got '$body')"
    "$DOCKER" logs --tail 20 "$name" 2>&1 | sed 's/^/        /'
  fi
  "$DOCKER" rm -f "$name" >/dev/null
done

echo
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^phonebill/' | sort
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

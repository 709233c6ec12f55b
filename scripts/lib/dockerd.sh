# shellcheck shell=bash
# Sourced by scripts/images.sh and deploy/tests runners: make a Docker Engine available.
#
#   docker_up     installs docker.io from Debian if dockerd is missing, starts dockerd when
#                 none answers (PID file under .tools/dockerd/), sets $DOCKER
#   docker_down   stops dockerd only if docker_up started it (by its PID), unless KEEP_DOCKERD=1
#
# $DOCKER is a client that builds with BuildKit: `docker buildx` when installed, else Debian's
# /usr/bin/docker (20.10, BuildKit built in) with DOCKER_BUILDKIT=1. BuildKit matters: it
# builds only the Dockerfile stages a build needs, so the compiler stage is never pulled.
DOCKERD_STATE="${DOCKERD_STATE:-${ROOT:-.}/.tools/dockerd}"
DOCKERD_STARTED=""

docker_up() {
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "dockerd missing: apt-get install docker.io" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >&2
  fi
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER="$(command -v docker)"; fi
  export DOCKER_BUILDKIT=1
  if ! "$DOCKER" info >/dev/null 2>&1; then
    mkdir -p "$DOCKERD_STATE"
    echo "starting dockerd (log $DOCKERD_STATE/dockerd.log)" >&2
    dockerd --pidfile "$DOCKERD_STATE/dockerd.pid" >"$DOCKERD_STATE/dockerd.log" 2>&1 &
    DOCKERD_STARTED=$!
    for _ in $(seq 1 60); do
      "$DOCKER" info >/dev/null 2>&1 && break
      sleep 0.5
    done
    "$DOCKER" info >/dev/null 2>&1 || { tail -20 "$DOCKERD_STATE/dockerd.log" >&2; return 1; }
  fi
  export DOCKER
}

docker_down() {
  if [ -n "$DOCKERD_STARTED" ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    kill "$DOCKERD_STARTED" 2>/dev/null || true
    wait "$DOCKERD_STARTED" 2>/dev/null || true
    DOCKERD_STARTED=""
  fi
}

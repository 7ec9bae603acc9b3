#!/usr/bin/env bash
# The Docker part of CI (.ci/run calls it; a developer can too): start dockerd if none answers,
# make the base image when it cannot be pulled (deploy/docker/build-base.sh), build the server
# image with the host's CA bundle and npm registry as build inputs, run deploy/docker/smoke.sh.
#
# Its last line is one of
#   docker: N passed, N failed          (the smoke test's checks)
#   docker: skipped: <why>               (no usable dockerd here: said plainly, CI goes on)
# Exit status: 0 passed or skipped, 1 failed. DOCKER names the docker command [docker].
set -uo pipefail
cd "$(dirname "$0")/../.."

DOCKER="${DOCKER:-docker}"
NODE_VERSION="$(cat deploy/docker/node-version)"
BASE="node:${NODE_VERSION}-bookworm-slim"
IMAGE=siberite:smoke
started_dockerd=""
dockerd_log=$(mktemp /tmp/siberite-dockerd.XXXXXX)

say() { echo "docker: $*"; }
skip() { say "skipped: $*"; exit 0; }
fail() { say "$*"; say "0 passed, 1 failed"; exit 1; }

stop_dockerd() {
  [ -n "$started_dockerd" ] || return 0
  kill "$started_dockerd" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$started_dockerd" 2>/dev/null
}
trap stop_dockerd EXIT

daemon_up() { timeout 10 $DOCKER info >/dev/null 2>&1; }

# --- a daemon: the one running, or one we start (overlay2, else vfs) -------------------------
t0=$SECONDS
if ! daemon_up; then
  command -v dockerd >/dev/null || skip "dockerd is not installed (apt-get install docker.io)"
  [ "$(id -u)" = 0 ] || skip "dockerd needs root, and this runs as uid $(id -u)"
  for driver in overlay2 vfs; do
    dockerd --storage-driver="$driver" >"$dockerd_log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 1 60); do
      daemon_up && break
      kill -0 "$started_dockerd" 2>/dev/null || break
      sleep 0.5
    done
    daemon_up && break
    stop_dockerd
    started_dockerd=""
    why=$(grep -E 'level=(error|fatal)|failed' "$dockerd_log" | tail -n 3 | sed 's/^time="[^"]*" //')
    say "dockerd with the $driver storage driver did not start: ${why:-no reason logged}"
  done
  daemon_up || skip "dockerd cannot run on this machine (last log lines above; full log $dockerd_log)"
  say "started dockerd ($(timeout 10 $DOCKER info --format '{{.Driver}}' 2>/dev/null), $((SECONDS - t0)) s)"
fi

# --- the base image: pulled, already here, or made locally ----------------------------------
t0=$SECONDS
if ! $DOCKER image inspect "$BASE" >/dev/null 2>&1; then
  if timeout 60 $DOCKER pull -q "$BASE" >/dev/null 2>&1; then
    say "pulled $BASE"
  else
    say "cannot pull $BASE; building it locally (deploy/docker/build-base.sh)"
    DOCKER="$DOCKER" bash deploy/docker/build-base.sh || fail "could not build the base image $BASE"
  fi
fi
say "base image $BASE ready ($((SECONDS - t0)) s)"

# --- the server image --------------------------------------------------------------------------
t0=$SECONDS
ca="${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
secrets=()
[ -s "$ca" ] && secrets+=(--secret "id=ca,src=$ca")
build_log=$(mktemp /tmp/siberite-build.XXXXXX)
if ! DOCKER_BUILDKIT=1 $DOCKER build --progress=plain "${secrets[@]}" \
  --build-arg NPM_REGISTRY="$(npm config get registry)" -t "$IMAGE" . >"$build_log" 2>&1; then
  tail -n 30 "$build_log"
  fail "docker build failed (log above)"
fi
say "built $IMAGE in $((SECONDS - t0)) s, $(( $($DOCKER image inspect --format '{{.Size}}' "$IMAGE") / 1000000 )) MB"
# Nothing of the proxy's CA or registry settings reached the final image.
if $DOCKER run --rm --entrypoint sh "$IMAGE" -c 'test ! -e /run/secrets/ca && test ! -e /root/.npmrc && ! env | grep -qi -e npm_registry -e extra_ca'; then
  say "no build secret in the final image"
else
  fail "a build secret or registry setting is in the final image"
fi

# --- the smoke test --------------------------------------------------------------------------
out=$(DOCKER="$DOCKER" bash deploy/docker/smoke.sh "$IMAGE" 2>&1)
status=$?
echo "$out" | sed '$d'
counts=$(echo "$out" | tail -n 1 | sed -n 's/^smoke: \([0-9]* passed, [0-9]* failed\)$/\1/p')
[ -n "$counts" ] || fail "the smoke test ended without a count (exit $status)"
say "$counts"
exit "$status"

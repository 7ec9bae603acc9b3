#!/usr/bin/env bash
# Smoke test of the Docker image against real containers, over the published port on loopback:
# health turns healthy, set/get and /open work, `docker stop` exits 0 (and how long it took), a
# restart on the same volume keeps every queued and open item, a second container on the same
# volume is refused, and an arbitrary uid in group 0 with a read-only root filesystem can run it.
#
#   deploy/docker/smoke.sh [IMAGE]          (default siberite:smoke; the image must exist)
#
# Prints "ok - …" / "not ok - …" per check and ends with "smoke: N passed, N failed".
# Exit status: 0 all passed, 1 a check failed. DOCKER names the docker command [docker].
set -uo pipefail

IMAGE="${1:-siberite:smoke}"
DOCKER="${DOCKER:-docker}"
here="$(cd "$(dirname "$0")" && pwd)"
run_id="siberite-smoke-$$"
vol="$run_id-data"
passed=0
failed=0
hold_pid=""
port=""
admin_port=""

ok() { echo "ok - $*"; passed=$((passed + 1)); }
notok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { # description, then a command: ok if it succeeds
  local what="$1"; shift
  if "$@"; then ok "$what"; else notok "$what"; fi
}
mc() { node "$here/mc.mjs" 127.0.0.1 "$port" "$@"; }

cleanup() {
  [ -n "$hold_pid" ] && kill "$hold_pid" 2>/dev/null
  $DOCKER rm -f "$run_id-a" "$run_id-b" "$run_id-c" "$run_id-u" >/dev/null 2>&1
  $DOCKER volume rm -f "$vol" "$vol-u" >/dev/null 2>&1
}
trap cleanup EXIT

# Starts a container on the volume, publishing 22133 on a free loopback port; sets $port.
start() { # name, volume, extra docker-run flags...
  local name="$1" volume="$2"; shift 2
  $DOCKER run -d --name "$name" -p 127.0.0.1::22133 -p 127.0.0.1::9090 -v "$volume:/data" "$@" "$IMAGE" >/dev/null || return 1
  port=$($DOCKER port "$name" 22133/tcp | head -n 1 | sed 's/.*://')
  admin_port=$($DOCKER port "$name" 9090/tcp | head -n 1 | sed 's/.*://')
  [ -n "$port" ]
}

# Waits (at most 90 s) for the HEALTHCHECK to say healthy; prints the seconds it took.
wait_healthy() {
  local name="$1" t0=$SECONDS status
  while [ $((SECONDS - t0)) -lt 90 ]; do
    status=$($DOCKER inspect --format '{{.State.Health.Status}}' "$name" 2>/dev/null) || return 1
    if [ "$status" = healthy ]; then echo $((SECONDS - t0)); return 0; fi
    [ "$($DOCKER inspect --format '{{.State.Running}}' "$name")" = true ] || return 1
    sleep 1
  done
  return 1
}

# `docker stop` (SIGTERM, SIGKILL after 30 s); prints "<exit code> <seconds>".
stop() {
  local t0 t1
  t0=$(date +%s.%N)
  $DOCKER stop -t 30 "$1" >/dev/null || return 1
  t1=$(date +%s.%N)
  echo "$($DOCKER inspect --format '{{.State.ExitCode}}' "$1") $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")"
}

$DOCKER image inspect "$IMAGE" >/dev/null 2>&1 || { echo "smoke: no image $IMAGE (build it first)"; echo "smoke: 0 passed, 1 failed"; exit 1; }
size=$($DOCKER image inspect --format '{{.Size}}' "$IMAGE")
echo "# image $IMAGE: $((size / 1000000)) MB"
$DOCKER volume create "$vol" >/dev/null

# --- first container: health, set/get, /open held across the stop ---------------------------
start "$run_id-a" "$vol"
if secs=$(wait_healthy "$run_id-a"); then ok "health turns healthy ($secs s after start)"; else notok "health turns healthy"; $DOCKER logs "$run_id-a" 2>&1 | tail -n 5; fi
# Which check the HEALTHCHECK made: GET /readyz when the server runs with -admin, else `version`.
health_said=$($DOCKER inspect --format '{{range .State.Health.Log}}{{.Output}}{{end}}' "$run_id-a" | sed '/^$/d' | tail -n 1)
echo "# health check: $health_said"
http_status() { node -e 'fetch(process.argv[1]).then((r) => console.log(r.status), () => console.log("no answer"))' "$1"; }
if grep -q readyz <<<"$health_said"; then
  # Through the published port the server sees a non-loopback peer: the probes are open, the
  # rest needs the admin token (docs/security.md), and this container has none.
  check "admin port: GET /readyz over the published port → 200" test "$(http_status "http://127.0.0.1:$admin_port/readyz")" = 200
  check "admin port: GET /metrics without the token → 401" test "$(http_status "http://127.0.0.1:$admin_port/metrics")" = 401
else
  notok "the health check uses the admin port (/readyz): it said \"$health_said\""
fi
check "the image runs as a non-root user" test "$($DOCKER exec "$run_id-a" id -u)" != 0

reply=$(mc 'set work 0 0 2' 'w1' 'set work 0 0 2' 'w2' 'set work 0 0 2' 'w3' 'set work 0 0 2' 'w4' 'get work')
check "set ×4 then get over the published port" test "$reply" = $'STORED\nSTORED\nSTORED\nSTORED\nVALUE work 0 2\nw1\nEND'
reply=$(mc 'set job 0 0 3' 'j-1' 'get job/open' 'get job/close')
check "get/open then /close consumes" test "$reply" = $'STORED\nVALUE job 0 3\nj-1\nEND\nEND'

# Hold w2 open on a connection that is still there when the container stops.
held=$(mktemp)
node "$here/mc.mjs" --hold 127.0.0.1 "$port" 'get work/open' >"$held" &
hold_pid=$!
for _ in $(seq 1 50); do grep -q END "$held" && break; sleep 0.1; done
check "an item held open (w2)" grep -q '^w2$' "$held"

if result=$(stop "$run_id-a"); then
  read -r code secs <<<"$result"
  check "docker stop exits 0 (exit $code after $secs s)" test "$code" = 0
else
  notok "docker stop"
fi
wait "$hold_pid" 2>/dev/null
hold_pid=""
check "the held connection is closed by the stop" grep -q '^closed$' "$held"
rm -f "$held"

# --- restart on the same volume: everything queued and open is still there ---------------------
start "$run_id-b" "$vol"
if secs=$(wait_healthy "$run_id-b"); then ok "restarted container healthy ($secs s)"; else notok "restarted container healthy"; fi

# --- a second container on the same volume is refused (LevelDB's lock) ------------------------
$DOCKER run -d --name "$run_id-c" -v "$vol:/data" "$IMAGE" >/dev/null
code=$(timeout 60 $DOCKER wait "$run_id-c")
logs=$($DOCKER logs "$run_id-c" 2>&1)
check "a second container on the same volume is refused (exit $code: ${logs:0:120})" \
  bash -c '[ "$1" = 2 ] && grep -q "in use by another process" <<<"$2"' _ "$code" "$logs"

reply=$(mc 'get work' 'get work' 'get work' 'get work' 'get job')
check "after the restart: the open item back at the head, then the rest, nothing consumed returns" \
  test "$reply" = $'VALUE work 0 2\nw2\nEND\nVALUE work 0 2\nw3\nEND\nVALUE work 0 2\nw4\nEND\nEND\nEND'
if result=$(stop "$run_id-b"); then read -r code secs <<<"$result"; check "second docker stop exits 0 ($secs s)" test "$code" = 0; else notok "second docker stop"; fi

# --- an arbitrary uid in group 0, read-only root filesystem (OpenShift, Kubernetes) ------------
$DOCKER volume create "$vol-u" >/dev/null
start "$run_id-u" "$vol-u" --user 123456:0 --read-only
if secs=$(wait_healthy "$run_id-u"); then
  reply=$(mc 'set any 0 0 1' 'x' 'get any')
  check "uid 123456 gid 0, read-only root: writes to /data" test "$reply" = $'STORED\nVALUE any 0 1\nx\nEND'
else
  notok "uid 123456 gid 0, read-only root: starts ($($DOCKER logs "$run_id-u" 2>&1 | tail -n 1))"
fi

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

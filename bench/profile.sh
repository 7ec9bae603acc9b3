#!/usr/bin/env bash
# profile.sh: a CPU flame graph of the server under one bench workload.
#
#   bench/profile.sh flood|pipelined|packing|all [--no-build]
#
# Per workload: starts a fresh siberite on a free 127.0.0.1 port and a new temporary data
# directory (as run-all.sh does) with `node --cpu-prof`, runs the workload against it, stops it
# with SIGTERM (Node writes the profile as the server exits), keeps the profile as
# bench/results/profile-<workload>.cpuprofile (git-ignored; Chrome DevTools opens it) and draws
# docs/benchmarks/flame-<workload>.svg with dist/bench/flamegraph.js, printing the functions
# with the most self time. Every process it starts is stopped on exit (trap EXIT).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/profile.sh flood|pipelined|packing|all [--no-build]

  flood       node dist/bench/flood.js --connections 10 --seconds 5 --warmup 1
  pipelined   node dist/bench/pipelined.js --protocol binary --seconds 5 --warmup 1
  packing     node dist/bench/packing.js --items 300000 --checkpoints 300000 --seconds 5
              (fills a 300 k x 1 KiB backlog, measures the mix on it, reads it back)
  all         the three, each on its own fresh server
  --no-build  do not run `npx tsc -p tsconfig.json` first

Output: docs/benchmarks/flame-<workload>.svg, bench/results/profile-<workload>.cpuprofile.
Environment: SIBERITE_CLI (the siberite command; default bin/siberite), BENCH_TMP (temporary
directories; /tmp), STEP_TIMEOUT (seconds a workload may run; 600).
EOF
}

WORKLOADS=()
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    flood|pipelined|packing) WORKLOADS+=("$1") ;;
    all) WORKLOADS+=(flood pipelined packing) ;;
    --no-build) BUILD=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "profile: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ "${#WORKLOADS[@]}" = 0 ]; then
  echo "profile: no workload given" >&2
  usage >&2
  exit 2
fi

cd "$(dirname "$0")/.."
CLI="${SIBERITE_CLI:-bin/siberite}"
HOST=127.0.0.1
NAME=profile
STEP_TIMEOUT="${STEP_TIMEOUT:-600}"
# check_siberite, free_port, wait_ready, stop_pid, spawn_siberite
source bench/lib/servers.sh

WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/siberite-profile.XXXXXX")
SERVER_PID=""
BENCH_PID=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  [ -n "$BENCH_PID" ] && stop_pid "$BENCH_PID"
  [ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "profile: interrupted; stopping what it started" >&2; exit 130' INT TERM HUP

if [ "$BUILD" = 1 ]; then
  echo "=== build: npx tsc -p tsconfig.json"
  npx tsc -p tsconfig.json
fi
check_siberite || exit 1
for f in dist/bench/flamegraph.js dist/bench/flood.js dist/bench/pipelined.js dist/bench/packing.js; do
  [ -f "$f" ] || { echo "profile: $f missing (build first)" >&2; exit 1; }
done

workload_args() { # workload: its bench's options besides the server's port and pid
  case "$1" in
    flood) echo "--connections 10 --seconds 5 --warmup 1" ;;
    pipelined) echo "--protocol binary --seconds 5 --warmup 1" ;;
    packing) echo "--items 300000 --checkpoints 300000 --seconds 5" ;;
  esac
}

profile_one() { # workload
  local wl=$1 port args prof rc=0
  local data="$WORK/data-$wl" profdir="$WORK/prof-$wl" log="$WORK/siberite-$wl.log"
  echo
  echo "=== $wl ($(date -u +%H:%M:%S) UTC)"
  port=$(free_port)
  spawn_siberite "$data" "$port" "$log" --cpu-prof --cpu-prof-dir="$profdir"
  SERVER_PID=$SPAWNED_PID
  if ! wait_ready "$port" "$SERVER_PID"; then
    echo "profile: siberite did not start; its output:" >&2
    cat "$log" >&2
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    return 1
  fi
  args=$(workload_args "$wl")
  echo "node dist/bench/$wl.js --port $port --pid $SERVER_PID $args"
  # In the background and waited for, so that a signal reaches the trap at once. The bench's
  # results go to the work directory, not over bench/results/<bench>-siberite.json.
  # shellcheck disable=SC2086 # $args is split into words on purpose
  timeout --kill-after=30 "$STEP_TIMEOUT" node "dist/bench/$wl.js" --port "$port" --pid "$SERVER_PID" \
    --label profile --json "$WORK/$wl.json" $args &
  BENCH_PID=$!
  wait "$BENCH_PID" || rc=$?
  BENCH_PID=""
  [ "$rc" = 0 ] || echo "profile: the $wl workload exited with status $rc; drawing what was profiled" >&2

  # SIGTERM: the server closes its queues and calls process.exit(0); Node writes the profile
  # (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile, thread 0 = the main thread) on the way out.
  local pid=$SERVER_PID
  stop_pid "$SERVER_PID"
  SERVER_PID=""
  prof=$(find "$profdir" -maxdepth 1 -name "CPU.*.$pid.0.*.cpuprofile" 2>/dev/null | head -1)
  if [ -z "$prof" ]; then
    echo "profile: no CPU profile in $profdir after SIGTERM; the server's output:" >&2
    cat "$log" >&2
    return 1
  fi
  mkdir -p bench/results docs/benchmarks
  cp "$prof" "bench/results/profile-$wl.cpuprofile"
  node dist/bench/flamegraph.js "bench/results/profile-$wl.cpuprofile" --out "docs/benchmarks/flame-$wl.svg" \
    --title "siberite CPU profile: $wl.js $args" --top 10
}

FAILED=()
for wl in "${WORKLOADS[@]}"; do
  profile_one "$wl" || FAILED+=("$wl")
done
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "profile: FAILED: ${FAILED[*]}" >&2
  exit 1
fi

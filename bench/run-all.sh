#!/usr/bin/env bash
# run-all.sh: every benchmark against siberite and, where it applies, against memcached
# (`memcached -t 1`, the reference of the targets in docs/benchmarks.md), side by side in one run.
# All results go to bench/results/*.json; the charts to docs/benchmarks/.
#
#   bench/run-all.sh              quick mode (small sizes, a few minutes)
#   bench/run-all.sh --full       the sizes of the targets (~15-20 minutes on 2 cores)
#
# Each benchmark gets a freshly started server on a new temporary data directory (siberite) or a
# fresh memcached, and only the server under test runs. Every process this script starts is
# stopped on exit, also on failure or Ctrl-C (trap EXIT).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run-all.sh [--quick | --full] [options]

  --quick              small sizes, a few minutes (default)
  --full               target sizes: 1 M x 1 KiB packing/rss, 10 M x 64 B rss/startup, 5 s levels
  --only <list>        comma-separated subset of:
                       flood,pipelined,packing,rss,cursor-rss,startup,fsync,charts
  --no-build           do not run `npx tsc -p tsconfig.json` first
  --no-memcached       siberite only
  --flood-rounds <n>   flood: n alternating rounds (siberite, memcached, …) on fresh
                       servers, reported as medians                  [quick 1, full 5]
  --step-timeout <s>   hard limit per benchmark step      [quick 900, full 7200]
  -h, --help           this text

Environment: SIBERITE_CLI (the siberite command; default bin/siberite), MEMCACHED (default:
memcached on PATH), BENCH_TMP (where temporary data directories go; default /tmp; must not be
tmpfs for fsync).
EOF
}

MODE=quick
ONLY=""
BUILD=1
USE_MC=1
STEP_TIMEOUT=""
FLOOD_ROUNDS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --full) MODE=full ;;
    --only) ONLY="${2:?--only needs a list}"; shift ;;
    --only=*) ONLY="${1#--only=}" ;;
    --no-build) BUILD=0 ;;
    --no-memcached) USE_MC=0 ;;
    --step-timeout) STEP_TIMEOUT="${2:?--step-timeout needs seconds}"; shift ;;
    --flood-rounds) FLOOD_ROUNDS="${2:?--flood-rounds needs a count}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-all: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CLI="${SIBERITE_CLI:-bin/siberite}"
MEMCACHED="${MEMCACHED:-memcached}"
TMPBASE="${BENCH_TMP:-/tmp}"
HOST=127.0.0.1
NAME=run-all
# check_siberite, free_port, wait_ready, stop_pid, spawn_siberite
source bench/lib/servers.sh
if [ -z "$STEP_TIMEOUT" ]; then
  if [ "$MODE" = full ]; then STEP_TIMEOUT=7200; else STEP_TIMEOUT=900; fi
fi

WORK=$(mktemp -d "$TMPBASE/siberite-bench.XXXXXX")
PIDS=()
FAILED=()
DONE=()
T_START=$(date +%s)

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  local i
  # newest first: a running bench step before the server it talks to
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "run-all: interrupted; stopping what it started" >&2; exit 130' INT TERM HUP

forget_pid() { # remove $1 from PIDS
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

want() { # is benchmark $1 selected?
  [ -z "$ONLY" ] && return 0
  case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac
}

SERVER_PID=""
SERVER_PORT=""
SERVER_DIR=""
start_siberite() { # name
  SERVER_DIR="$WORK/data-$1"
  SERVER_PORT=$(free_port)
  spawn_siberite "$SERVER_DIR" "$SERVER_PORT" "$WORK/siberite-$1.log"
  SERVER_PID=$SPAWNED_PID
  PIDS+=("$SERVER_PID")
  if ! wait_ready "$SERVER_PORT" "$SERVER_PID"; then
    echo "run-all: siberite did not start; its output:" >&2
    cat "$WORK/siberite-$1.log" >&2
    return 1
  fi
}

start_memcached() { # name
  SERVER_DIR=""
  SERVER_PORT=$(free_port)
  local user=()
  [ "$(id -u)" = 0 ] && user=(-u nobody)
  "$MEMCACHED" -t 1 -p "$SERVER_PORT" -U 0 -l "$HOST" -m 4096 "${user[@]}" >"$WORK/memcached-$1.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  if ! wait_ready "$SERVER_PORT" "$SERVER_PID"; then
    echo "run-all: memcached did not start; its output:" >&2
    cat "$WORK/memcached-$1.log" >&2
    return 1
  fi
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  stop_pid "$SERVER_PID"
  forget_pid "$SERVER_PID"
  [ -n "$SERVER_DIR" ] && rm -rf "$SERVER_DIR"
  SERVER_PID=""
  SERVER_DIR=""
}

step() { # name command...: run a bench step with a hard time limit; record failure, go on
  local name=$1
  shift
  echo
  echo "=== $name ($(date -u +%H:%M:%S) UTC)"
  local rc=0
  # In the background and waited for, so that a signal to this script is handled at once
  # (bash runs traps only after a foreground command ends); cleanup stops it like a server.
  timeout --kill-after=30 "$STEP_TIMEOUT" "$@" &
  local pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  forget_pid "$pid"
  if [ "$rc" = 0 ]; then
    DONE+=("$name")
  else
    [ "$rc" = 124 ] && echo "run-all: $name exceeded $STEP_TIMEOUT s" >&2
    FAILED+=("$name (exit $rc)")
  fi
}

with_server() { # kind(siberite|memcached) name command... (PORT and PID substituted)
  local kind=$1 name=$2
  shift 2
  if ! "start_$kind" "$name"; then
    FAILED+=("$name (server did not start)")
    stop_server
    return 0
  fi
  local args=() a
  for a in "$@"; do
    a=${a//@PORT@/$SERVER_PORT}
    a=${a//@PID@/$SERVER_PID}
    args+=("$a")
  done
  step "$name" "${args[@]}"
  stop_server
}

mc_with_server() { # name command...: with_server memcached, unless memcached is not used
  [ "$USE_MC" = 1 ] || return 0
  with_server memcached "$@"
}

# ---- build and prerequisites -------------------------------------------------------------

if [ "$BUILD" = 1 ]; then
  echo "=== build: npx tsc -p tsconfig.json"
  if ! npx tsc -p tsconfig.json; then
    echo "run-all: the build failed (use --no-build to run what dist/ holds)" >&2
    exit 1
  fi
fi
check_siberite || exit 1
for f in dist/bench/flood.js dist/bench/flood-medians.js dist/bench/packing.js dist/bench/rss.js dist/bench/startup.js dist/bench/fsync.js dist/bench/charts.js; do
  [ -f "$f" ] || { echo "run-all: $f missing (build first)" >&2; exit 1; }
done

if [ "$USE_MC" = 1 ] && ! command -v "$MEMCACHED" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "=== installing memcached (apt-get install -y memcached)"
    apt-get install -y memcached >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y memcached >/dev/null 2>&1; } || true
  fi
  if ! command -v "$MEMCACHED" >/dev/null 2>&1; then
    echo "run-all: memcached not available; running siberite only" >&2
    USE_MC=0
  fi
fi
# Debian installs memcached as a service; it is not used here (ports are picked fresh).

# ---- sizes -------------------------------------------------------------------------------

if [ -z "$FLOOD_ROUNDS" ]; then
  if [ "$MODE" = full ]; then FLOOD_ROUNDS=5; else FLOOD_ROUNDS=1; fi
fi
if [ "$MODE" = full ]; then
  FLOOD=(--connections 1,10,100 --seconds 5 --warmup 1)
  PIPE=(--protocol both --seconds 5 --warmup 1)
  PACKING=(--items 1000000)
  RSS_LARGE=(--items 1000000 --value-size 1024)
  RSS_SMALL=(--items 10000000 --value-size 64)
  CURSOR=(--items 1000000)
  STARTUP=(--items 10000000 --runs 3)
  FSYNC=(--connections 1,100 --seconds 5 --warmup 1)
else
  FLOOD=(--connections 1,10,100 --seconds 2 --warmup 0.5)
  PIPE=(--protocol both --seconds 2 --warmup 0.5)
  PACKING=(--items 50000 --seconds 1 --first-warmup 1)
  RSS_LARGE=(--items 100000 --value-size 1024)
  RSS_SMALL=(--items 1000000 --value-size 64)
  CURSOR=(--items 100000)
  STARTUP=(--items 500000 --runs 3)
  FSYNC=(--connections 1,100 --seconds 2 --warmup 0.5)
fi

echo
echo "run-all: $MODE mode, siberite $CLI$([ "$USE_MC" = 1 ] && echo " vs $($MEMCACHED -h | head -1)"), results in bench/results/"

# ---- the benchmarks ----------------------------------------------------------------------

if want flood; then
  # Alternating rounds, so that both servers meet the same moods of a shared machine.
  rm -f bench/results/flood-*-r*.json
  for round in $(seq 1 "$FLOOD_ROUNDS"); do
    with_server siberite "flood-siberite-r$round" node dist/bench/flood.js --port @PORT@ --pid @PID@ --label siberite \
      --json "bench/results/flood-siberite-r$round.json" "${FLOOD[@]}"
    mc_with_server "flood-memcached-r$round" node dist/bench/flood.js --port @PORT@ --pid @PID@ --label memcached \
      --json "bench/results/flood-memcached-r$round.json" "${FLOOD[@]}"
  done
  step flood-medians node dist/bench/flood-medians.js bench/results/flood-*-r*.json
fi

if want pipelined; then
  if [ -f dist/bench/pipelined.js ]; then
    with_server siberite pipelined-siberite node dist/bench/pipelined.js --port @PORT@ --pid @PID@ --label siberite "${PIPE[@]}"
    mc_with_server pipelined-memcached node dist/bench/pipelined.js --port @PORT@ --pid @PID@ --label memcached "${PIPE[@]}"
  else
    echo "run-all: dist/bench/pipelined.js not built; skipping pipelined" >&2
  fi
fi

if want packing; then
  with_server siberite packing-siberite node dist/bench/packing.js --port @PORT@ --pid @PID@ --label siberite "${PACKING[@]}"
  # memcached has no queues: packing runs in keys mode there (the backlog is distinct keys)
  mc_with_server packing-memcached node dist/bench/packing.js --port @PORT@ --pid @PID@ --label memcached "${PACKING[@]}"
fi

# siberite only from here: memcached keeps all data in memory, and has no disk, start-up or fsync
if want rss; then
  # one fresh server per scenario: what the first leaves in memory must not count for the second
  with_server siberite rss-siberite-1KiB node dist/bench/rss.js --port @PORT@ --pid @PID@ --label siberite \
    --json bench/results/rss-siberite-1KiB.json "${RSS_LARGE[@]}"
  with_server siberite rss-siberite-64B node dist/bench/rss.js --port @PORT@ --pid @PID@ --label siberite \
    --json bench/results/rss-siberite-64B.json "${RSS_SMALL[@]}"
fi

if want cursor-rss; then
  if [ -f dist/bench/cursor-rss.js ]; then
    with_server siberite cursor-rss-siberite node dist/bench/cursor-rss.js --port @PORT@ --pid @PID@ "${CURSOR[@]}"
  fi
fi

if want startup; then
  # TMPDIR: its temporary data directory goes under $WORK, removed on exit whatever happens
  step startup-siberite env TMPDIR="$WORK" node dist/bench/startup.js --cli "$CLI" --label siberite "${STARTUP[@]}"
fi

if want fsync; then
  step fsync-siberite node dist/bench/fsync.js --cli "$CLI" --dir "$WORK" --label siberite "${FSYNC[@]}"
fi

if want charts; then
  # only this script's servers: other results files in bench/results/ are left out
  step charts node dist/bench/charts.js --only '-(siberite|memcached)(-[A-Za-z0-9]+)?\.json$'
fi

# ---- summary -----------------------------------------------------------------------------

echo
echo "run-all: $MODE mode finished in $(( $(date +%s) - T_START )) s"
echo "  ok:     ${DONE[*]:-none}"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "  FAILED: ${FAILED[*]}"
  exit 1
fi

# Shell helpers shared by bench/run-all.sh and bench/profile.sh; sourced, they start nothing.
# The sourcing script sets HOST (a loopback address), CLI (the `siberite` command to start: a
# checkout's bin/siberite, which sets the runtime tuning) and NAME (its name, for messages).

check_siberite() { # fails, saying why, unless $CLI is a siberite command with its build beside it
  local build
  if [ ! -x "$CLI" ] || [ "${CLI%.js}" != "$CLI" ]; then
    echo "$NAME: $CLI is not a siberite command (want a checkout's bin/siberite)" >&2
    return 1
  fi
  build="$(dirname "$(dirname "$(readlink -f "$CLI")")")/dist/src/cli.js"
  [ -f "$build" ] || { echo "$NAME: $build missing (build first)" >&2; return 1; }
}

free_port() { # prints a free TCP port on $HOST
  node -e "const s=require('net').createServer();s.listen(0,'$HOST',()=>{console.log(s.address().port);s.close()})"
}

wait_ready() { # port pid: until a `version` reply, at most 30 s; fails if pid exits first
  local port=$1 pid=$2 i
  for i in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || return 1
    if node -e "
      const c=require('net').createConnection($port,'$HOST');
      c.on('connect',()=>c.write('version\r\n'));
      c.on('data',d=>{process.exit(String(d).startsWith('VERSION')?0:1)});
      c.on('error',()=>process.exit(1));
      setTimeout(()=>process.exit(1),1000);" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

stop_pid() { # pid: SIGTERM, wait up to 20 s, then SIGKILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$NAME: pid $pid ignored SIGTERM for 20 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

spawn_siberite() { # data-dir port log [node options...]: starts $CLI in the background (node
  # options without spaces, passed as bin/siberite's SIBERITE_NODE_ARGS); bin/siberite execs node,
  # so the server's pid goes to SPAWNED_PID
  local dir=$1 port=$2 log=$3
  shift 3
  mkdir -p "$dir"
  SIBERITE_NODE_ARGS="$*" "$CLI" -listen "$HOST:$port" -data "$dir" -log-level warn >"$log" 2>&1 &
  SPAWNED_PID=$!
}

# Shell helpers shared by bench/run-all.sh and bench/profile.sh; sourced, they start nothing.
# The sourcing script sets HOST (a loopback address), CLI (siberite's entry point, e.g.
# dist/src/cli.js) and NAME (its name, for messages).

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

spawn_siberite() { # data-dir port log [node options...]: starts siberite in the background with
  # the malloc settings and node flags its start script uses; its pid goes to SPAWNED_PID
  local dir=$1 port=$2 log=$3
  shift 3
  mkdir -p "$dir"
  MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 node --max-semi-space-size=2 "$@" "$CLI" -listen "$HOST:$port" -data "$dir" -log-level warn >"$log" 2>&1 &
  SPAWNED_PID=$!
}

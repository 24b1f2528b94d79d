# Sourced by perf/bench-compare.sh and perf/bench-fanout.sh: one server at a time, started in the background and
# waited for (bounded), stopped with SIGTERM then SIGKILL. Uses PORT and OUT from the caller.

SERVER_PID=
stop_server() {
  if [ -n "${SERVER_PID}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
trap stop_server EXIT

port_open() { (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; }

# wait_for_server NAME: the server just started in the background ($!) accepts connections, within 30 s.
wait_for_server() {
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if port_open; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "$1 exited at startup:"; cat "$OUT/$1.server.log"; exit 1; }
    sleep 0.1
  done
  echo "$1 did not open port $PORT within 30 s"; exit 1
}

#!/usr/bin/env bash
# node01: a tiny TCP service on $ECHO_PORT that answers every connection with the source
# address it sees, so a check can tell whether controlplane rewrote the source.
# Starts it only if it is not already running (idempotent).
set -eu
STATE=/run/grader-state/linux-networking/nat-egress-node01  # node01's own, not the param state
mkdir -p "$STATE"

if [ -f "$STATE/echo.pid" ] && kill -0 "$(cat "$STATE/echo.pid")" 2>/dev/null \
   && grep -q whoami.py "/proc/$(cat "$STATE/echo.pid")/cmdline" 2>/dev/null; then
  exit 0
fi

cat > "$STATE/whoami.py" <<'PY'
import os, socket, sys

port, pidfile = int(sys.argv[1]), sys.argv[2]
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(16)
with open(pidfile, "w") as fh:
    fh.write(str(os.getpid()))
while True:
    conn, peer = srv.accept()
    try:
        conn.sendall((peer[0] + "\n").encode())
    except OSError:
        pass
    conn.close()
PY
rm -f "$STATE/echo.pid"
setsid -f python3 "$STATE/whoami.py" "$ECHO_PORT" "$STATE/echo.pid" >/dev/null 2>&1 </dev/null
for _ in $(seq 1 50); do
  [ -s "$STATE/echo.pid" ] && exit 0
  sleep 0.2
done
echo "the address-echo service did not start on node01 port $ECHO_PORT" >&2
exit 1

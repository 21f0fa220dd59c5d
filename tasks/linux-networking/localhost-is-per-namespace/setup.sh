#!/usr/bin/env bash
# The broken state: namespace `webns` is wired to the host (veth-web 10.0.6.1/24 on the
# host, eth0 10.0.6.2/24 inside; ../lib/netns-wire.sh did that) and runs a web service
# bound to 127.0.0.1:$PORT, the namespace's own loopback, so the host cannot reach it at
# 10.0.6.2:$PORT. $NS and $STATE are the task's params ns and state.
set -eu

mkdir -p "$STATE/www"
echo "webns page $PAGE" > "$STATE/www/index.html"

ip netns exec "$NS" setsid -f python3 -m http.server --bind 127.0.0.1 --directory "$STATE/www" "$PORT" \
  >/dev/null 2>&1 </dev/null
for _ in $(seq 1 50); do
  if ip netns exec "$NS" ss -Hltn "sport = :$PORT" | grep -q .; then
    exit 0
  fi
  sleep 0.2
done
echo "the service did not start listening on 127.0.0.1:$PORT inside $NS" >&2
exit 1

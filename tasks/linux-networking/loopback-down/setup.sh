#!/usr/bin/env bash
# The broken state: a web service listens on 127.0.0.1:$PORT inside namespace `loopns`,
# and the namespace's loopback is switched off, so nobody can reach the service.
# $NS and $STATE are the task's params ns and state. Runs after ../lib/netns-teardown.sh,
# so it always starts from a clean host.
set -eu

mkdir -p "$STATE/www"
echo "hello from inside $NS" > "$STATE/www/index.html"

ip netns add "$NS"
# 127.0.0.1 only exists once lo has been up: bring it up, bind, then break it.
ip -n "$NS" link set lo up
ip netns exec "$NS" setsid -f python3 -m http.server --bind 127.0.0.1 --directory "$STATE/www" "$PORT" \
  >/dev/null 2>&1 </dev/null
for _ in $(seq 1 50); do
  if ip netns exec "$NS" ss -Hltn "sport = :$PORT" | grep -q .; then
    break
  fi
  sleep 0.2
done
if ! ip netns exec "$NS" ss -Hltn "sport = :$PORT" | grep -q .; then
  echo "the service did not start listening on 127.0.0.1:$PORT inside $NS" >&2
  exit 1
fi
ip -n "$NS" link set lo down

#!/usr/bin/env bash
# The broken state: namespace `webns` is wired to the host (veth-web 10.0.6.1/24 on the
# host, eth0 10.0.6.2/24 inside) and runs a web service bound to 127.0.0.1:$PORT, the
# namespace's own loopback, so the host cannot reach it at 10.0.6.2:$PORT.
# Runs after reset.sh, so it always starts from a clean host.
set -eu
NS=webns
SUBNET=10.0.6.0/24
STATE=/run/grader-state/linux-networking/localhost-is-per-namespace

overlap=$({ ip -4 route show to match "$SUBNET"; ip -4 route show to root "$SUBNET"; } | grep -v '^default' || true)
if [ -n "$overlap" ]; then
  echo "this host already routes $SUBNET ($overlap); the drill needs that subnet for itself" >&2
  exit 1
fi

mkdir -p "$STATE/www"
echo "webns page $PAGE" > "$STATE/www/index.html"

ip netns add "$NS"
ip link add veth-web type veth peer name eth0 netns "$NS"
ip addr add 10.0.6.1/24 dev veth-web
ip link set veth-web up
ip -n "$NS" addr add 10.0.6.2/24 dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set lo up

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

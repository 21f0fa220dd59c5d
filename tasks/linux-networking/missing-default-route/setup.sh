#!/usr/bin/env bash
# The broken state: namespace `routens` is wired to the host (veth-route 10.0.3.1/24 on the
# host, eth0 10.0.3.2/24 inside) but has no default route, so it reaches 10.0.3.1 and
# nothing else. Runs after reset.sh, so it always starts from a clean host.
set -eu
NS=routens
SUBNET=10.0.3.0/24

overlap=$({ ip -4 route show to match "$SUBNET"; ip -4 route show to root "$SUBNET"; } | grep -v '^default' || true)
if [ -n "$overlap" ]; then
  echo "this host already routes $SUBNET ($overlap); the drill needs that subnet for itself" >&2
  exit 1
fi

ip netns add "$NS"
ip link add veth-route type veth peer name eth0 netns "$NS"
ip addr add 10.0.3.1/24 dev veth-route
ip link set veth-route up
ip -n "$NS" addr add 10.0.3.2/24 dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set lo up

#!/usr/bin/env bash
# controlplane, the broken state: namespace `natns` is wired to the host (veth-nat
# 10.0.4.1/24, eth0 10.0.4.2/24 inside) and has a default route via 10.0.4.1, but the host
# does not forward packets and does not masquerade them.
# Runs after reset.sh, so it always starts from a clean host.
set -eu
NS=natns
SUBNET=10.0.4.0/24
STATE=/run/grader-state/linux-networking/nat-egress

overlap=$({ ip -4 route show to match "$SUBNET"; ip -4 route show to root "$SUBNET"; } | grep -v '^default' || true)
if [ -n "$overlap" ]; then
  echo "this host already routes $SUBNET ($overlap); the drill needs that subnet for itself" >&2
  exit 1
fi

ip netns add "$NS"
ip link add veth-nat type veth peer name eth0 netns "$NS"
ip addr add 10.0.4.1/24 dev veth-nat
ip link set veth-nat up
ip -n "$NS" addr add 10.0.4.2/24 dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set lo up
ip -n "$NS" route add default via 10.0.4.1

# Remember the forwarding setting (reset puts it back), then switch forwarding off.
mkdir -p "$STATE"
if [ ! -f "$STATE/ip_forward" ]; then
  cat /proc/sys/net/ipv4/ip_forward > "$STATE/ip_forward"
fi
echo 0 > /proc/sys/net/ipv4/ip_forward

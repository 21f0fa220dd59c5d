#!/usr/bin/env bash
# controlplane, the broken state: namespace `natns` is wired to the host (veth-nat
# 10.0.4.1/24, eth0 10.0.4.2/24 inside; ../lib/netns-wire.sh did that) and has a default
# route via 10.0.4.1, but the host does not forward packets and does not masquerade them.
# $NS, $NET and $STATE are the task's params ns, net and state.
set -eu

ip -n "$NS" route add default via "10.0.$NET.1"

# Remember the forwarding setting (reset puts it back), then switch forwarding off.
mkdir -p "$STATE"
if [ ! -f "$STATE/ip_forward" ]; then
  cat /proc/sys/net/ipv4/ip_forward > "$STATE/ip_forward"
fi
echo 0 > /proc/sys/net/ipv4/ip_forward

#!/usr/bin/env bash
# The wiring several drills of this pack share: namespace $NS joined to the host by a veth
# pair, the host end $VETH with 10.0.$NET.1/24, the other end `eth0` inside $NS with
# 10.0.$NET.2/24, both up, and the namespace's loopback up. The values come from the task's
# params ns, veth and net. Refuses a host whose own network already uses 10.0.$NET.0/24.
# Runs after netns-teardown.sh, so it always starts from a clean host.
set -eu
SUBNET=10.0.$NET.0/24

overlap=$({ ip -4 route show to match "$SUBNET"; ip -4 route show to root "$SUBNET"; } | grep -v '^default' || true)
if [ -n "$overlap" ]; then
  echo "this host already routes $SUBNET ($overlap); the drill needs that subnet for itself" >&2
  exit 1
fi

ip netns add "$NS"
ip link add "$VETH" type veth peer name eth0 netns "$NS"
ip addr add "10.0.$NET.1/24" dev "$VETH"
ip link set "$VETH" up
ip -n "$NS" addr add "10.0.$NET.2/24" dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set lo up

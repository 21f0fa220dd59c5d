#!/usr/bin/env bash
# The broken state: namespace `appns` is wired to the host (veth-app 10.0.5.1/24 on the
# host, eth0 10.0.5.2/24 inside) and also holds the app subnet 10.0.$APP_NET.0/24
# (10.0.$APP_NET.1 inside), but the host's route for the app subnet points at eth0.
# Runs after reset.sh, so it always starts from a clean host.
set -eu
NS=appns
SUBNET=10.0.5.0/24
APP_SUBNET=10.0.$APP_NET.0/24
STATE=/run/grader-state/linux-networking/wrong-route-device

for net in "$SUBNET" "$APP_SUBNET"; do
  overlap=$({ ip -4 route show to match "$net"; ip -4 route show to root "$net"; } | grep -v '^default' || true)
  if [ -n "$overlap" ]; then
    echo "this host already routes $net ($overlap); the drill needs that subnet for itself" >&2
    exit 1
  fi
done

ip netns add "$NS"
ip link add veth-app type veth peer name eth0 netns "$NS"
ip addr add 10.0.5.1/24 dev veth-app
ip link set veth-app up
ip -n "$NS" addr add 10.0.5.2/24 dev eth0
ip -n "$NS" addr add "10.0.$APP_NET.1/24" dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set lo up
mkdir -p "$STATE"
echo "$APP_SUBNET" > "$STATE/app_subnet"  # reset removes this route whatever its seed
ip route add "$APP_SUBNET" dev eth0

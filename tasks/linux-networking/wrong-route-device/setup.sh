#!/usr/bin/env bash
# The broken state: namespace `appns` is wired to the host (veth-app 10.0.5.1/24 on the
# host, eth0 10.0.5.2/24 inside; ../lib/netns-wire.sh did that) and also holds the app
# subnet 10.0.$APP_NET.0/24 (10.0.$APP_NET.1 inside), but the host's route for the app
# subnet points at eth0. $NS and $STATE are the task's params ns and state.
set -eu
APP_SUBNET=10.0.$APP_NET.0/24

overlap=$({ ip -4 route show to match "$APP_SUBNET"; ip -4 route show to root "$APP_SUBNET"; } | grep -v '^default' || true)
if [ -n "$overlap" ]; then
  echo "this host already routes $APP_SUBNET ($overlap); the drill needs that subnet for itself" >&2
  exit 1
fi

ip -n "$NS" addr add "10.0.$APP_NET.1/24" dev eth0
mkdir -p "$STATE"
echo "$APP_SUBNET" > "$STATE/app_subnet"  # reset removes this route whatever its seed
ip route add "$APP_SUBNET" dev eth0

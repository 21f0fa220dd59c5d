#!/usr/bin/env bash
# Remove everything this drill creates: the namespace `appns`, anything running in it,
# the veth pair (host end `veth-app`) and every host route inside the app subnet
# 10.0.$APP_NET.0/24 (and in the one setup recorded, should it have run with another
# seed), wherever they point. Safe to run any number of times.
set -u
NS=appns
APP_SUBNET=10.0.$APP_NET.0/24
STATE=/run/grader-state/linux-networking/wrong-route-device

if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
  for _ in $(seq 1 25); do
    pids=$(ip netns pids "$NS")
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086  # one pid per word on purpose
    kill $pids 2>/dev/null
    sleep 0.2
  done
  ip netns pids "$NS" | xargs -r kill -9 2>/dev/null
  ip netns del "$NS"
fi
for _ in $(seq 1 25); do
  ip link show dev veth-app >/dev/null 2>&1 || break
  ip link del dev veth-app 2>/dev/null
  sleep 0.2
done

subnets=$APP_SUBNET
if [ -f "$STATE/app_subnet" ]; then
  subnets="$subnets $(cat "$STATE/app_subnet")"
fi
for subnet in $subnets; do
  # `to root P` lists the routes for P and for every prefix inside it.
  for _ in $(seq 1 20); do
    route=$(ip -4 route show to root "$subnet" | head -n 1)
    [ -z "$route" ] && break
    ip route del "${route%% *}" || break
  done
done
rm -rf "$STATE"
rmdir /run/grader-state/linux-networking /run/grader-state 2>/dev/null
exit 0

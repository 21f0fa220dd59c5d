#!/usr/bin/env bash
# This drill's own part of the reset: remove every host route inside the app subnet
# 10.0.$APP_NET.0/24 (and in the one setup recorded, should it have run with another seed),
# wherever they point. Runs before ../lib/netns-teardown.sh, which removes the namespace
# `appns`, anything running in it, the veth pair and the state folder $STATE (the task's
# param state) this reads. Safe to run any number of times.
set -u
APP_SUBNET=10.0.$APP_NET.0/24

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
exit 0

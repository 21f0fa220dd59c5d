#!/usr/bin/env bash
# Remove everything this drill creates: the namespace `routens`, anything running in it
# and the veth pair (host end `veth-route`). Safe to run any number of times.
set -u
NS=routens

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
# The namespace takes the veth pair with it, asynchronously: delete the host end now.
for _ in $(seq 1 25); do
  ip link show dev veth-route >/dev/null 2>&1 || break
  ip link del dev veth-route 2>/dev/null
  sleep 0.2
done
exit 0

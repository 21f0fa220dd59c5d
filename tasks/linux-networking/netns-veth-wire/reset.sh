#!/usr/bin/env bash
# Remove everything this drill (setup or solution) creates: the namespace `myns`, the
# processes in it and both ends of the veth pair. Safe to run any number of times.
set -u
NS=myns

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

# A deleted namespace takes its veth ends with it, but asynchronously; delete the ends
# left in this namespace (for example both ends, if one was never moved) right away.
for link in veth-host veth-container; do
  for _ in $(seq 1 25); do
    ip link show dev "$link" >/dev/null 2>&1 || break
    ip link del dev "$link" 2>/dev/null
    sleep 0.2
  done
done
exit 0

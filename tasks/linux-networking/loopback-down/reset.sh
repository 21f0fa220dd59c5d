#!/usr/bin/env bash
# Remove everything this drill creates: the namespace `loopns`, the service running in
# it and the folder it serves. Safe to run any number of times.
set -u
NS=loopns
STATE=/run/grader-state/linux-networking/loopback-down

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
rm -rf "$STATE"
rmdir /run/grader-state/linux-networking /run/grader-state 2>/dev/null
exit 0

#!/usr/bin/env bash
# controlplane, this drill's own part of the reset: remove every NAT and FORWARD rule that
# names 10.0.4.0/24 and put net.ipv4.ip_forward back to the value it had before setup.
# Runs before ../lib/netns-teardown.sh, which removes the namespace `natns`, anything
# running in it, the veth pair and the state folder $STATE (the task's param state) this
# reads. $NET is the task's param net. Safe to run any number of times.
set -u
SUBNET=10.0.$NET.0/24

# Rules that mention the drill's subnet are the drill's (setup never adds one; the
# solution and the candidate do). `iptables -S` prints them as arguments; swap -A for -D.
# xargs (not word splitting) keeps a quoted --comment in one piece.
if command -v iptables >/dev/null 2>&1; then
  for table_chain in nat:POSTROUTING filter:FORWARD; do
    table=${table_chain%%:*} chain=${table_chain#*:}
    for _ in $(seq 1 20); do
      rule=$(iptables -w 5 -t "$table" -S "$chain" 2>/dev/null | grep -F -e " $SUBNET" | head -n 1)
      [ -z "$rule" ] && break
      printf '%s\n' "${rule/#-A /-D }" | xargs iptables -w 5 -t "$table" || break
    done
  done
fi

if [ -f "$STATE/ip_forward" ]; then
  cat "$STATE/ip_forward" > /proc/sys/net/ipv4/ip_forward
fi
exit 0

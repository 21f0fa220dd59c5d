#!/usr/bin/env bash
# controlplane: remove everything this drill creates (the namespace `natns`, anything
# running in it, the veth pair, every NAT and FORWARD rule that names 10.0.4.0/24) and put
# net.ipv4.ip_forward back to the value it had before setup. Safe to run any number of times.
set -u
NS=natns
SUBNET=10.0.4.0/24
STATE=/run/grader-state/linux-networking/nat-egress

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
  ip link show dev veth-nat >/dev/null 2>&1 || break
  ip link del dev veth-nat 2>/dev/null
  sleep 0.2
done

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
rm -rf "$STATE"
rmdir /run/grader-state/linux-networking /run/grader-state 2>/dev/null
exit 0

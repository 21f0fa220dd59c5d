#!/usr/bin/env bash
# node01: stop the address-echo service, remove its files and any route into the drill's
# subnet 10.0.$NET.0/24 (setup adds none; a candidate who routes back instead of using NAT
# does). $NET is the task's param net. Safe to run twice.
set -u
SUBNET=10.0.${NET:?the task needs a net param}.0/24
for _ in $(seq 1 20); do
  # `to root P` lists the routes for P and for every prefix inside it.
  route=$(ip -4 route show to root "$SUBNET" | head -n 1)
  [ -z "$route" ] && break
  ip route del "${route%% *}" || break
done
STATE=/run/grader-state/linux-networking/nat-egress-node01  # node01's own, not the param state
if [ -f "$STATE/echo.pid" ]; then
  pid=$(cat "$STATE/echo.pid")
  if grep -q whoami.py "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 25); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null
  fi
fi
rm -rf "$STATE"
rmdir /run/grader-state/linux-networking /run/grader-state 2>/dev/null
exit 0

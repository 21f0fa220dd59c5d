#!/usr/bin/env bash
# node01: stop the address-echo service and remove its files. Safe to run twice.
set -u
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

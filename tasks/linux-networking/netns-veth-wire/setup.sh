#!/usr/bin/env bash
# The broken state: namespace `myns` ($NS, the task's param ns) exists, and nothing
# connects it to anything. Runs after ../lib/netns-teardown.sh, so it always starts from a
# clean host.
set -eu
SUBNET=10.0.0.0/24

# Refuse to run on a host whose own network already uses the drill's subnet.
overlap=$({ ip -4 route show to match "$SUBNET"; ip -4 route show to root "$SUBNET"; } | grep -v '^default' || true)
if [ -n "$overlap" ]; then
  echo "this host already routes $SUBNET ($overlap); the drill needs that subnet for itself" >&2
  exit 1
fi

ip netns add "$NS"

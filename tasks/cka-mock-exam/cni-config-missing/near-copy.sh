#!/usr/bin/env bash
# On controlplane: a near miss. Copy the controlplane's CNI config to node01 as it is,
# subnet included.
set -euo pipefail
conf=$(find /etc/cni/net.d -maxdepth 1 -type f -name '*.conflist' | sort | head -n 1)
# shellcheck disable=SC2029  # the path is meant to be expanded here, on controlplane
ssh node01 "cat > '$conf'" < "$conf"

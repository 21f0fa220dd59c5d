#!/usr/bin/env bash
# On controlplane: rebuild node01's CNI config from the controlplane's own one, with
# node01's podCIDR in place of the controlplane's, and write it to node01 over ssh.
set -euo pipefail
node01=${GRADER_HOST_NODE01_NODE:-node01}
cp_node=${GRADER_HOST_CONTROLPLANE_NODE:-controlplane}
cidr=$(kubectl get node "$node01" -o jsonpath='{.spec.podCIDR}')
cp_cidr=$(kubectl get node "$cp_node" -o jsonpath='{.spec.podCIDR}')
conf=$(find /etc/cni/net.d -maxdepth 1 -type f -name '*.conflist' | sort | head -n 1)
# shellcheck disable=SC2029  # the path is meant to be expanded here, on controlplane
sed "s#\"$cp_cidr\"#\"$cidr\"#" "$conf" | ssh node01 "cat > '$conf'"

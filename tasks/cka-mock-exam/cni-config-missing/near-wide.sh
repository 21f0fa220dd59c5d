#!/usr/bin/env bash
# On controlplane: a near miss. Write node01's CNI config with the cluster's whole pod
# range (kubeadm's podSubnet) instead of node01's own podCIDR.
set -euo pipefail
cp_node=${GRADER_HOST_CONTROLPLANE_NODE:-controlplane}
cp_cidr=$(kubectl get node "$cp_node" -o jsonpath='{.spec.podCIDR}')
range=$(kubectl -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' \
  | sed -n 's/^ *podSubnet: *//p' | head -n 1)
conf=$(find /etc/cni/net.d -maxdepth 1 -type f -name '*.conflist' | sort | head -n 1)
# shellcheck disable=SC2029  # the path is meant to be expanded here, on controlplane
sed "s#\"$cp_cidr\"#\"$range\"#" "$conf" | ssh node01 "cat > '$conf'"

#!/usr/bin/env bash
# Give cluster DNS back what setup took: the kube-dns Service (recreated from the saved
# copy when it is gone or lost its ClusterIP), its k8s-app=kube-dns selector, CoreDNS's
# replicas, the CoreDNS pods without the misspelt label; delete the task's namespace and
# wait until CoreDNS is ready.  Safe to run twice and after a half-done fix.
set -euo pipefail
dir=/var/tmp/cka-mock-exam/dns-not-answering
ns="${NS:?}"
typo="${TYPO_KEY:?}"
dns_ip=$(sed -n 's/^- *//p' <(sed -n '/^clusterDNS:/,/^[a-z]/p' /var/lib/kubelet/config.yaml) | head -n 1)

if [[ -f $dir/kube-dns.json ]]; then
  ip=$(kubectl -n kube-system get service kube-dns -o jsonpath='{.spec.clusterIP}' 2>/dev/null || true)
  if [[ -n $dns_ip && $ip != "$dns_ip" ]]; then
    kubectl -n kube-system delete service kube-dns --ignore-not-found --wait=true
    kubectl create -f "$dir/kube-dns.json"
  fi
fi
kubectl -n kube-system patch service kube-dns --type=json \
  -p '[{"op":"replace","path":"/spec/selector","value":{"k8s-app":"kube-dns"}}]'
replicas=2
if [[ -s $dir/replicas ]]; then replicas=$(cat "$dir/replicas"); fi
kubectl -n kube-system scale deployment coredns --replicas="$replicas"
kubectl -n kube-system label pods -l k8s-app=kube-dns "$typo-" >/dev/null 2>&1 || true
# marked for deletion first (no new pods), its pods removed without their grace period:
# the namespace is gone in seconds instead of after each pod's shutdown
kubectl delete namespace "$ns" --ignore-not-found --wait=false
kubectl -n "$ns" delete pods --all --force --grace-period=0 >/dev/null 2>&1 || true
kubectl wait --for=delete namespace/"$ns" --timeout=120s
kubectl -n kube-system rollout status deployment coredns --timeout=150s
rm -rf "$dir"
if [[ -d /var/tmp/cka-mock-exam ]]; then rmdir --ignore-fail-on-non-empty /var/tmp/cka-mock-exam; fi

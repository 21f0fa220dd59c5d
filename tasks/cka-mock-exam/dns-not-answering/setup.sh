#!/usr/bin/env bash
# Remember the kube-dns Service and CoreDNS's replica count (the first time only), create
# the task's namespace with a Service and a client pod, then break cluster DNS twice:
# CoreDNS scaled to zero, and the kube-dns Service's selector key misspelt.
# Safe to run twice.
set -euo pipefail
dir=/var/tmp/cka-mock-exam/dns-not-answering
ns="${NS:?}"
typo="${TYPO_KEY:?}"

if [[ ! -f $dir/kube-dns.json ]]; then
  selector=$(kubectl -n kube-system get service kube-dns -o jsonpath='{.spec.selector}')
  if [[ $selector != '{"k8s-app":"kube-dns"}' ]]; then
    echo "the kube-dns Service selects $selector, not k8s-app=kube-dns: not saving it" >&2
    exit 1
  fi
  mkdir -p "$dir"
  kubectl -n kube-system get service kube-dns -o json | python3 -c '
import json, sys
svc = json.load(sys.stdin)
meta = svc["metadata"]
svc["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
svc["metadata"].get("annotations", {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
svc.pop("status", None)
print(json.dumps(svc))' > "$dir/kube-dns.json.tmp"
  kubectl -n kube-system get deployment coredns -o jsonpath='{.spec.replicas}' > "$dir/replicas"
  mv "$dir/kube-dns.json.tmp" "$dir/kube-dns.json"
fi

# marked for deletion first (no new pods), its pods removed without their grace period:
# the namespace is gone in seconds instead of after each pod's shutdown
kubectl delete namespace "$ns" --ignore-not-found --wait=false
kubectl -n "$ns" delete pods --all --force --grace-period=0 >/dev/null 2>&1 || true
kubectl wait --for=delete namespace/"$ns" --timeout=120s
for _ in $(seq 15); do
  kubectl apply -f "$dir/app.yaml" && break
  sleep 2
done
kubectl -n "$ns" wait pod/client --for=condition=Ready --timeout=150s

kubectl -n kube-system scale deployment coredns --replicas=0
kubectl -n kube-system patch service kube-dns --type=json \
  -p "[{\"op\":\"replace\",\"path\":\"/spec/selector\",\"value\":{\"$typo\":\"kube-dns\"}}]"
# done when no CoreDNS pod is ready and none is left that is not terminating (a pod the
# kubelet never finishes deleting is no server: it is not ready and has no endpoint)
for _ in $(seq 45); do
  pods=$(kubectl -n kube-system get pods -l k8s-app=kube-dns \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.status.containerStatuses[0].ready}{"\n"}{end}')
  if ! grep -Eq '^\||\|true$' <<<"$pods"; then exit 0; fi
  sleep 2
done
echo "CoreDNS pods still serving 90s after scaling to zero" >&2
exit 1

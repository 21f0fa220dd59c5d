#!/bin/bash
# Every trace: the namespace (claim, pod), every volume of the class or of the namespace's
# claims with its folder on its node (reclaim policy Retain keeps them), the class.
set -u
# marked for deletion first (no new pods), its pods removed without their grace period:
# the namespace is gone in seconds instead of after each pod's shutdown
kubectl delete namespace "$NS" --ignore-not-found --wait=false
kubectl -n "$NS" delete pods --all --force --grace-period=0 >/dev/null 2>&1 || true
kubectl wait --for=delete namespace/"$NS" --timeout=120s
rows=$(kubectl get pv -o jsonpath='{range .items[*]}{.metadata.name}|{.spec.storageClassName}|{.spec.claimRef.namespace}|{.spec.hostPath.path}{.spec.local.path}|{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}{"\n"}{end}')
while IFS='|' read -r pv class claim_ns path node; do
    [ -n "$pv" ] || continue
    [ "$class" = "$SC" ] || [ "$claim_ns" = "$NS" ] || continue
    kubectl delete pv "$pv" --ignore-not-found --wait=true --timeout=60s
    case "$path" in
        */pvc-*_"$NS"_*) ;;          # a folder the provisioner made for this task's claim
        *) continue ;;               # any other path is not ours to remove
    esac
    if [ -z "$node" ] || [ "$node" = "$(hostname)" ]; then
        rm -rf -- "$path"
    else
        ssh -n -o BatchMode=yes -o ConnectTimeout=5 "$node" rm -rf -- "$path"
    fi
done <<< "$rows"
kubectl delete storageclass "$SC" --ignore-not-found

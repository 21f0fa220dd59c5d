#!/usr/bin/env bash
# Give the kubectl context back the namespace it had before setup (or none), make that
# context current again, delete a context the candidate named after the namespace, and
# delete the task's namespace.  Safe to run twice.
set -euo pipefail
saved=/var/tmp/cka-road-trip/default-namespace-context.saved
ns="${NS:?NS is not set}"

if [[ -f $saved ]]; then
  context=$(sed -n 1p "$saved")
  namespace=$(sed -n 2p "$saved")
  kubectl config use-context "$context"
  if [[ -n $namespace ]]; then
    kubectl config set-context "$context" --namespace="$namespace"
  else
    kubectl config unset "contexts.$context.namespace"
  fi
  # a context named after the namespace is the candidate's (setup makes none)
  if [[ $ns != "$context" ]] && kubectl config get-contexts -o name | grep -qxF -- "$ns"; then
    kubectl config delete-context "$ns"
  fi
  rm -f "$saved"
  rmdir --ignore-fail-on-non-empty "$(dirname "$saved")"
fi

# marked for deletion first (no new pods), its pods removed without their grace period:
# the namespace is gone in seconds instead of after each pod's shutdown
kubectl delete namespace "$ns" --ignore-not-found --wait=false
kubectl -n "$ns" delete pods --all --force --grace-period=0 >/dev/null 2>&1 || true
kubectl wait --for=delete namespace/"$ns" --timeout=120s

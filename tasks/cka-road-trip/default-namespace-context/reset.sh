#!/usr/bin/env bash
# Give the kubectl context back the namespace it had before setup (or none), make that
# context current again, and delete the task's namespace.  Safe to run twice.
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
  rm -f "$saved"
  rmdir --ignore-fail-on-non-empty "$(dirname "$saved")"
fi

kubectl delete namespace "$ns" --ignore-not-found --wait=true --timeout=120s

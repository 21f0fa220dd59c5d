#!/usr/bin/env bash
# Remember which namespace the current kubectl context had (only the first time, so a
# second setup does not overwrite the original), create the task's namespace with a
# marker object in it, and point the current context at "default".
set -euo pipefail
saved=/var/tmp/cka-road-trip/default-namespace-context.saved
ns="${NS:?NS is not set}"

context=$(kubectl config current-context)
if [[ ! -f $saved ]]; then
  mkdir -p "$(dirname "$saved")"
  namespace=$(kubectl config view --minify -o jsonpath='{.contexts[0].context.namespace}')
  printf '%s\n%s\n' "$context" "$namespace" > "$saved"
fi

kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$ns" create configmap context-marker --from-literal=task=default-namespace-context \
  --dry-run=client -o yaml | kubectl apply -f -
kubectl config set-context --current --namespace=default

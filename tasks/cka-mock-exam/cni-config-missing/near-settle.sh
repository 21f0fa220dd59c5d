#!/usr/bin/env bash
# On controlplane, after a near miss's wrong config: wait until the runtime has tried it,
# that is until the pod is Ready or a sandbox failure newer than the config names the
# bridge (the wrong subnet's gateway clashes with cni0's address), 60 s at most.
set -uo pipefail
ns="${NS:?}"
pod="${POD:?}"
for _ in $(seq 30); do
  ready=$(kubectl -n "$ns" get pod "$pod" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
  [[ $ready == True ]] && exit 0
  kubectl -n "$ns" get events --field-selector "involvedObject.name=$pod,reason=FailedCreatePodSandBox" \
    -o jsonpath='{range .items[*]}{.message}{"\n"}{end}' 2>/dev/null | grep -q 'already has an IP address' && exit 0
  sleep 2
done
exit 0

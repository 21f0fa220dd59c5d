#!/bin/bash
# The file the pod wrote, read from the claim's volume on the node that runs the pod
# (not through the pod): the data is really in the volume the claim is bound to.
set -u
pv=$(kubectl -n "$NS" get pvc "$APP-data" -o jsonpath='{.spec.volumeName}')
[ -n "$pv" ] || { echo "the claim $APP-data is bound to no volume" >&2; exit 1; }
path=$(kubectl get pv "$pv" -o jsonpath='{.spec.hostPath.path}{.spec.local.path}')
node=$(kubectl -n "$NS" get pod "$APP" -o jsonpath='{.spec.nodeName}')
phase=$(kubectl -n "$NS" get pod "$APP" -o jsonpath='{.status.phase}')
[ "$phase" = Running ] || { echo "pod $APP is ${phase:-missing}, not Running" >&2; exit 1; }
[ -n "$path" ] && [ -n "$node" ] || { echo "volume $pv has no host path, or the pod no node" >&2; exit 1; }
echo "volume $pv at $node:$path"
if [ "$node" = "$(hostname)" ]; then
    cat -- "$path/proof.txt"
else
    ssh -n -o BatchMode=yes -o ConnectTimeout=5 "$node" cat -- "$path/proof.txt"
fi

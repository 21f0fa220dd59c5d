#!/usr/bin/env bash
# Keep a copy of the working kube-scheduler manifest (the first time only), point its
# --kubeconfig at a file that does not exist, wait until the kubelet runs the broken
# pod, then create the task's pod, which nothing schedules now.  Safe to run twice.
set -euo pipefail
manifest=/etc/kubernetes/manifests/kube-scheduler.yaml
saved=/var/tmp/cka-mock-exam/scheduler-manifest-typo/kube-scheduler.yaml
good=/etc/kubernetes/scheduler.conf
bad="${BAD_CONF:?BAD_CONF is not set}"
node="${GRADER_HOST_CONTROLPLANE_NODE:?}"
ns="${NS:?}"

# marked for deletion first (no new pods), its pods removed without their grace period:
# the namespace is gone in seconds instead of after each pod's shutdown
kubectl delete namespace "$ns" --ignore-not-found --wait=false
kubectl -n "$ns" delete pods --all --force --grace-period=0 >/dev/null 2>&1 || true
kubectl wait --for=delete namespace/"$ns" --timeout=120s
if [[ ! -f $saved ]]; then
  if ! grep -q -- "- --kubeconfig=${good}\$" "$manifest"; then
    echo "$manifest does not pass --kubeconfig=$good: not the working manifest, not saving it" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$saved")"
  cp -p "$manifest" "$saved"
fi
if [[ -e $bad ]] && cmp -s "$bad" "$good"; then
  rm -f "$bad"   # a copy left by an earlier attempt
fi
sed -i -E "s|^([[:space:]]*- --kubeconfig=).*|\1${bad}|" "$manifest"

# the kubelet replaces the pod: wait until its mirror pod shows the broken flag, not ready
# (a crash-looping container runs for a moment at each restart: one quiet look is enough)
broken=0
for _ in $(seq 60); do
  state=$(kubectl -n kube-system get pod "kube-scheduler-$node" \
    -o jsonpath='{.spec.containers[0].command} {.status.containerStatuses[0].ready}' 2>/dev/null || true)
  if [[ $state == *"--kubeconfig=$bad"* && $state != *" true" ]] &&
     [[ -z $(crictl ps --name kube-scheduler --state running -q 2>/dev/null) ]]; then
    broken=1
    break
  fi
  sleep 2
done
if [[ $broken != 1 ]]; then
  echo "kube-scheduler still runs 120s after its manifest was broken" >&2
  exit 1
fi

for _ in $(seq 15); do
  kubectl apply -f /var/tmp/cka-mock-exam/scheduler-manifest-typo/pod.yaml && exit 0
  sleep 2
done
exit 1
